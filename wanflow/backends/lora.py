"""LoRA adapters per shot, loaded once by content and switched without touching base weights.

Each file is read once and kept as a named PEFT adapter on the expert(s) it targets; a shot
activates its adapters with `set_adapters` (its scale as the weight) and every other adapter
is switched off. Least-recently-used adapters beyond a small limit are deleted.
diffusers converts ComfyUI/original (`diffusion_model.` prefix) and musubi (`lora_unet_`)
key names; DiffSynth-Studio files (bare `blocks.` keys, `lora_A.default`) are renamed to the
ComfyUI form here so the same converter handles them.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from diffusers import WanImageToVideoPipeline, WanPipeline, WanTransformer3DModel
from safetensors import SafetensorError
from safetensors.torch import load_file

from wanflow.errors import UserError
from wanflow.film import Lora
from wanflow.hashing import file_sha256

MAX_LOADED_ADAPTERS = 8
_HIGH, _LOW = "transformer", "transformer_2"


def read_lora_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The file's tensors with DiffSynth-Studio names mapped to the form diffusers converts."""
    if not path.is_file():
        raise UserError(f"LoRA file not found: {path}")
    try:
        state_dict = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise UserError(f"LoRA file {path} is not a readable .safetensors file: {error}") from None
    if state_dict and all(key.startswith("blocks.") for key in state_dict):
        state_dict = {"diffusion_model." + key.replace(".default.", "."): value for key, value in state_dict.items()}
    return state_dict


def target_modules(lora: Lora, experts: int) -> tuple[str, ...]:
    """Pipeline attributes of the transformer(s) a LoRA goes into; one-expert models ignore `expert`."""
    if experts == 1:
        return (_HIGH,)
    return {"high": (_HIGH,), "low": (_LOW,), "both": (_HIGH, _LOW)}[lora.expert]


class LoraSwitcher:
    """Keeps adapters loaded per expert and activates the ones a request asks for."""

    def __init__(self, pipe: WanPipeline | WanImageToVideoPipeline, experts: int) -> None:
        self._pipe = pipe
        self._experts = experts
        self._hashes: dict[tuple[Path, int, int], str] = {}  # (path, size, mtime) -> sha256
        self._loaded: OrderedDict[tuple[str, str], None] = OrderedDict()  # (module, adapter), LRU order
        self.loads = 0  # adapter loads so far (each file/expert pair once)

    def _adapter_name(self, path: Path) -> str:
        stat = path.stat()
        key = (path.resolve(), stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = file_sha256(path)
        return "lora_" + self._hashes[key][:16]

    def _load(self, module: str, adapter: str, path: Path) -> None:
        state_dict = read_lora_state_dict(path)
        try:
            self._pipe.load_lora_weights(state_dict, adapter_name=adapter, load_into_transformer_2=module == _LOW)
        except (ValueError, KeyError, RuntimeError) as error:
            raise UserError(f"LoRA {path} does not fit this model: {error}") from None
        self.loads += 1

    def apply(self, loras: tuple[Lora, ...]) -> None:
        """Activate exactly `loras` (scale = adapter weight); switch everything else off."""
        wanted: dict[str, dict[str, float]] = {_HIGH: {}, _LOW: {}}
        for lora in loras:
            if not lora.path.is_file():
                raise UserError(f"LoRA file not found: {lora.path}")
            adapter = self._adapter_name(lora.path)
            for module in target_modules(lora, self._experts):
                if (module, adapter) not in self._loaded:
                    self._load(module, adapter, lora.path)
                self._loaded[(module, adapter)] = None
                self._loaded.move_to_end((module, adapter))
                wanted[module][adapter] = wanted[module].get(adapter, 0.0) + lora.scale
        for module, adapters in wanted.items():
            transformer: WanTransformer3DModel | None = getattr(self._pipe, module, None)
            if transformer is None or not getattr(transformer, "_hf_peft_config_loaded", False):
                continue
            if adapters:
                transformer.enable_lora()
                transformer.set_adapters(list(adapters), list(adapters.values()))
            else:
                transformer.disable_lora()
        self._evict(wanted)

    def _evict(self, wanted: dict[str, dict[str, float]]) -> None:
        while len(self._loaded) > MAX_LOADED_ADAPTERS:
            (module, adapter), _ = next(iter(self._loaded.items()))
            if adapter in wanted[module]:
                break
            getattr(self._pipe, module).delete_adapters(adapter)
            del self._loaded[(module, adapter)]
