#!/usr/bin/env bash
# End to end on kind: cluster → KServe (RawDeployment) → golemline chart → sample request → metric scraped.
# Needs a Docker engine, kind, kubectl and helm. Usage: tests/e2e/run_kind.sh   (KEEP_CLUSTER=1 to keep it)
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER=${CLUSTER:-golemline-e2e}
NAMESPACE=${NAMESPACE:-golemline}
KSERVE_VERSION=${KSERVE_VERSION:-v0.15.2}
CERT_MANAGER_VERSION=${CERT_MANAGER_VERSION:-v1.16.2}
IMAGE=golemline:e2e
RELEASE=golems
PIPELINE=golems-golemline

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is required" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "e2e: no Docker engine is reachable" >&2; exit 2; }

cleanup() {
  [ -n "${PF_PID:-}" ] && kill "$PF_PID" 2>/dev/null || true
  [ -n "${PROM:-}" ] && docker rm -f "$PROM" >/dev/null 2>&1 || true
  [ "${KEEP_CLUSTER:-0}" = 1 ] || kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== cluster"
kind create cluster --name "$CLUSTER" --wait 120s

echo "== images"
docker build -f predictors/Dockerfile --build-arg CUDA_IMAGE=ubuntu:22.04 -t "$IMAGE" .
docker build -t golemline-operator:e2e operator/
kind load docker-image "$IMAGE" golemline-operator:e2e --name "$CLUSTER"

echo "== KServe $KSERVE_VERSION (RawDeployment) with cert-manager $CERT_MANAGER_VERSION"
kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml"
kubectl -n cert-manager wait --for=condition=Available deployment --all --timeout=300s
kubectl apply --server-side -f "https://github.com/kserve/kserve/releases/download/$KSERVE_VERSION/kserve.yaml"
kubectl -n kserve wait --for=condition=Available deployment --all --timeout=300s
kubectl apply --server-side -f "https://github.com/kserve/kserve/releases/download/$KSERVE_VERSION/kserve-cluster-resources.yaml"
kubectl -n kserve patch configmap inferenceservice-config --type merge \
  -p '{"data":{"deploy":"{\"defaultDeploymentMode\":\"RawDeployment\"}"}}'

echo "== golemline chart"
helm install "$RELEASE" charts/golemline -n "$NAMESPACE" --create-namespace \
  --set image.repository=golemline --set image.tag=e2e --set image.pullPolicy=Never \
  --set operator.image.repository=golemline-operator --set operator.image.tag=e2e \
  --set networkPolicy.enabled=false --wait --timeout 10m
kubectl -n "$NAMESPACE" wait --for=condition=Ready "golempipeline/$PIPELINE" --timeout=20m

echo "== a spoken request through the transformer"
kubectl -n "$NAMESPACE" port-forward "svc/$PIPELINE-pipeline-predictor" 18080:80 >/dev/null &
PF_PID=$!
sleep 3
python -m golemline.serving.probe --url http://127.0.0.1:18080 --audio samples/weather.wav --expect-intent weather

echo "== a golem metric, scraped by a real Prometheus"
kubectl -n "$NAMESPACE" port-forward "svc/$PIPELINE-scribe-predictor" 18081:80 >/dev/null &
sleep 3
CONFIG=$(mktemp)
printf 'global: {scrape_interval: 2s}\nscrape_configs:\n  - job_name: scribe\n    static_configs: [{targets: ["127.0.0.1:18081"]}]\n' > "$CONFIG"
PROM=golemline-e2e-prometheus
docker run -d --rm --name "$PROM" --network host -v "$CONFIG:/etc/prometheus/prometheus.yml:ro" prom/prometheus \
  --config.file=/etc/prometheus/prometheus.yml --web.listen-address=127.0.0.1:19090 >/dev/null
for _ in $(seq 1 30); do
  if curl -sf 'http://127.0.0.1:19090/api/v1/query?query=golemline_requests_total' | grep -q '"model":"scribe"'; then
    echo "golemline_requests_total{model=\"scribe\"} scraped"; SCRAPED=1; break
  fi
  sleep 2
done
[ "${SCRAPED:-0}" = 1 ] || { echo "e2e: the scribe's metrics were not scraped" >&2; exit 1; }

echo "== helm test"
helm test "$RELEASE" -n "$NAMESPACE" --timeout 10m
echo "e2e: passed"
