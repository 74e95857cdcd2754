"""Serving: KServe model servers for the golems and the orchestrating transformer.

KServe parses the process's command line when it is imported (`kserve.model_server` calls `parse_known_args()` at
module level), so `pytest --co` or any host program's flags could be taken for KServe's (`--co` reads as
`--configure_logging`). Import it here, once, before any serving module does, with an empty command line.
"""

import sys

_argv, sys.argv = sys.argv, sys.argv[:1]
try:
    import kserve  # noqa: F401
finally:
    sys.argv = _argv
