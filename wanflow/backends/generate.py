"""The three phases of a render, each loaded once and run many times: encode, generate, decode.

A caller (the Prefect pipeline) runs them separately so only one big model sits on the GPU
at a time: all prompts through `TextEncoder`, then latents per backend with `Generator`,
then clips with `Decoder`. Latents cross the phase boundary normalised, exactly as the
diffusers pipeline returns them with `output_type="latent"`.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy
import PIL.Image
import torch
from diffusers import (
    AutoencoderKLWan,
    FirstBlockCacheConfig,
    TaylorSeerCacheConfig,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)

from wanflow.backends.cpu_vae import fast_cpu_vae
from wanflow.backends.layout import declared_module_class
from wanflow.backends.lora import LoraSwitcher
from wanflow.backends.memory_plans import effective_plan, gguf_experts, place
from wanflow.backends.quiet import quiet_progress_bars
from wanflow.backends.samplers import euler_scheduler
from wanflow.backends.store import is_tiny
from wanflow.catalog import STEP_CACHES, BackendSpec, backend_spec
from wanflow.errors import UserError
from wanflow.fit import fit_end_image, fit_image
from wanflow.memory import DEFAULT_PLAN, memory_plan
from wanflow.take import RenderSettings, TakeSettings

log = logging.getLogger("wanflow.backends")

MAX_SEQUENCE_LENGTH = 512  # what the pipeline's __call__ uses (encode_prompt defaults to 226)
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def torch_device(settings: RenderSettings) -> torch.device:
    """The settings' device, else CUDA when present, else the CPU."""
    if settings.device is not None:
        return torch.device(settings.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def torch_dtype(settings: RenderSettings, device: torch.device) -> torch.dtype:
    """`auto` is bf16 on CUDA (as the official code runs) and float32 on the CPU."""
    if settings.dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return _DTYPES[settings.dtype]


def _check_folder(model_dir: Path, *parts: str) -> None:
    missing = [part for part in parts if not (model_dir / part).is_dir()]
    if not (model_dir / "model_index.json").is_file() or missing:
        what = ", ".join(missing) if missing else "model_index.json"
        raise UserError(
            f"model folder {model_dir} is incomplete (missing {what}); "
            "run `wanflow models verify` and pull the model again (`wanflow models pull NAME`, "
            "or `wanflow models make-tiny` for the tiny ones)"
        )


def _prepare_cpu(model_dir: Path, device: torch.device, settings: RenderSettings) -> None:
    """On the CPU: `settings.cpu_threads` intra-op threads (one unless $WANFLOW_CPU_THREADS says
    otherwise), and a warning for full-size weights.

    OpenMP threads that wait for a core spin: beside Prefect's and Dask's own threads, or on a
    shared machine, a 2-thread tiny-VAE decode measured 3 to 6 times slower than a 1-thread one
    on 2 cores, while the tiny models gain little from a second thread on an idle machine.
    """
    if device.type != "cpu":
        return
    torch.set_num_threads(settings.cpu_threads)
    if not is_tiny(model_dir):
        log.warning(
            "running the full-size model in %s on the CPU: one clip takes many hours; "
            "use a CUDA GPU, or the tiny models (preview profile) to try a storyboard",
            model_dir,
        )


class TextEncoder:
    """UMT5 + tokenizer through the pipeline's own `encode_prompt`, so the numbers match a full run."""

    def __init__(self, pipe: WanPipeline, device: torch.device) -> None:
        self._pipe = pipe
        self.device = device

    @classmethod
    def load(cls, model_dir: Path, settings: RenderSettings = RenderSettings()) -> TextEncoder:
        _check_folder(model_dir, "tokenizer", "text_encoder")
        device = torch.device("cpu") if settings.text_encoder_cpu else torch_device(settings)
        _prepare_cpu(model_dir, device, settings)
        tokenizer = declared_module_class(model_dir, "tokenizer").from_pretrained(model_dir / "tokenizer")
        dtype = torch_dtype(settings, torch_device(settings))
        text_encoder_class = declared_module_class(model_dir, "text_encoder")
        with quiet_progress_bars(is_tiny(model_dir)):
            text_encoder = text_encoder_class.from_pretrained(model_dir / "text_encoder", dtype=dtype)
        text_encoder = text_encoder.to(device).eval()
        pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=None, scheduler=None)
        return cls(pipe, device)

    @torch.inference_mode()
    def encode(self, prompt: str) -> torch.Tensor:
        """[512, text_dim] on the CPU: padded positions are zero, as in the pipeline."""
        embeds, _ = self._pipe.encode_prompt(
            prompt, do_classifier_free_guidance=False, max_sequence_length=MAX_SEQUENCE_LENGTH, device=self.device
        )
        return embeds[0].cpu()


@dataclass(frozen=True)
class PromptEmbeds:
    """A take's two prompts as the text encoder made them: [512, text_dim] each, on the CPU."""

    prompt: torch.Tensor
    negative: torch.Tensor


def _image_pipe_sharing(pipe: WanPipeline) -> WanImageToVideoPipeline:
    """TI2V-5B's image mode over the very modules of its text pipeline, dtypes untouched.

    `WanImageToVideoPipeline.from_pipe` would do this too, but it then casts every module to
    its `dtype` argument (float32 by default): a bf16 transformer silently became float32
    (twice the memory) and the float32 VAE would become bf16 with any other choice.
    """
    image_pipe = WanImageToVideoPipeline(
        tokenizer=pipe.tokenizer,
        text_encoder=pipe.text_encoder,
        vae=pipe.vae,
        scheduler=pipe.scheduler,
        image_processor=None,
        image_encoder=None,
        transformer=pipe.transformer,
        transformer_2=getattr(pipe, "transformer_2", None),
        boundary_ratio=pipe.config.boundary_ratio,
        expand_timesteps=pipe.config.expand_timesteps,
    )
    image_pipe.set_progress_bar_config(disable=True)
    return image_pipe


class Generator:
    """Transformer(s) + scheduler (+ the VAE where an image must be encoded); no text encoder."""

    def __init__(
        self, spec: BackendSpec, model_dir: Path, pipe: WanPipeline | WanImageToVideoPipeline, settings: RenderSettings
    ) -> None:
        self.spec = spec
        self.model_dir = model_dir
        self.settings = settings
        self.device = torch_device(settings)
        self.pipe = pipe
        # TI2V-5B renders text-only shots with WanPipeline and image shots with the I2V pipeline,
        # sharing the same modules (no second copy of the weights).
        self.image_pipe: WanImageToVideoPipeline | None = None
        if isinstance(pipe, WanImageToVideoPipeline):
            self.image_pipe = pipe
        elif spec.accepts_image:
            self.image_pipe = _image_pipe_sharing(pipe)
        self._base_scheduler_config = dict(pipe.scheduler.config)
        self._active: WanPipeline | WanImageToVideoPipeline | None = None
        self.memory = effective_plan(DEFAULT_PLAN, settings)
        self.loras = LoraSwitcher(pipe, spec.experts)

    @classmethod
    def load(
        cls, backend_id: str, model_dir: Path, settings: RenderSettings = RenderSettings(), memory: str = DEFAULT_PLAN
    ) -> Generator:
        """The backend's generator holding its experts as the memory plan `memory` says (GGUF
        experts come from `<id>-gguf/` beside the model folder)."""
        spec = backend_spec(backend_id)
        plan = effective_plan(memory, settings)
        experts = ("transformer", "transformer_2") if spec.experts == 2 else ("transformer",)
        _check_folder(model_dir, "scheduler", "vae", *experts)
        device = torch_device(settings)
        dtype = torch_dtype(settings, device)
        _prepare_cpu(model_dir, device, settings)
        pipeline_class = WanImageToVideoPipeline if spec.pipeline == "WanImageToVideoPipeline" else WanPipeline
        # The VAE stays in float32 (bf16 VAEs band and drift); T2V-A14B does not need it at all.
        vae = _load_vae(model_dir) if spec.accepts_image else None
        if vae is not None and device.type == "cpu":
            fast_cpu_vae(vae)
        parts: dict[str, Any] = dict(text_encoder=None, tokenizer=None, vae=vae)
        if pipeline_class is WanImageToVideoPipeline:
            parts.update(image_encoder=None, image_processor=None)
        parts.update(gguf_experts(spec, model_dir, plan, dtype))
        with quiet_progress_bars(is_tiny(model_dir)):
            pipe = pipeline_class.from_pretrained(model_dir, dtype=dtype, **parts)
        return cls.from_pipeline(backend_id, model_dir, pipe, settings, plan.name)

    @classmethod
    def from_pipeline(
        cls,
        backend_id: str,
        model_dir: Path,
        pipe: WanPipeline | WanImageToVideoPipeline,
        settings: RenderSettings = RenderSettings(),
        memory: str = DEFAULT_PLAN,
    ) -> Generator:
        """A generator over a built pipeline: its modules stored and placed as the memory plan says
        and its step cache on, as `load` leaves them (the GPU benchmark hands it real-size
        pipelines with random weights)."""
        device = torch_device(settings)
        plan = effective_plan(memory, settings)
        if pipe.vae is None:  # the pipeline reads its strides off the VAE; give them explicitly
            vae_config = json.loads((model_dir / "vae" / "config.json").read_text(encoding="utf-8"))
            pipe.vae_scale_factor_temporal = vae_config.get("scale_factor_temporal", 4)
            pipe.vae_scale_factor_spatial = vae_config.get("scale_factor_spatial", 8)
        place(pipe, plan, device, torch_dtype(settings, device))
        pipe.set_progress_bar_config(disable=True)  # progress goes to the caller's callback
        generator = cls(backend_spec(backend_id), model_dir, pipe, settings)
        generator.memory = plan
        generator._enable_step_cache(settings.step_cache)
        return generator

    def transformers(self) -> list[WanTransformer3DModel]:
        return [t for t in (self.pipe.transformer, getattr(self.pipe, "transformer_2", None)) if t is not None]

    def _enable_step_cache(self, kind: str | None) -> None:
        if kind is None:
            return
        if kind not in STEP_CACHES:
            raise UserError(f"unknown step cache {kind!r}; use one of {', '.join(STEP_CACHES)}")
        for transformer in self.transformers():  # each expert keeps its own cache
            config = (
                FirstBlockCacheConfig(threshold=0.05)
                if kind == "first-block"
                else TaylorSeerCacheConfig(
                    cache_interval=4, disable_cache_before_step=4, max_order=1, taylor_factors_dtype=torch.float32
                )
            )
            transformer.enable_cache(config)

    def _scheduler_with_shift(self, shift: float) -> Any:
        """The folder's own scheduler class with the request's shift (UniPC names it flow_shift)."""
        scheduler_class = type(self.pipe.scheduler)
        key = "flow_shift" if "flow_shift" in self._base_scheduler_config else "shift"
        return scheduler_class.from_config(self._base_scheduler_config, **{key: shift})

    def _pipe_for(self, image: PIL.Image.Image | None) -> WanPipeline | WanImageToVideoPipeline:
        if image is None:
            if self.spec.needs_image:
                raise UserError(f"{self.spec.id} needs a start image (image: or continue_from:)")
            pipe = self.pipe
        else:
            if self.image_pipe is None:
                raise UserError(f"{self.spec.id} does not take a start image; use ti2v-5b or i2v-a14b")
            pipe = self.image_pipe
        if self.memory.placement == "offload" and self.device.type == "cuda" and pipe is not self._active:
            pipe.enable_model_cpu_offload(device=self.device)  # hooks move one expert in at a time
        self._active = pipe
        return pipe

    def generate(
        self,
        take: TakeSettings,
        embeds: PromptEmbeds,
        image: PIL.Image.Image | None = None,
        progress: Callable[[int, int], None] | None = None,
        *,
        end_image: PIL.Image.Image | None = None,
    ) -> torch.Tensor:
        """Normalised latents (1, z, (frames-1)//4+1, H/stride, W/stride), float32, on the CPU.

        `image` is the start frame (the take's image, or its upstream's last frame), framed here
        as `take.fit` says at the size the plan fixed; `end_image` the last frame (I2V-A14B:
        diffusers' `last_image`), framed the same way to the same size.
        """
        if take.backend != self.spec.id:
            raise ValueError(f"a {take.backend} take handed to the {self.spec.id} generator")
        if memory_plan(take.memory).weights != self.memory.weights:
            raise ValueError(f"a {take.memory} take handed to a {self.memory.name} generator")
        if end_image is not None and (image is None or not self.spec.accepts_last_frame):
            raise UserError(f"{self.spec.id} cannot end on a given frame; i2v-a14b can (with a start frame)")
        pipe = self._pipe_for(image)
        self.loras.apply(take.loras)
        if take.sampler == "euler":  # the turbo tier (catalog.LIGHTNING)
            pipe.scheduler = euler_scheduler(take.shift)
        else:
            pipe.scheduler = self._scheduler_with_shift(take.shift)

        def on_step(_pipe: object, step: int, _timestep: object, _tensors: dict[str, Any]) -> dict[str, Any]:
            if progress is not None:
                progress(step + 1, take.steps)
            return {}

        call: dict[str, Any] = dict(
            prompt_embeds=embeds.prompt.unsqueeze(0).to(self.device),
            negative_prompt_embeds=embeds.negative.unsqueeze(0).to(self.device),
            height=take.height,
            width=take.width,
            num_frames=take.frames,
            num_inference_steps=take.steps,
            guidance_scale=take.guidance_high,
            # A CPU generator makes the noise, and so the result, the same on every device.
            generator=torch.Generator("cpu").manual_seed(take.seed),
            output_type="latent",
            callback_on_step_end=on_step,
        )
        if self.spec.experts == 2:
            call["guidance_scale_2"] = take.guidance_low
        if image is not None:
            call["image"] = fit_image(image, take.width, take.height, take.fit, self.spec)
        if end_image is not None:
            call["last_image"] = fit_end_image(end_image, take, self.spec)
        with torch.inference_mode():
            latents = pipe(**call).frames
        return latents.to("cpu", torch.float32)


def _load_vae(model_dir: Path) -> AutoencoderKLWan:
    """The VAE stays in float32 (bf16 VAEs band and drift)."""
    return declared_module_class(model_dir, "vae").from_pretrained(model_dir / "vae", dtype=torch.float32)


class Decoder:
    """The VAE in float32: normalised latents in, uint8 frames out."""

    def __init__(self, vae: AutoencoderKLWan, device: torch.device) -> None:
        self.vae = vae
        self.device = device
        z_dim = vae.config.z_dim
        self._mean = torch.tensor(vae.config.latents_mean, dtype=torch.float32, device=device).view(1, z_dim, 1, 1, 1)
        self._std = torch.tensor(vae.config.latents_std, dtype=torch.float32, device=device).view(1, z_dim, 1, 1, 1)

    @classmethod
    def load(cls, model_dir: Path, settings: RenderSettings = RenderSettings()) -> Decoder:
        _check_folder(model_dir, "vae")
        device = torch_device(settings)
        _prepare_cpu(model_dir, device, settings)
        vae = _load_vae(model_dir).to(device).eval()
        if device.type == "cpu":
            fast_cpu_vae(vae)
        if settings.vae_tiling:
            vae.enable_tiling()
        return cls(vae, device)

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor) -> numpy.ndarray:
        """uint8 [frames, H, W, 3]; the same pixels the pipeline's own decode produces (two threads may
        decode at once)."""
        if latents.ndim != 5 or latents.shape[0] != 1 or latents.shape[1] != self.vae.config.z_dim:
            raise UserError(
                f"latents of shape {tuple(latents.shape)} do not fit this VAE (z_dim {self.vae.config.z_dim})"
            )
        x = latents.to(self.device, torch.float32) * self._std + self._mean
        vae = copy.copy(self.vae)  # its own causal cache (`_feat_map`): decodes in two threads share only weights
        video = vae.decode(x, return_dict=False)[0][0]  # [3, F, H, W] in [-1, 1]
        frames = (video / 2 + 0.5).clamp(0, 1).mul(255).round().to(torch.uint8)
        return frames.permute(1, 2, 3, 0).contiguous().cpu().numpy()
