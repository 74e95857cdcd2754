"""Serving: KServe model servers for the golems and the orchestrating transformer.

KServe reads the process's command line when it is imported, and golemline runs on a tested range of KServe
versions; `kserve_internals` deals with both, so it is imported here, before any serving module imports KServe.
"""

from golemline.serving import kserve_internals  # noqa: F401
