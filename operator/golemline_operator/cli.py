"""`golemline-operator`: run the GolemPipeline operator (kopf) against the cluster in the current kube config.

One replica, standalone (no peering), liveness only — kopf's own deployment advice. Without a reachable
Kubernetes configuration it says so in one line and exits 2, instead of kopf's retry tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="golemline-operator", description=__doc__)
    parser.add_argument("--namespace", action="append", help="watch only this namespace (repeatable; default all)")
    parser.add_argument("--liveness-port", type=int, default=8080, help="serves /healthz for the liveness probe")
    args = parser.parse_args(argv)

    import kopf

    from golemline_operator.client import ConfigurationMissing, configuration

    try:
        configuration()
    except ConfigurationMissing as exc:
        print(f"golemline-operator: error: {str(exc).splitlines()[0]}; run it in a cluster (service account) or "
              "point KUBECONFIG at a kube config file", file=sys.stderr)
        return 2
    import golemline_operator.handlers  # noqa: F401  (registers the handlers)

    kopf.run(standalone=True, clusterwide=not args.namespace, namespaces=args.namespace or (),
             liveness_endpoint=f"http://0.0.0.0:{args.liveness_port}/healthz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
