"""What every golem shares: a named lifecycle (load, run, unload) around one pluggable backend.

A golem is a plain class: it knows nothing of KServe, HTTP or metrics (`golemline.serving.adapter` wraps it for
the server). A backend runs a batch in three steps, the way Hugging Face pipelines do:

- ``preprocess`` — CPU work on Python objects (features, tokens);
- ``forward`` — tensors only, on the device; the only step that belongs on the golem's device thread;
- ``postprocess`` — back to typed results (`golemline.domain`).

`Golem.run(batch)` runs the three in order; the server hands `forward` to a single device thread per golem, so
preprocessing of one batch never waits behind another batch's kernels and the device sees one stream of work.
"""

from __future__ import annotations

import gc
import time
from abc import ABC, abstractmethod
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from golemline.errors import ConfigError, DeviceError
from golemline.modelref import resolve, safetensors_elements, weight_bytes, weight_files
from golemline.settings import GolemSpec, Settings

RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


def torch_dtype(name: str) -> Any:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.float32}[name]


def torch_module_bytes(module: Any) -> int:
    """Bytes held by a torch module's parameters and buffers — and by the packed weights of dynamically quantized
    Linear layers, which are neither (so an int8 model reports what it really holds, not its fp32 leftovers)."""
    import torch

    seen: set[int] = set()
    total = 0
    tensors = list(module.parameters()) + list(module.buffers())
    for submodule in module.modules():
        packed = getattr(submodule, "_packed_params", None)
        if packed is not None and hasattr(packed, "_weight_bias"):
            weight, bias = packed._weight_bias()
            tensors += [t for t in (weight, bias) if isinstance(t, torch.Tensor)]
    for tensor in tensors:
        if tensor.data_ptr() in seen:  # tied weights (GPT-2 lm_head = wte) count once
            continue
        seen.add(tensor.data_ptr())
        total += tensor.numel() * tensor.element_size()
    return total


def quantize_int8_cpu(module: Any) -> Any:
    """Dynamic int8 quantization of Linear layers, the CPU path of "lighter models".

    A Linear whose weight is tied to an embedding (GPT-2's lm_head) is left alone: quantizing it would keep the fp32
    embedding and add an int8 copy, so the model would hold more, not less."""
    import torch

    embedded = {m.weight.data_ptr() for m in module.modules() if isinstance(m, torch.nn.Embedding)}
    names = {name for name, m in module.named_modules()
             if isinstance(m, torch.nn.Linear) and m.weight.data_ptr() not in embedded}
    if not names:
        return module
    return torch.ao.quantization.quantize_dynamic(module, names, dtype=torch.qint8)


def lay_out_output_head_for_cpu(model: Any) -> None:
    """Store the vocabulary head's weight transposed in memory (same values, same shape, same tied embedding).

    Why: at batch 1 a decoder step multiplies one hidden vector by the [vocab, hidden] head. Laid out row-major,
    the CPU GEMM walks it the slow way: on the bundled Oracle the head took 6.8 ms of a 13 ms step (`torch.profiler`),
    against 1.3 ms for the same product on the transposed layout, and the Oracle's reply took half the time. An
    embedding lookup reads the same storage through a transposed view at no extra cost, so nothing is copied twice.
    GPUs' BLAS does not care; only the CPU path calls this."""
    import torch

    head = model.get_output_embeddings()
    if not isinstance(head, torch.nn.Linear):  # no head, or an int8 layer holding packed weights of its own
        return
    with torch.no_grad():
        head.weight.data = head.weight.data.t().contiguous().t()


def check_device(device: str, dtype: str) -> None:
    """Fail before loading, in one sentence, when the device or the dtype cannot work here (exit 2 / not ready)."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise DeviceError("device cuda was asked for, but torch sees no usable GPU here "
                              f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
                              "use --device cpu or auto")
    if device == "cpu" and dtype == "fp16":
        raise ConfigError("dtype fp16 is for GPUs; on the CPU use fp32 or int8 (or bf16 where the CPU has it)")


class Backend(ABC, Generic[RequestT, ResultT]):
    """One way of running a golem's model. Subclasses load weights from a local directory."""

    weightless: ClassVar[bool] = False
    """True for backends without local weights (`WeightlessBackend`)."""

    cpu_auto_dtype: ClassVar[str] = "fp32"
    """What `--dtype auto` means on the CPU. fp32 for torch models: dynamic int8 changed the Interpreter's intent on
    185 of 1,523 unchanged transcripts of the gating corpus (scores moved 0.04 on average), which no speed-up pays
    for. A backend with native int8 kernels that keep quality says int8."""

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        self.model_dir = model_dir
        self.settings = settings
        self.device = settings.resolved_device
        self.dtype = self.dtype_for(settings)

    @classmethod
    def dtype_for(cls, settings: Settings) -> str:
        """The precision this backend loads in: the setting, with `auto` resolved (fp16 on a GPU)."""
        if settings.dtype != "auto":
            return settings.dtype
        return "fp16" if settings.resolved_device == "cuda" else cls.cpu_auto_dtype

    @abstractmethod
    def load(self) -> None:
        """Load weights onto the device."""

    @abstractmethod
    def unload(self) -> None:
        """Drop every reference to the weights (the golem then collects garbage and empties caches)."""

    def preprocess(self, batch: list[RequestT]) -> Any:
        """Requests → model inputs (CPU). The default passes the batch through."""
        return batch

    @abstractmethod
    def forward(self, inputs: Any) -> Any:
        """Model inputs → raw outputs: the device work, and nothing else.

        The contract: `inputs` is what `preprocess` returned, the result is what `postprocess` takes; it may run on
        another thread than the other two steps (the golem's device thread), so it keeps no per-batch state
        beyond what it returns. Public because the golem (`Golem.forward`) and the
        benchmarks call it on its own, to time the device work or to hand it to the device thread."""

    @abstractmethod
    def postprocess(self, outputs: Any, batch: list[RequestT]) -> list[ResultT]:
        """Raw outputs → one typed result per request, in request order."""

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
        dtype = cls.dtype_for(settings)
        per_element = 4 if dtype == "int8" else DTYPE_BYTES[dtype]
        return elements * per_element

    def prefetch(self) -> None:
        """Bring the weight files into host memory (page cache) so the next load is not disk-bound."""
        for path in weight_files(self.model_dir):
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


class WeightlessBackend(Backend[RequestT, ResultT]):
    """A backend that holds no weights on this machine: replies from a file, or a model behind a remote API.

    Why a class of its own: the lifecycle budgets and prefetches weights. A weightless backend reports 0 bytes
    before and after loading, reads no files ahead and checks no device, so the budget, the sequential policy's
    prefetch and `--device` never account for (or wait on) a model that is not here. Its golem's `model` setting is
    a name, not a directory (the openai Oracle sends it to its server as the chat completion's `model`)."""

    weightless: ClassVar[bool] = True

    @classmethod
    def dtype_for(cls, settings: Settings) -> str:
        return "fp32"  # nothing is computed here; the value only keys the (zero) footprint

    @classmethod
    def estimate_bytes(cls, model_dir: Path, settings: Settings) -> int:
        return 0

    def memory_bytes(self) -> int:
        return 0

    def prefetch(self) -> None:
        """Nothing to read ahead."""


BackendFactory = type[Backend[Any, Any]]


class Golem(Generic[RequestT, ResultT]):
    """A golem: a named model with one backend, loadable and unloadable at will.

    `forward_executor` (a one-thread executor, given by the server) is where `forward` runs; None runs it on
    the calling thread (`golem run`, tests).
    """

    stage: ClassVar[str]
    backends: ClassVar[dict[str, BackendFactory]]

    def __init__(self, settings: Settings, forward_executor: Executor | None = None) -> None:
        self.name = self.stage
        self.settings = settings
        self.spec: GolemSpec = settings.golems[self.stage]
        if self.spec.backend not in self.backends:
            raise ConfigError(f"{self.stage}: unknown backend {self.spec.backend!r}; known: "
                              f"{', '.join(self.backends)}")
        self.forward_executor = forward_executor
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
            self._model_dir = (Path(self.spec.model) if self.weightless
                               else resolve(self.spec.model, pull_command=self.settings.pull_command()))
        return self._model_dir

    @property
    def weightless(self) -> bool:
        """True when the backend holds no local weights (the model is a name; nothing to resolve or budget)."""
        return self.backends[self.spec.backend].weightless

    @property
    def footprint_key(self) -> str:
        """What a measured footprint depends on: the weights, the backend, the dtype and the device."""
        return f"{self.spec.model}|{self.spec.backend}|{self.dtype}|{self.settings.resolved_device}"

    @property
    def dtype(self) -> str:
        """The precision this golem's backend loads in (`--dtype auto` resolved for it)."""
        return self.backends[self.spec.backend].dtype_for(self.settings)

    def estimated_bytes(self) -> int:
        """Pre-load estimate from the weight files (cached: it is fixed for a golem's settings)."""
        if self._estimate is None:
            self._estimate = self.backends[self.spec.backend].estimate_bytes(self.model_dir, self.settings)
        return self._estimate

    def load(self) -> None:
        if self._backend is not None:
            return
        if not self.weightless:
            check_device(self.settings.resolved_device, self.dtype)
        started = time.perf_counter()
        backend = self.backends[self.spec.backend](self.model_dir, self.settings)
        try:
            backend.load()
        except RuntimeError as exc:  # a device/driver fault at load time, said in one sentence
            raise DeviceError(f"{self.stage}: loading {self.spec.model} on {backend.device} "
                              f"({self.dtype}) failed: {str(exc).splitlines()[0]}") from exc
        self._backend = backend
        self.last_load_seconds = time.perf_counter() - started

    def unload(self) -> None:
        """Banish: drop the weights, collect garbage and hand cached device memory back."""
        started = time.perf_counter()
        if self._backend is not None:
            self._backend.unload()
            self._backend = None
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

    # -- inference ---------------------------------------------------------------------------------------
    def _loaded_backend(self) -> Backend[RequestT, ResultT]:
        if self._backend is None:
            raise RuntimeError(f"{self.name} is not loaded: call load() first (the lifecycle manager does)")
        return self._backend

    def warm_up_batch(self) -> list[RequestT]:
        """A small, valid batch for the warm-up pass a server runs before it reports ready (see `warm_up`)."""
        raise NotImplementedError(f"{self.stage}: no warm-up batch defined")

    def batch_key(self, item: RequestT) -> float:
        """Requests with different keys never share a batch, and the smallest key waiting runs first
        (`MicroBatcher`). One key for all by default; the Scribe keys by encoder window."""
        return 0.0

    def forward(self, inputs: Any) -> Any:
        """The backend's device step alone (`Backend.forward`), on the device thread when there is one: `inputs` is
        what the backend's `preprocess` made of a batch."""
        backend = self._loaded_backend()
        if self.forward_executor is None:
            return backend.forward(inputs)
        return self.forward_executor.submit(backend.forward, inputs).result()

    def run(self, batch: list[RequestT]) -> list[ResultT]:
        """In-process inference on a batch of typed requests: preprocess, forward (on the device thread when
        there is one), postprocess."""
        backend = self._loaded_backend()
        return backend.postprocess(self.forward(backend.preprocess(batch)), batch)
