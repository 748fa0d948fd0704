"""A run mixes its soundtrack into the cache while the models load; the cut finds it there."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import psutil
import pytest

from wanflow.cache import ArtifactStore
from wanflow.media.ffmpeg import audio_samples
from wanflow.run.premix import planned_mix, sound_mixed_meanwhile, soundtrack_keys
from wanflow.run.prepare import RunRequest, prepare_run

REPO = Path(__file__).resolve().parents[2]


def _example(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    return tmp_path / "specs" / "film.yaml"


def test_a_run_mixes_the_planned_soundtrack_into_the_cache_before_its_cut(tmp_path: Path) -> None:
    spec = _example(tmp_path)
    prepared = prepare_run(RunRequest(spec, "animatic", out=tmp_path / "out"), log=lambda _: None)
    with sound_mixed_meanwhile(prepared):
        pass  # the run's work; leaving waits for the mix
    mix = planned_mix(prepared.plan)
    assert mix is not None and mix.frames == 595 and mix.fps == 24 and mix.quick
    mixed = ArtifactStore(prepared.cache_dir).get_file("sounds", mix.key())
    assert mixed is not None and audio_samples(mixed) == 595 * 48000 // 24
    assert mix.key() in soundtrack_keys(spec)  # `cache gc SPEC` keeps it


def test_a_run_of_some_shots_mixes_nothing(tmp_path: Path) -> None:
    spec = _example(tmp_path)
    prepared = prepare_run(RunRequest(spec, "animatic", only=("sea",), out=tmp_path / "out"), log=lambda _: None)
    with sound_mixed_meanwhile(prepared):
        pass
    assert not (prepared.cache_dir / "sounds").exists()


def test_a_film_without_a_soundtrack_plans_no_mix(tmp_path: Path) -> None:
    spec = _example(tmp_path)
    text = spec.read_text(encoding="utf-8")
    start = text.index("\nsoundtrack:\n") + 1
    spec.write_text(text[:start] + text[text.index("\nprofiles:", start) + 1 :], encoding="utf-8")
    prepared = prepare_run(RunRequest(spec, "animatic", out=tmp_path / "out"), log=lambda _: None)
    assert planned_mix(prepared.plan) is None


def test_a_run_that_fails_stops_its_mix_and_leaves_no_entry(tmp_path: Path) -> None:
    spec = _example(tmp_path)
    prepared = prepare_run(RunRequest(spec, "animatic", out=tmp_path / "out"), log=lambda _: None)
    with pytest.raises(KeyboardInterrupt), sound_mixed_meanwhile(prepared):
        time.sleep(0.2)  # the mix's ffmpeg has started
        raise KeyboardInterrupt
    mix = planned_mix(prepared.plan)
    assert mix is not None and ArtifactStore(prepared.cache_dir).get_file("sounds", mix.key()) is None
    assert not [child for child in psutil.Process().children(recursive=True) if "ffmpeg" in child.name()]
