"""Registry facts, validation before loading, the model store and weight fingerprints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from wanflow.backends.store import (
    list_models,
    missing_parts,
    model_dir,
    weights_fingerprint,
)
from wanflow.backends.validate import check_request, check_size, frames_for_duration, positions_problem
from wanflow.backends.verify import verify_model
from wanflow.catalog import BACKENDS, DEFAULT_NEGATIVE_PROMPT, MAX_FRAMES
from wanflow.errors import UserError
from wanflow.storyboard.bounds import MAX_RENDER_SIDE


def test_registry_holds_the_official_defaults() -> None:
    t2v, i2v, ti2v = BACKENDS["t2v-a14b"], BACKENDS["i2v-a14b"], BACKENDS["ti2v-5b"]
    assert (t2v.guidance_high, t2v.guidance_low, t2v.boundary_ratio, t2v.shift, t2v.steps) == (
        4.0,
        3.0,
        0.875,
        12.0,
        40,
    )
    assert (i2v.guidance_high, i2v.guidance_low, i2v.boundary_ratio, i2v.transformer_in_channels()) == (
        3.5,
        3.5,
        0.9,
        36,
    )
    assert ti2v.sizes == ((1280, 704), (704, 1280)) and (ti2v.frames, ti2v.fps, ti2v.z_dim) == (121, 24, 48)
    assert DEFAULT_NEGATIVE_PROMPT.startswith("色调艳丽") and DEFAULT_NEGATIVE_PROMPT.endswith("倒着走")


def test_frames_for_duration_gives_the_nearest_4n_plus_1() -> None:
    assert frames_for_duration(5, 16) == 81
    assert frames_for_duration(5, 24) == 121
    assert frames_for_duration(2.0, 16) == 33
    assert frames_for_duration(0.01, 16) == 5


def test_size_rules() -> None:
    assert check_size("t2v-a14b", 832, 480) == []
    with pytest.raises(UserError, match="not a supported size"):
        check_size("ti2v-5b", 1024, 576)
    with pytest.raises(UserError, match="multiple of 32"):
        check_size("ti2v-5b", 1280, 720, allow_custom=True)
    assert "not an official" in check_size("t2v-a14b", 640, 368, allow_custom=True)[0]
    assert check_size("t2v-a14b", 256, 144, tiny=True) == []
    with pytest.raises(UserError, match="multiple of 32"):
        check_size("ti2v-5b", 256, 144, tiny=True)


def test_check_request_reports_every_problem_at_once(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(UserError) as caught:
        check_request("i2v-a14b", width=1000, height=720, frames=80, image=broken, file="film.yaml", line=12)
    fields = [p.field for p in caught.value.problems]
    assert fields == ["size", "frames", "image"]
    assert all(p.file == "film.yaml" and p.line == 12 for p in caught.value.problems)
    assert "try 77 or 81" in caught.value.problems[1].message
    with pytest.raises(UserError, match="needs a start image"):
        check_request("i2v-a14b", width=832, height=480, frames=81)
    with pytest.raises(UserError, match="image not found"):
        check_request("ti2v-5b", width=1280, height=704, frames=121, image=tmp_path / "nope.png")
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 48), "red").save(good)
    assert check_request("i2v-a14b", width=832, height=480, frames=81, image=good) == []
    assert check_request("i2v-a14b", width=832, height=480, frames=81, image_from_previous_shot=True) == []


def test_frames_and_sizes_past_what_a_model_places_are_refused(
    tiny_model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    """The longest clip wanflow renders; every model, tiny ones included, places it at the largest size."""
    with pytest.raises(UserError, match=f"{MAX_FRAMES + 4} frames is more than the {MAX_FRAMES}"):
        check_request("t2v-a14b", width=832, height=480, frames=MAX_FRAMES + 4)
    official = Path(__file__).resolve().parents[2] / "wanflow" / "backends" / "official"
    for backend_id in BACKENDS:  # the official configs: 1024 positions, never the binding bound
        assert positions_problem(official / backend_id, 2048, 2048, MAX_FRAMES) is None
        side = MAX_RENDER_SIDE // BACKENDS[backend_id].size_multiple * BACKENDS[backend_id].size_multiple
        assert positions_problem(tiny_model_dirs[backend_id], side, side, MAX_FRAMES) is None
    # A model with a short rotary table (as the tiny format 3 had: 32 positions) is refused in words.
    short = tmp_path / "short"
    for part in ("transformer", "vae"):
        (short / part).mkdir(parents=True)
        shutil.copy(tiny_model_dirs["t2v-a14b"] / part / "config.json", short / part / "config.json")
    config = json.loads((short / "transformer" / "config.json").read_text(encoding="utf-8"))
    (short / "transformer" / "config.json").write_text(json.dumps({**config, "rope_max_seq_len": 32}))
    assert positions_problem(short, 256, 144, 125) is None
    assert "at most 125 frames and 512 pixels a side" in positions_problem(short, 256, 144, 129)
    assert "at most 125 frames" in positions_problem(short, 1024, 576, 9)
    with pytest.raises(UserError, match="rotary embedding holds") as caught:
        check_request("t2v-a14b", width=256, height=144, frames=241, tiny=True, model_dir=short)
    assert [p.field for p in caught.value.problems] == ["frames"]


def test_missing_model_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="wanflow models make-tiny"):
        model_dir("ti2v-5b", tiny=True, root=tmp_path)
    with pytest.raises(UserError, match="unknown model 'wan3'"):
        model_dir("wan3", root=tmp_path)


def test_incomplete_model_is_refused_with_the_missing_parts(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "root"
    broken = root / "tiny" / "t2v-a14b"
    shutil.copytree(tiny_model_dirs["t2v-a14b"], broken)
    (broken / "transformer_2" / "diffusion_pytorch_model.safetensors").unlink()
    assert missing_parts(broken) == ["transformer_2/*.safetensors (no weights)"]
    with pytest.raises(UserError, match="incomplete.*transformer_2.*make-tiny"):
        model_dir("t2v-a14b", tiny=True, root=root)
    listed = {m.backend_id: m for m in list_models(root)}
    assert not listed["t2v-a14b"].usable


def test_verify_finds_inconsistent_components(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    assert all(verify_model(b, folder) == [] for b, folder in tiny_model_dirs.items())
    broken = tmp_path / "i2v"
    shutil.copytree(tiny_model_dirs["i2v-a14b"], broken)
    config = broken / "transformer" / "config.json"
    config.write_text(config.read_text().replace('"in_channels": 36', '"in_channels": 16'))
    assert any("in_channels is 16, expected 36" in p for p in verify_model("i2v-a14b", broken))
    assert any("expected WanPipeline" in p for p in verify_model("t2v-a14b", broken))


def test_fingerprint_is_stable_and_follows_the_weights(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    from wanflow.backends.tiny import make_tiny_models

    again = make_tiny_models(tmp_path / "again")
    for backend_id, folder in tiny_model_dirs.items():
        assert weights_fingerprint(folder) == weights_fingerprint(again[backend_id])  # seeded: same bytes
    assert len({weights_fingerprint(f) for f in tiny_model_dirs.values()}) == 3
    weights = again["ti2v-5b"] / "transformer" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert weights_fingerprint(again["ti2v-5b"]) != weights_fingerprint(tiny_model_dirs["ti2v-5b"])
