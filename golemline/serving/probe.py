"""Send one audio file through a deployed pipeline and check the answer (helm test, e2e script).

python -m golemline.serving.probe --url http://<pipeline>-predictor.<ns>.svc.cluster.local --audio FILE
    [--expect-intent weather] [--retries 30]
Exits 0 when the pipeline answers with status ok (and the expected intent); 1 otherwise, saying why.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path

import httpx

from golemline.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m golemline.serving.probe", description=__doc__)
    parser.add_argument("--url", required=True, help="base URL of the pipeline's predictor service")
    parser.add_argument("--audio", type=Path, required=True, help="the audio file to send")
    parser.add_argument("--expect-intent", help="fail unless the pipeline answers with this intent")
    parser.add_argument("--retries", type=int, default=30, help="attempts, 5 s apart, while the service starts")
    args = parser.parse_args(argv)
    body = {"instances": [{"audio": base64.b64encode(args.audio.read_bytes()).decode()}]}
    token = Settings.from_env().server.auth_token  # GOLEM_AUTH_TOKEN, read like every other setting
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    last = "no attempt made"
    for _ in range(max(1, args.retries)):
        try:
            response = httpx.post(f"{args.url.rstrip('/')}/v1/models/pipeline:predict", json=body, headers=headers,
                                  timeout=120)
            if response.status_code == 200:
                [result] = response.json()["predictions"]
                print(json.dumps(result, indent=2))
                if result["status"] != "ok":
                    print(f"pipeline rejected the sample: {result['rejection']}", file=sys.stderr)
                    return 1
                if args.expect_intent and result["intent"]["label"] != args.expect_intent:
                    print(f"expected intent {args.expect_intent}, got {result['intent']['label']}", file=sys.stderr)
                    return 1
                return 0
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(5)
    print(f"no answer from {args.url}: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
