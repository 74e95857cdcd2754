"""The device price table: the shipped default (`prices.yaml`, sources and dates inside) or the user's own file."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from golemline.errors import ConfigError
from golemline.yamlfile import parse_yaml, read_yaml

KINDS = ("cpu", "gpu", "mig")
GIB = 1024**3


@dataclass(frozen=True)
class Device:
    name: str
    kind: str
    memory_bytes: int
    price_per_hour: float
    resource: str | None = None
    node_selector: dict[str, str] = field(default_factory=dict)
    speed: float = 1.0
    source: str = ""
    date: str = ""


@dataclass(frozen=True)
class PriceTable:
    devices: list[Device]
    overhead_bytes: int
    source: str

    def cheapest_cpu(self) -> Device | None:
        cpus = [d for d in self.devices if d.kind == "cpu"]
        return min(cpus, key=lambda d: d.price_per_hour) if cpus else None


def _device(entry: Any, where: str) -> Device:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: each device must be a mapping")
    try:
        device = Device(name=str(entry["name"]), kind=str(entry["kind"]),
                        memory_bytes=int(float(entry["memory_gib"]) * GIB),
                        price_per_hour=float(entry["price_per_hour"]), resource=entry.get("resource"),
                        node_selector={str(k): str(v) for k, v in (entry.get("node_selector") or {}).items()},
                        speed=float(entry.get("speed", 1.0)), source=str(entry.get("source", "")),
                        date=str(entry.get("date", "")))
    except KeyError as exc:
        raise ConfigError(f"{where}: device {entry.get('name', '?')!r} lacks {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: device {entry.get('name', '?')!r}: {exc}") from exc
    if device.kind not in KINDS:
        raise ConfigError(f"{where}: device {device.name!r}: kind must be one of {', '.join(KINDS)}")
    if device.kind != "cpu" and not device.resource:
        raise ConfigError(f"{where}: device {device.name!r}: a {device.kind} needs its `resource` "
                          "(e.g. nvidia.com/gpu or nvidia.com/mig-1g.10gb)")
    if device.price_per_hour < 0 or device.memory_bytes <= 0 or device.speed <= 0:
        raise ConfigError(f"{where}: device {device.name!r}: price ≥ 0, memory and speed > 0 please")
    return device


def load(path: Path | None = None) -> PriceTable:
    """The table at `path`, or the shipped default."""
    if path is None:
        where = "default prices"
        data = parse_yaml(resources.files("golemline.plan").joinpath("prices.yaml").read_text(), where, ConfigError)
    else:
        where, data = str(path), read_yaml(path, "the price table", ConfigError)
    if not isinstance(data, dict) or not isinstance(data.get("devices"), list) or not data["devices"]:
        raise ConfigError(f"{where}: expected a mapping with a non-empty `devices` list")
    devices = [_device(entry, where) for entry in data["devices"]]
    return PriceTable(devices, int(float(data.get("overhead_gib", 1.0)) * GIB), where)
