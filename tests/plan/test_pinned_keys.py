"""Cache keys are a promise to every cache already on disk: a refactor must keep them byte for byte.

`data/pinned/` is a frozen copy of the example film (plus a LoRA and a second take, so every
part of a take's settings is in some key), and `keys.json` holds the keys the code gave it
before the take's settings had one home. A new per-take setting at its default must not
change them; a change that must (new numerics) regenerates keys.json on purpose, in its own
commit, saying why.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from factories import take_settings

from wanflow import settings
from wanflow.plan import make_plan
from wanflow.storyboard import load_film
from wanflow.take import RenderSettings

PINNED = Path(__file__).parent / "data" / "pinned"
SETTINGS = {
    "final": ("final", RenderSettings()),
    "draft": ("draft", RenderSettings()),
    "final+switches": ("final", RenderSettings(dtype="bf16", vae_tiling=True, step_cache="first-block")),
}


@pytest.fixture
def no_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real-size models are never installed here: their keys use the fingerprint 'missing'."""
    monkeypatch.setenv("WANFLOW_MODELS", str(tmp_path))
    settings.reload()


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_cache_keys_of_the_example_film_are_unchanged(name: str, no_models: None) -> None:
    pinned = json.loads((PINNED / "keys.json").read_text(encoding="utf-8"))[name]
    profile, settings = SETTINGS[name]
    plan = make_plan(load_film(PINNED / "film.yaml"), profile, settings)
    assert {job.name: job.keys.all() for job in plan.takes} == pinned


CHANGES: dict[str, object] = {
    "backend": "i2v-a14b",
    "seed": 8,
    "width": 80,
    "height": 48,
    "frames": 21,
    "steps": 5,
    "guidance_high": 3.5,
    "guidance_low": 4.5,
    "shift": 5.0,
    "boundary_ratio": 0.9,
    "fit": "cover",
    "loras": "a LoRA file",
    "image": "another image",
    "end_image": "another image",
}


def test_every_setting_of_a_take_reaches_its_latents_key(tmp_path: Path) -> None:
    """A new TakeSettings field must be in the key (or say in take.py why not): this lists them all."""
    from wanflow.film import Lora
    from wanflow.grammar.compile import CompiledShot
    from wanflow.plan.keys import job_keys
    from wanflow.take import latents_fields

    assert set(CHANGES) == latents_fields()
    image, other, lora = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "l.safetensors"
    image.write_bytes(b"one picture")
    other.write_bytes(b"another picture")
    lora.write_bytes(b"weights")
    files = {"loras": (Lora(lora),), "image": other, "end_image": other}
    compiled = CompiledShot(shot_id="s0", mode="i2v", lang="zh", prompt="p", negative="n", phrases=(), warnings=())
    base = take_settings(image=image)

    def latents(take) -> str:
        return job_keys(compiled=compiled, take=take, weights="w", upstream_clip=None, render=RenderSettings()).latents

    for name, value in CHANGES.items():
        changed = replace(base, **{name: files.get(name, value)})
        assert latents(changed) != latents(base), name
    assert latents(replace(base, fps=24)) == latents(base)  # a playback rate: only the clip key has it
    ending = replace(base, end_image=image)
    assert latents(ending) != latents(replace(base, end_image=other)) != latents(base)  # the end frame's bytes


def test_an_end_frame_rendered_by_another_shot_is_in_the_key_by_that_shots_clip() -> None:
    from wanflow.grammar.compile import CompiledShot
    from wanflow.plan.keys import job_keys

    compiled = CompiledShot(shot_id="s0", mode="i2v", lang="zh", prompt="p", negative="n", phrases=(), warnings=())

    def latents(end_clip: str | None) -> str:
        take = take_settings()
        return job_keys(
            compiled=compiled, take=take, weights="w", upstream_clip=None, render=RenderSettings(), end_clip=end_clip
        ).latents

    assert len({latents(None), latents("clip-a"), latents("clip-b")}) == 3
