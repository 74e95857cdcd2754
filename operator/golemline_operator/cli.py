"""`golemline-operator`: run the GolemPipeline operator (kopf) against the cluster in the current kube config.

One replica, standalone (no peering), liveness only — kopf's own deployment advice. Without a reachable
Kubernetes configuration it says so in one line and exits 2, instead of kopf's retry tracebacks.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any

PROBE_TIMEOUT_S = 10


def unreachable(config: Any) -> str | None:
    """Why the API server cannot be used, in one sentence, or None. Asked once before kopf starts: kopf retries an
    unreachable server forever, printing a traceback for each try (225 lines over 56 s, then exit 1)."""
    import copy

    import urllib3
    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException

    probe = copy.copy(config)
    probe.retries = 0  # one try: the answer is for a person waiting at a terminal
    try:
        k8s.VersionApi(k8s.ApiClient(probe)).get_code(_request_timeout=PROBE_TIMEOUT_S)
    except ApiException as exc:
        if exc.status in (401, 403):
            return (f"the Kubernetes API server at {config.host} refused the credentials (HTTP {exc.status}); "
                    "check the kube config's user or the service account's token")
        return None  # it answered: kopf reports what else is wrong
    except urllib3.exceptions.HTTPError as exc:
        errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
        timed_out = isinstance(exc, urllib3.exceptions.TimeoutError) or "timed out" in str(exc)
        reason = errno.group(1) if errno else ("timed out" if timed_out else type(exc).__name__)
        return (f"cannot reach the Kubernetes API server at {config.host} ({reason}); "
                "check that the cluster is up and that KUBECONFIG (or the service account) points at it")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="golemline-operator", description=__doc__)
    parser.add_argument("--namespace", action="append", help="watch only this namespace (repeatable; default all)")
    parser.add_argument("--liveness-port", type=int, default=8080, help="serves /healthz for the liveness probe")
    args = parser.parse_args(argv)

    import kopf

    from golemline_operator.client import ConfigurationMissing, configuration

    try:
        config = configuration()
    except ConfigurationMissing as exc:
        print(f"golemline-operator: error: {str(exc).splitlines()[0]}; run it in a cluster (service account) or "
              "point KUBECONFIG at a kube config file", file=sys.stderr)
        return 2
    problem = unreachable(config)
    if problem:
        print(f"golemline-operator: error: {problem}", file=sys.stderr)
        return 2
    import golemline_operator.handlers  # noqa: F401  (registers the handlers)

    kopf.run(standalone=True, clusterwide=not args.namespace, namespaces=args.namespace or (),
             liveness_endpoint=f"http://0.0.0.0:{args.liveness_port}/healthz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
