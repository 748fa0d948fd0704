"""Where the quantized experts and the turbo LoRAs come from and where they live; torch-free.

The facts (repository ids, file names) are the community's public ones, with their sources in
docs/models.md. A GGUF expert lives beside the Diffusers folder whose text encoder, VAE and
configs it uses: `<models root>/<id>-gguf/HighNoise/Wan2.2-T2V-A14B-HighNoise-Q4_K_S.gguf`,
the repository's own relative path, so a pull resumes into the same place.
"""

from __future__ import annotations

from pathlib import Path

from wanflow.errors import UserError
from wanflow.memory import GGUF_QUANTS

EXPERT_COMPONENTS = ("transformer", "transformer_2")  # high-noise, low-noise (diffusers' names)
_NOISE = {"transformer": "HighNoise", "transformer_2": "LowNoise"}

GGUF_REPOS = {  # QuantStack's conversions, the ones ComfyUI-GGUF users load
    "t2v-a14b": "QuantStack/Wan2.2-T2V-A14B-GGUF",
    "i2v-a14b": "QuantStack/Wan2.2-I2V-A14B-GGUF",
}
_TASK = {"t2v-a14b": "T2V", "i2v-a14b": "I2V"}


def gguf_repo_file(backend_id: str, component: str, quant: str) -> str:
    """The expert's path inside its GGUF repository, e.g. `HighNoise/Wan2.2-T2V-A14B-HighNoise-Q4_K_S.gguf`."""
    if backend_id not in GGUF_REPOS:
        raise UserError(
            f"no GGUF experts are published for {backend_id} in the repositories wanflow knows; "
            f"GGUF plans are for {', '.join(GGUF_REPOS)}"
        )
    if quant not in GGUF_QUANTS:
        raise UserError(f"--quant must be one of {', '.join(GGUF_QUANTS)}, not {quant!r}")
    noise = _NOISE[component]
    return f"{noise}/Wan2.2-{_TASK[backend_id]}-A14B-{noise}-{quant.upper()}.gguf"


def gguf_folder(root: Path, backend_id: str) -> Path:
    """Where a backend's GGUF experts live: beside its Diffusers folder `<root>/<id>/`."""
    return root / f"{backend_id}-gguf"


def gguf_path(root: Path, backend_id: str, component: str, quant: str) -> Path:
    return gguf_folder(root, backend_id) / gguf_repo_file(backend_id, component, quant)


# The lightx2v 4-step LoRAs as ComfyUI's official Wan2.2 templates name and fetch them
# (their `models` entries); Comfy-Org repackages lightx2v/Wan2.2-Lightning.
LIGHTNING_REPO = "Comfy-Org/Wan_2.2_ComfyUI_Repackaged"
LIGHTNING_FILES = {
    ("t2v-a14b", "transformer"): "split_files/loras/wan2.2_t2v_lightx2v_4steps_lora_v1.1_high_noise.safetensors",
    ("t2v-a14b", "transformer_2"): "split_files/loras/wan2.2_t2v_lightx2v_4steps_lora_v1.1_low_noise.safetensors",
    ("i2v-a14b", "transformer"): "split_files/loras/wan2.2_i2v_lightx2v_4steps_lora_v1_high_noise.safetensors",
    ("i2v-a14b", "transformer_2"): "split_files/loras/wan2.2_i2v_lightx2v_4steps_lora_v1_low_noise.safetensors",
}


def lightning_path(root: Path, backend_id: str, component: str) -> Path:
    """Where `wanflow models pull lightx2v` puts an expert's 4-step LoRA (the repository's own path)."""
    return root / "lightx2v" / LIGHTNING_FILES[(backend_id, component)]


def installed_ggufs(root: Path) -> list[tuple[str, str, str, Path]]:
    """(backend id, component, quant, path) of every GGUF expert present under the models root."""
    found = []
    for backend_id in GGUF_REPOS:
        for component in EXPERT_COMPONENTS:
            for quant in GGUF_QUANTS:
                path = gguf_path(root, backend_id, component, quant)
                if path.is_file():
                    found.append((backend_id, component, quant, path))
    return found
