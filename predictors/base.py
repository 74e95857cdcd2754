"""What every golem shares: a KServe `Model` whose work is done by a pluggable backend.

A golem runs in-process (`golem.run(batch)`, used by `golem run` and the monolith) or behind a KServe
ModelServer (`preprocess → predict → postprocess`); both paths call the same backend with a batch, so the
served and the in-process answers cannot drift apart.
"""

from __future__ import annotations

import asyncio
import gc
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import kserve

from golemline.errors import InvalidInput
from golemline.modelref import resolve, safetensors_elements, weight_bytes, weight_files
from golemline.serving import metrics
from golemline.serving.protocol import Prepared, instances_from, respond
from golemline.settings import GolemSpec, Settings

RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")


def compression_ratio(text: str) -> float:
    """Bytes of text over bytes of its zlib compression: >2.4 means repetitive (a typical hallucination)."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


def torch_dtype(name: str) -> Any:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.float32}[name]


def torch_module_bytes(module: Any) -> int:
    """Bytes held by a torch module's parameters and buffers: its resident footprint on the device."""
    tensors = list(module.parameters()) + list(module.buffers())
    seen: set[int] = set()
    total = 0
    for tensor in tensors:
        if tensor.data_ptr() in seen:  # tied weights (GPT-2 lm_head = wte) count once
            continue
        seen.add(tensor.data_ptr())
        total += tensor.numel() * tensor.element_size()
    return total


def quantize_int8_cpu(module: Any) -> Any:
    """Dynamic int8 quantization of Linear layers, the CPU path of "lighter models"."""
    import torch

    return torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)


class Backend(ABC, Generic[RequestT, ResultT]):
    """One way of running a golem's model. Subclasses load weights from a local directory."""

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        self.model_dir = model_dir
        self.settings = settings
        self.device = settings.resolved_device

    @abstractmethod
    def load(self) -> None:
        """Load weights onto the device."""

    @abstractmethod
    def unload(self) -> None:
        """Drop every reference to the weights (the golem then collects garbage and empties caches)."""

    @abstractmethod
    def run(self, batch: list[RequestT]) -> list[ResultT]:
        """Run one batched pass; results in request order."""

    @abstractmethod
    def memory_bytes(self) -> int:
        """Bytes the loaded weights occupy on the device."""

    @classmethod
    def estimate_bytes(cls, model_dir: Path, settings: Settings) -> int:
        """Footprint before loading: tensor elements × the configured dtype's size (file bytes otherwise)."""
        elements = safetensors_elements(model_dir)
        if not elements:
            return weight_bytes(model_dir)
        # int8 on CPU quantizes Linear layers only; embeddings stay fp32, so count fp32 as the upper bound.
        per_element = 4 if settings.dtype == "int8" else DTYPE_BYTES[settings.dtype]
        return elements * per_element

    def prefetch(self) -> None:
        """Bring the weight files into host memory (page cache) so the next load is not disk-bound."""
        for path in weight_files(self.model_dir):
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


BackendFactory = type[Backend[Any, Any]]


class Golem(kserve.Model, Generic[RequestT, ResultT]):
    """A golem: a named KServe model with one backend, loadable and unloadable at will."""

    stage: ClassVar[str]
    backends: ClassVar[dict[str, BackendFactory]]

    def __init__(self, settings: Settings, name: str | None = None) -> None:
        super().__init__(name or self.stage)
        self.settings = settings
        self.spec: GolemSpec = settings.golems[self.stage]
        if self.spec.backend not in self.backends:
            raise InvalidInput(f"{self.stage}: unknown backend {self.spec.backend!r}")
        self._backend: Backend[RequestT, ResultT] | None = None
        self._model_dir: Path | None = None
        self._estimate: int | None = None
        self.last_load_seconds = 0.0
        self.last_unload_seconds = 0.0

    # -- lifecycle -------------------------------------------------------------------------------------
    @property
    def model_dir(self) -> Path:
        """Where the weights are; resolving it raises ModelNotFound with instructions when they are not."""
        if self._model_dir is None:
            self._model_dir = resolve(self.spec.model)
        return self._model_dir

    def estimated_bytes(self) -> int:
        """Footprint: measured while loaded; before that, estimated from the weight files (once — it is fixed
        for a golem's settings, and memory reports ask for it on every request)."""
        if self._backend is not None:
            return self._backend.memory_bytes()
        if self._estimate is None:
            self._estimate = self.backends[self.spec.backend].estimate_bytes(self.model_dir, self.settings)
        return self._estimate

    def load(self) -> bool:
        if self._backend is None:
            started = time.perf_counter()
            backend = self.backends[self.spec.backend](self.model_dir, self.settings)
            backend.load()
            self._backend = backend
            self.last_load_seconds = time.perf_counter() - started
        self.ready = True
        return self.ready

    def unload(self) -> None:
        """Banish: drop the weights, collect garbage and hand cached device memory back."""
        started = time.perf_counter()
        if self._backend is not None:
            self._backend.unload()
            self._backend = None
        self.ready = False
        gc.collect()
        if self.settings.resolved_device == "cuda":
            import torch

            torch.cuda.empty_cache()
        self.last_unload_seconds = time.perf_counter() - started

    def prefetch(self) -> None:
        backend_cls = self.backends[self.spec.backend]
        backend_cls(self.model_dir, self.settings).prefetch()

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def memory_bytes(self) -> int:
        return self._backend.memory_bytes() if self._backend is not None else 0

    def run(self, batch: list[RequestT]) -> list[ResultT]:
        """In-process inference on a batch of typed requests (the golem must be loaded)."""
        if self._backend is None:
            raise RuntimeError(f"{self.name} is not loaded: call load() first (the lifecycle manager does)")
        return self._backend.run(batch)

    # -- KServe hooks -------------------------------------------------------------------------------------
    v2_fields: ClassVar[dict[str, bool]]
    """V2 input tensors this golem accepts (name → required); V1 instances carry the same fields."""

    executor: Callable[[list[Any]], Awaitable[list[Any]]] | None = None
    """Set by the server to the golem's micro-batcher; None runs the batch directly on a thread."""

    serving_ready = False
    """Set by the server once the golem can serve (loaded, or loadable on demand under the lifecycle policy)."""

    async def healthy(self) -> bool:
        return self.serving_ready

    @abstractmethod
    def parse_instance(self, instance: Any) -> RequestT:
        """Validate one JSON instance into a typed request, or raise InvalidInput naming the problem."""

    async def preprocess(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        """V1 dict or V2 InferRequest → validated typed requests (every input checked before any tensor)."""
        instances, v2 = instances_from(payload, self.name, self.v2_fields)
        return Prepared([self.parse_instance(instance) for instance in instances], v2)

    async def predict(self, payload: Any, headers: dict[str, str] | None = None,
                      response_headers: dict[str, str] | None = None) -> Any:
        run = self.executor
        results = await run(payload.requests) if run else await asyncio.to_thread(self.run, payload.requests)
        return Prepared(results, payload.v2)

    async def postprocess(self, result: Any, headers: dict[str, str] | None = None,
                          response_headers: dict[str, str] | None = None) -> Any:
        metrics.REQUESTS.labels(self.name, "ok").inc()
        return respond(self.name, [asdict(r) for r in result.requests], result.v2)
