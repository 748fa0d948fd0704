"""The models a process holds: each loaded once and kept warm; one generation per physical GPU.

Two tasks of one process may share a pool (an in-process run on tiny models decodes one take
while it generates the next): the model stage (prompts, then generation) is taken in the run's
order (`wanflow.backends.turns`), the decode stage by `decode_slots` clips at a time (one, unless
the run says), and loads take one more
lock, since `from_pretrained` patches torch's module construction for the whole process while it
runs.

A pool lives as long as its owner (`wanflow.run.pool`: an in-process run's, released at its
end, or a long-lived Dask worker's, kept across shots and flow runs), so a model is loaded once
per worker, never once per shot. Nothing here imports torch until a model is needed, so a run
that finds everything in the cache never pays for it.
"""

from __future__ import annotations

import gc
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import platformdirs

from wanflow import settings
from wanflow.backends.turns import Turns
from wanflow.memory import DEFAULT_PLAN
from wanflow.take import RenderSettings


@dataclass
class ModelPool:
    """Loads models lazily, once each; at most one generator (the big one) is resident.

    `loads` is the history, so callers can report what a piece of work loaded (its length
    before and after). `listen` tells a thread's caller of each load that thread makes.
    """

    settings: RenderSettings
    keep_warm: bool = False  # a worker's pool keeps its text encoders between runs; a run's frees them
    loads: list[str] = field(default_factory=list)  # "text_encoder:t2v-a14b", "generator:..." in load order
    _text_encoders: dict[Path, object] = field(default_factory=dict)
    _text_encoder_backends: dict[Path, str] = field(default_factory=dict)
    _generator: tuple[str, object] | None = None
    _memory: str | None = None  # the memory plan the resident generator holds its experts by
    _decoders: dict[Path, object] = field(default_factory=dict)
    turns: Turns = field(default_factory=Turns)  # the model stage: prompts and generation, in the run's order
    decode_slots: int = 1  # clips decoded at once (one VAE, each decode with its own causal cache)
    _decoding: threading.BoundedSemaphore = field(init=False)
    _loading_lock: threading.RLock = field(default_factory=threading.RLock)
    _listeners: threading.local = field(default_factory=threading.local)  # per thread: told of each load

    def __post_init__(self) -> None:
        self._decoding = threading.BoundedSemaphore(self.decode_slots)

    def modelling(self) -> AbstractContextManager[object]:
        """The model stage, one piece of work at a time and in turn: encoding prompts, generating latents."""
        return self.turns.stage()

    def decoding(self) -> AbstractContextManager[object]:
        """The decode stage, `decode_slots` clips at a time (it may run beside the model stage)."""
        return self._decoding

    @contextmanager
    def listen(self, on_load: Callable[[str], None]) -> Iterator[None]:
        """While in the block: `on_load` told of each load this thread starts (a task's own record,
        a run's load journal)."""
        listeners = self._listeners.__dict__.setdefault("callbacks", [])
        listeners.append(on_load)
        try:
            yield
        finally:
            listeners.remove(on_load)

    def text_encoder(self, backend: str, model_dir: Path):
        with self._loading_lock:
            if model_dir not in self._text_encoders:
                self._loading(f"text_encoder:{backend}")
                self._text_encoders[model_dir] = _generation().TextEncoder.load(model_dir, self.settings)
                self._text_encoder_backends[model_dir] = backend
            return self._text_encoders[model_dir]

    def generator(self, backend: str, model_dir: Path, memory: str = DEFAULT_PLAN):
        """The backend held as the memory plan says (another plan of the same backend loads anew)."""
        with self._loading_lock:
            if self._generator is not None and self._generator[0] == backend and self._memory == memory:
                return self._generator[1]
            self.release_generator()
            self._loading(f"generator:{backend}")
            generator = _generation().Generator.load(backend, model_dir, self.settings, memory)
            self._generator, self._memory = (backend, generator), memory
            return generator

    def decoder(self, backend: str, model_dir: Path):
        with self._loading_lock:
            if model_dir not in self._decoders:
                self._loading(f"decoder:{backend}")
                self._decoders[model_dir] = _generation().Decoder.load(model_dir, self.settings)
            return self._decoders[model_dir]

    def _loading(self, model: str) -> None:
        self.loads.append(model)
        for on_load in getattr(self._listeners, "callbacks", ()):
            on_load(model)

    def done_encoding(self) -> None:
        """After the prompts: a run frees its text encoders for the generator; a worker keeps them."""
        if not self.keep_warm:
            self._text_encoders.clear()
            self._text_encoder_backends.clear()
            _free_memory()

    def warm_text_encoders(self) -> list[str]:
        return sorted(self._text_encoder_backends.values())

    def warm_generator(self) -> str | None:
        """The backend whose generator is resident (placement prefers this worker for it)."""
        return self._generator[0] if self._generator is not None else None

    def release_generator(self) -> None:
        if self._generator is not None:
            self._generator = None
            _free_memory()

    def release_all(self) -> None:
        self._text_encoders.clear()
        self._text_encoder_backends.clear()
        self._decoders.clear()
        self.release_generator()


def device_lock(device: str) -> AbstractContextManager[object]:
    """One generation per physical GPU at a time, across every process on this machine.

    Two workers with CUDA_VISIBLE_DEVICES=0 and =1 both see "cuda:0": the lock is keyed by the
    physical GPU (its index in the machine's numbering), not by the device string. The CPU is
    not locked: the operating system shares its cores, and locking it would run two CPU workers
    one after the other.
    """
    if not device.startswith("cuda"):
        return nullcontext()
    name = re.sub(r"[^a-z0-9]+", "-", physical_device(device).lower())
    locks = Path(platformdirs.user_cache_dir("wanflow")) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(locks / f"device-{name}.lock")


def physical_device(device: str) -> str:
    """`cuda:1` under CUDA_VISIBLE_DEVICES=2,3 is physical GPU 3; the CPU and others stay as they are."""
    if not device.startswith("cuda"):
        return device
    index = int(device.partition(":")[2] or 0)
    visible = [part.strip() for part in (settings.current().cuda_visible_devices or "").split(",") if part.strip()]
    return f"cuda-{visible[index]}" if index < len(visible) else f"cuda-{index}"


def preload_backends() -> None:
    """Import the model libraries now (torch, diffusers, transformers: about 2 s on a CPU), as a
    run does while Prefect's temporary server boots on another core, or a worker as it starts."""
    _generation()


def _generation():
    """The generation phases, imported by a process's first model.

    The import makes about half a million objects (torch, diffusers, transformers) that live as
    long as the process. The collector is paused while they are made (it would walk the growing
    heap over and over: about 0.5 s), then they are frozen out of its way (`gc.freeze`) before
    any model exists, so freeing a model walks only what came after them (0.01 s, not 0.25 s).
    """
    first, collecting = "wanflow.backends.generate" not in sys.modules, gc.isenabled()
    if first:
        gc.disable()
    try:
        from wanflow.backends import generate
    finally:
        if first:
            if collecting:
                gc.enable()
            gc.freeze()
    return generate


def _free_memory() -> None:
    from wanflow.backends.memory import free_memory  # torch only once a model was loaded

    free_memory()
