"""Pure builders: a GolemPipeline (spec dict) → the KServe InferenceServices that run it.

No cluster access here, so every manifest is unit-tested and schema-validated without one. Configuration flows
one way: Helm values → GolemPipeline spec → `GOLEM_*` environment → golemline's typed Settings in the pod.

The environment follows one naming rule instead of hand-kept tables: a `gating` property `minRmsDbfs` becomes
`GOLEM_GATE_MIN_RMS_DBFS`, a `batching` property `maxBatchSize` becomes `GOLEM_MAX_BATCH_SIZE` — the names golemline's
settings derive from their own fields, so every CRD property reaches the pod (tests/test_config_surfaces.py checks
that the CRD, this rule and the settings agree).
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

from golemline_operator import GOLEMS
from golemline_operator.capture import capture_env, capture_volume

API_VERSION = "serving.kserve.io/v1beta1"
PORT = 8080
GRPC_PORT = 8081  # Open Inference Protocol over gRPC (KServe's default port)
MODEL_MOUNT = "/mnt/models"

ENV_PREFIXES = {"gating": "GOLEM_GATE_", "batching": "GOLEM_", "canary": "GOLEM_CANARY_", "scribe": "GOLEM_SCRIBE_"}
"""Spec sections copied to the environment property by property (the prefix, then the property in SNAKE_CASE)."""
ACCELERATORS = ("nvidia.com/", "amd.com/", "gpu.intel.com/")
"""Extended-resource prefixes that mean "this pod has an accelerator": the one GPU decision (device and dtype)."""


INTENTS_DIR = "/etc/golemline/intents"
INTENTS_FILE = "intents.yaml"
INTENTS_ANNOTATION = "golemline.io/intents"
"""Inline `spec.intents` reach the pod as this pod annotation, projected into a file by a downwardAPI volume: no
object beyond the InferenceServices to create, own and clean up, and a change rolls the pods like any spec change."""


def intents_volume(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The volume that holds the pipeline's intents file, and the pod annotations it reads from; None without
    intents (the shipped demo domain). `spec.intents` (inline) wins over `spec.intentsConfigMap`; the CRD
    schema has already refused a bad list, and golemline refuses a bad file at start (exit 2)."""
    if spec.get("intents"):
        document = {"intents": spec["intents"], "background": spec.get("intentsBackground") or []}
        volume = {"name": "intents", "downwardAPI": {"items": [
            {"path": INTENTS_FILE, "fieldRef": {"fieldPath": f"metadata.annotations['{INTENTS_ANNOTATION}']"}}]}}
        return volume, {INTENTS_ANNOTATION: json.dumps(document, sort_keys=True)}  # JSON is YAML
    config_map = spec.get("intentsConfigMap")
    if config_map:
        return {"name": "intents", "configMap": {"name": config_map["name"], "items": [
            {"key": config_map.get("key", INTENTS_FILE), "path": INTENTS_FILE}]}}, {}
    return None


def env_name(section: str, prop: str) -> str:
    """`gating`, `minRmsDbfs` → `GOLEM_GATE_MIN_RMS_DBFS`."""
    return ENV_PREFIXES[section] + re.sub(r"(?<!^)(?=[A-Z])", "_", prop).upper()

CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                      "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"}}


def names(pipeline: str) -> dict[str, str]:
    """InferenceService name per component."""
    return {**{g: f"{pipeline}-{g}" for g in GOLEMS}, "pipeline": f"{pipeline}-pipeline",
            "monolith": f"{pipeline}-monolith"}


def predictor_url(isvc: str, namespace: str) -> str:
    """KServe (RawDeployment) exposes a predictor as the Service `<isvc>-predictor` on port 80."""
    return f"http://{isvc}-predictor.{namespace}.svc.cluster.local"


def owner_reference(body: dict[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    return {"apiVersion": body.get("apiVersion", "golemline.io/v1alpha1"), "kind": body.get("kind", "GolemPipeline"),
            "name": meta["name"], "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}


def _env_value(value: Any) -> str:
    """Lists become comma-separated (`windowsS: [10, 20, 30]` → "10,20,30"), booleans lower case."""
    if isinstance(value, list):
        return ",".join(_env_value(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _env(pairs: dict[str, Any]) -> list[dict[str, str]]:
    return [{"name": k, "value": _env_value(v)} for k, v in pairs.items() if v is not None]


def _common_env(spec: dict[str, Any]) -> dict[str, Any]:
    env: dict[str, Any] = {"GOLEM_PROFILE": spec.get("profile", "offline"), "HF_HOME": "/var/cache/golemline/hf",
                           "GOLEM_GPU_HOURLY_PRICE": spec.get("gpuHourlyPrice", 0),
                           "GOLEM_STAGE_TIMEOUT_S": spec.get("stageTimeoutS")}
    for section in ENV_PREFIXES:
        env.update({env_name(section, k): v for k, v in (spec.get(section) or {}).items()})
    return env


def _golem_env(spec: dict[str, Any], golem: str) -> dict[str, Any]:
    config = (spec.get("golems") or {}).get(golem) or {}
    env: dict[str, Any] = {}
    if config.get("storageUri"):
        env["STORAGE_URI"] = config["storageUri"]  # KServe's storage initializer fills /mnt/models
        env[f"GOLEM_{golem.upper()}_MODEL"] = MODEL_MOUNT
    elif config.get("model"):
        env[f"GOLEM_{golem.upper()}_MODEL"] = config["model"]
    if config.get("backend"):
        env[f"GOLEM_{golem.upper()}_BACKEND"] = config["backend"]
    if golem == "oracle":
        env.update(_oracle_api_env(spec))
    return env


def _oracle_api_env(spec: dict[str, Any]) -> dict[str, Any]:
    """`oracleApi` → the `openai` Oracle backend's settings (the key comes from its Secret, see `_predictor`)."""
    api = spec.get("oracleApi")
    if not api:
        return {}
    return {"GOLEM_ORACLE_BACKEND": "openai", "GOLEM_ORACLE_MODEL": api["model"], "GOLEM_ORACLE_API_URL": api["url"],
            "GOLEM_ORACLE_API_TIMEOUT_S": api.get("timeoutS"), "GOLEM_ORACLE_API_RETRIES": api.get("retries")}


def _resources(workload: dict[str, Any], gpu_default: int) -> dict[str, Any]:
    resources = copy.deepcopy(workload.get("resources") or {})
    resources.setdefault("requests", {}).setdefault("cpu", "1")
    resources["requests"].setdefault("memory", "2Gi")
    resources.setdefault("limits", {}).setdefault("memory", resources["requests"]["memory"])
    gpu = workload.get("gpu") or {}
    count = gpu.get("count", gpu_default)
    if count:
        name = gpu.get("resourceName", "nvidia.com/gpu")
        resources["limits"][name] = count  # extended resources: the limit is the request
        resources["requests"][name] = count
    return resources


def has_accelerator(resources: dict[str, Any]) -> bool:
    """Whether the pod's limits hold a GPU of any vendor (or a MIG slice): decides device and default dtype."""
    return any(name.startswith(ACCELERATORS) and int(count) > 0 for name, count in resources["limits"].items())


def cpu_threads(resources: dict[str, Any]) -> int:
    """Inference threads for a pod: its CPU limit, else its request, rounded up (at least 1).

    Why: torch and CTranslate2 size their thread pools by the cores they see, which in a pod are the node's. A pod
    allowed 2 CPUs on a 16-core node would run 16 torch threads on 2 CPUs' worth of quota; `golem bench --sections
    threads` measures what twice the cores costs (docs/performance.md).
    """
    quantity = str((resources.get("limits") or {}).get("cpu") or (resources.get("requests") or {}).get("cpu") or "1")
    cores = float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)
    return max(1, math.ceil(cores))


def _dtype(spec: dict[str, Any], golem: str | None, accelerated: bool) -> str:
    config = ((spec.get("golems") or {}).get(golem) or {}) if golem else {}
    return str(config.get("dtype") or ("fp16" if accelerated else "int8"))


PROBE_DEFAULTS: dict[str, dict[str, int]] = {
    # Weights take 15-20 s to load on a GPU node and longer on a CPU or from a model hub: five minutes before the
    # kubelet gives up and restarts the container. Liveness only starts once the startup probe has passed.
    "startup": {"periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 60},
    # Not ready within one period of a drain starting (SIGTERM answers 503 at once) or of a model failing.
    "readiness": {"periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 1},
    # The process is wedged, not busy: three misses in a row, 10 s apart.
    "liveness": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
}
SHUTDOWN_DEFAULTS = {"preStopSleepSeconds": 5, "drainSeconds": 5}
"""preStop: the pod keeps serving normally while Services and ingresses drop it; then SIGTERM starts the server's
drain (readiness 503, still serving) for drainSeconds, then the listener closes and in-flight requests finish."""
STAGE_TIMEOUT_S = 30.0
"""golemline's default stage timeout (`GOLEM_STAGE_TIMEOUT_S`), when the spec gives none."""
GRACE_MARGIN_S = 5


def ready_path(component: str) -> str:
    """The model's own readiness endpoint: a golem is ready when its weights are loaded; the transformer (and the
    monolith's pipeline) when its golems are."""
    return f"/v2/models/{component if component in GOLEMS else 'pipeline'}/ready"


def _probes(workload: dict[str, Any], component: str) -> dict[str, Any]:
    """startupProbe and readinessProbe on the model's readiness, livenessProbe on the process's liveness; each
    timing overridable per workload (`probes.<kind>.<field>`)."""
    overrides = workload.get("probes") or {}
    # The transformer holds no weights: it has started once it listens. Were its startup probe its readiness (which
    # asks the golems), golems still loading on a fresh GPU node would get it restarted over and over.
    startup = "/v2/health/live" if component == "transformer" else ready_path(component)
    paths = {"startup": startup, "readiness": ready_path(component), "liveness": "/v2/health/live"}
    return {f"{kind}Probe": {"httpGet": {"path": paths[kind], "port": PORT},
                             **PROBE_DEFAULTS[kind], **(overrides.get(kind) or {})} for kind in PROBE_DEFAULTS}


def shutdown_of(spec: dict[str, Any], workload: dict[str, Any], component: str) -> dict[str, Any]:
    """preStop sleep, drain and terminationGracePeriodSeconds for one workload. The grace period covers the whole
    sequence: preStop, the drain, then in-flight requests, which the stage timeout bounds (a pipeline request runs
    three stages in a row), plus a margin; the kubelet kills the container only after it."""
    config = {**SHUTDOWN_DEFAULTS, **(workload.get("shutdown") or {})}
    stage_timeout = float(spec.get("stageTimeoutS") or STAGE_TIMEOUT_S)
    finish = math.ceil(stage_timeout * (1 if component in GOLEMS else len(GOLEMS)))
    needed = int(config["preStopSleepSeconds"]) + math.ceil(float(config["drainSeconds"])) + finish + GRACE_MARGIN_S
    grace = int(config.get("terminationGracePeriodSeconds") or needed)
    return {"preStopSleepSeconds": int(config["preStopSleepSeconds"]), "drainSeconds": config["drainSeconds"],
            "terminationGracePeriodSeconds": grace}


def _predictor(spec: dict[str, Any], workload: dict[str, Any], args: list[str], env: dict[str, Any],
               gpu_default: int, auth: bool, component: str, dtype_of: str | None = None) -> dict[str, Any]:
    image = spec.get("image") or {}
    resources = _resources(workload, gpu_default)
    accelerated = has_accelerator(resources)
    # torch addresses NVIDIA and AMD (ROCm) GPUs alike as "cuda"; the dtype follows the same decision.
    shutdown = shutdown_of(spec, workload, component)
    env = {**env, "GOLEM_DEVICE": "cuda" if accelerated else "cpu",
           "GOLEM_DTYPE": _dtype(spec, dtype_of, accelerated), "GOLEM_THREADS": cpu_threads(resources),
           "GOLEM_DRAIN_S": shutdown["drainSeconds"]}
    intents = intents_volume(spec)
    if intents is not None:
        env["GOLEM_INTENTS"] = f"{INTENTS_DIR}/{INTENTS_FILE}"
    env.update(capture_env(spec, component))
    env_list: list[dict[str, Any]] = list(_env(env))
    if auth:
        env_list.append({"name": "GOLEM_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {
            "name": spec["authSecretName"], "key": "token"}}})
    if "GOLEM_ORACLE_API_URL" in env and (spec.get("oracleApi") or {}).get("apiKeySecret"):
        env_list.append({"name": "GOLEM_ORACLE_API_KEY", "valueFrom": {"secretKeyRef": {
            "name": spec["oracleApi"]["apiKeySecret"], "key": "apiKey"}}})
    container: dict[str, Any] = {
        "name": "kserve-container",
        "image": f"{image.get('repository', 'ghcr.io/golemline/golemline')}:{image.get('tag', '0.1.0')}",
        "imagePullPolicy": image.get("pullPolicy", "IfNotPresent"),
        "command": ["golem"],
        "args": ["serve", "--http-port", str(PORT), "--grpc-port", str(GRPC_PORT), *args],
        "env": env_list,
        "ports": [{"containerPort": PORT, "protocol": "TCP", "name": "http1"},
                  {"containerPort": GRPC_PORT, "protocol": "TCP", "name": "h2c"}],
        "resources": resources,
        **_probes(workload, component),
        "securityContext": copy.deepcopy(CONTAINER_SECURITY),
        "volumeMounts": [{"name": "model-cache", "mountPath": "/var/cache/golemline"},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    if shutdown["preStopSleepSeconds"] > 0:
        container["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", str(shutdown["preStopSleepSeconds"])]}}}
    predictor: dict[str, Any] = {
        "minReplicas": workload.get("minReplicas", 1),
        "maxReplicas": max(workload.get("maxReplicas", 1), workload.get("minReplicas", 1), 1),
        "securityContext": copy.deepcopy(POD_SECURITY),
        "terminationGracePeriodSeconds": shutdown["terminationGracePeriodSeconds"],
        "containers": [container],
        "volumes": [{"name": "model-cache", "emptyDir": {"sizeLimit": "10Gi"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
    }
    if intents is not None:
        volume, annotations = intents
        container["volumeMounts"].append({"name": "intents", "mountPath": INTENTS_DIR, "readOnly": True})
        predictor["volumes"].append(volume)
        if annotations:
            predictor["annotations"] = annotations
    capture = capture_volume(spec, component)
    if capture is not None:
        predictor["volumes"].append(capture[0])
        container["volumeMounts"].append(capture[1])
    for key in ("nodeSelector", "tolerations", "affinity"):
        if workload.get(key):
            predictor[key] = copy.deepcopy(workload[key])
    return predictor


def _isvc(body: dict[str, Any], name: str, component: str, predictor: dict[str, Any]) -> dict[str, Any]:
    meta, spec = body["metadata"], body.get("spec") or {}
    pipeline = meta["name"]
    # Pod labels: what the chart's PodMonitor and NetworkPolicies select on.
    predictor["labels"] = {"app.kubernetes.io/name": "golemline", "golemline.io/pipeline": pipeline,
                           "golemline.io/component": component}
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": {"app.kubernetes.io/name": "golemline", "app.kubernetes.io/instance": pipeline,
                       "app.kubernetes.io/component": component, "app.kubernetes.io/managed-by": "golemline-operator",
                       "golemline.io/pipeline": pipeline},
            "annotations": {"serving.kserve.io/deploymentMode": spec.get("deploymentMode", "RawDeployment"),
                            "prometheus.io/scrape": "true", "prometheus.io/port": str(PORT),
                            "prometheus.io/path": "/metrics"},
            "ownerReferences": [owner_reference(body)],
        },
        "spec": {"predictor": predictor},
    }


AUTOSCALING_QUERIES = {
    # What each replica carries; KEDA scales to ceil(metric / target) replicas (AverageValue), or keeps the average at
    # the target (Value) for a utilisation.
    "queueDepth": ("sum(golemline_queue_depth{{{pods}}})", "AverageValue"),
    "requestRate": ("sum(rate(golemline_requests_total{{{pods}}}[1m]))", "AverageValue"),
    "gpuUtilization": ("avg(DCGM_FI_DEV_GPU_UTIL{{{pods}}})", "Value"),
}
DEFAULT_PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"


def _autoscale(spec: dict[str, Any], workload: dict[str, Any], isvc: dict[str, Any]) -> dict[str, Any]:
    """Per-workload autoscaling on the golem's own signal: a KEDA external metric from Prometheus, in the
    InferenceService's `autoScaling` block (KServe's own CPU-utilisation HPA is the wrong signal for a GPU golem)."""
    config = workload.get("autoscaling")
    if not config:
        return isvc
    meta = isvc["metadata"]
    pods = f'namespace="{meta["namespace"]}", pod=~"{meta["name"]}-predictor-.*"'
    template, target_type = AUTOSCALING_QUERIES[config["metric"]]
    target_key = "averageValue" if target_type == "AverageValue" else "value"
    isvc["spec"]["predictor"]["autoScaling"] = {
        "metrics": [{"type": "External", "external": {
            "metric": {"backend": "prometheus",
                       "serverAddress": config.get("prometheusAddress") or spec.get("autoscalingPrometheus")
                       or DEFAULT_PROMETHEUS,
                       "query": template.format(pods=pods)},
            "target": {"type": target_type, target_key: str(config["target"])}}}],
        "behavior": {"scaleDown": {
            "stabilizationWindowSeconds": int(config.get("scaleDownStabilizationSeconds", 300))}},
    }
    meta["annotations"]["serving.kserve.io/autoscalerClass"] = "keda"
    return isvc


def build_inference_services(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every InferenceService a GolemPipeline needs, in a stable order."""
    spec, namespace = body.get("spec") or {}, body["metadata"]["namespace"]
    isvc_names = names(body["metadata"]["name"])
    common = _common_env(spec)
    auth = bool(spec.get("authSecretName"))
    if spec.get("mode", "microservices") == "monolith":
        workload = spec.get("monolith") or {}
        lifecycle = spec.get("lifecycle") or {}
        env = {**common, "GOLEM_POLICY": lifecycle.get("policy", "resident"), "GOLEM_BUDGET": lifecycle.get("budget")}
        for golem in GOLEMS:
            env.update(_golem_env(spec, golem))
        predictor = _predictor(spec, workload, [], env, 1, auth, "monolith")
        return [_autoscale(spec, workload, _isvc(body, isvc_names["monolith"], "monolith", predictor))]
    services = []
    for golem in GOLEMS:
        workload = (spec.get("golems") or {}).get(golem) or {}
        env = {**common, **_golem_env(spec, golem)}
        gpu_default = 0 if golem == "oracle" and spec.get("oracleApi") else 1  # a client of an LLM server
        predictor = _predictor(spec, workload, ["--golem", golem], env, gpu_default, auth, golem,
                               dtype_of=golem)
        services.append(_autoscale(spec, workload, _isvc(body, isvc_names[golem], golem, predictor)))
    transformer = spec.get("transformer") or {}
    urls = {f"GOLEM_{g.upper()}_URL": predictor_url(isvc_names[g], namespace) for g in GOLEMS}
    predictor = _predictor(spec, transformer, ["--transformer"], {**common, **urls}, 0, auth, "transformer")
    services.append(_autoscale(spec, transformer, _isvc(body, isvc_names["pipeline"], "transformer", predictor)))
    return services
