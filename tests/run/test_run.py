"""`wanflow run` end to end: real tiny diffusers models, a real Prefect server, real ffmpeg."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wanflow.cache.store import ArtifactStore
from wanflow.media.ffmpeg import probe
from wanflow.plan.jobs import make_plan
from wanflow.run.flow import RunSummary, render_film
from wanflow.storyboard.load import load_film

SPEC = """\
wanflow: 1
title: Run test
lang: en
output: {{ fps: 24 }}
profiles:
  test: {{ text: t2v-a14b, image: i2v-a14b, size: 128x80, steps: 2, tiny: true }}
  test5b: {{ backend: ti2v-5b, size: 128x96, steps: 2, tiny: true }}
scenes:
  - id: one
    shots:
      - id: wade
        subject: an astronaut
        action: {wade_action}
        duration: 0.5
        look: {{ shot_size: wide shot, lighting: [rim light] }}
      - id: still
        subject: a woman on a train
        action: sits still
        duration: 0.5
        image: start.png
      - id: onward
        subject: the astronaut
        action: keeps walking
        duration: 0.5
        continue_from: wade
"""


@pytest.fixture
def storyboard(tmp_path: Path, tiny_models_root: Path) -> Path:
    Image.fromarray(np.full((80, 128, 3), 180, dtype=np.uint8)).save(tmp_path / "start.png")
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC.format(wade_action="wades through water"), encoding="utf-8")
    return spec


def _run(spec: Path, profile: str = "test", **options) -> RunSummary:
    state = render_film(spec=str(spec), profile=profile, out=str(spec.parent / "out"), return_state=True, **options)
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, RunSummary), summary
    return summary


def _statuses(summary: RunSummary) -> dict[str, str]:
    return {shot.shot_id: shot.status for shot in summary.shots}


def test_run_renders_then_resumes_from_cache_then_renders_only_the_edit(prefect_server, storyboard: Path) -> None:
    first = _run(storyboard)
    assert _statuses(first) == {"wade": "rendered", "still": "rendered", "onward": "rendered"}
    # one load per model per run, whatever the number of shots
    models = [load["model"] for load in first.loads]
    assert sorted(m for m in models if m.startswith("generator:")) == ["generator:i2v-a14b", "generator:t2v-a14b"]
    assert sorted(m for m in models if m.startswith("text_encoder:")) == [
        "text_encoder:i2v-a14b",
        "text_encoder:t2v-a14b",
    ]
    assert len(set(models)) == len(models)
    assert {load["worker"] for load in first.loads} == {"local"}
    assert {shot.worker for shot in first.shots} == {"local"}
    # on the tiny models one take decodes while the next generates: two takes in flight at once
    spans = sorted((shot.started, shot.ended) for shot in first.shots)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))

    film = probe(Path(first.film))
    assert (film.width, film.height, round(film.fps)) == (128, 80, 24)
    assert film.frames > 0
    plan = make_plan(load_film(storyboard), "test")
    store = ArtifactStore(storyboard.parent / ".wanflow" / "cache")
    for job in plan.jobs:
        clip = probe(store.get_file("clips", job.keys.clip))
        assert (clip.frames, clip.width, clip.height) == (job.settings.frames, 128, 80)

    second = _run(storyboard)
    assert _statuses(second) == {"wade": "cached", "still": "cached", "onward": "cached"}
    assert second.loads == []  # nothing generated, no model loaded

    storyboard.write_text(SPEC.format(wade_action="wades through deep water"), encoding="utf-8")
    third = _run(storyboard)
    # the edited shot and the shot continuing from it; the independent shot stays cached
    assert _statuses(third) == {"wade": "rendered", "still": "cached", "onward": "rendered"}


def test_draft_profile_renders_every_shot_on_one_ti2v_load(prefect_server, storyboard: Path) -> None:
    summary = _run(storyboard, profile="test5b")
    assert set(_statuses(summary).values()) == {"rendered"}
    assert [load["model"] for load in summary.loads if load["model"].startswith("generator:")] == ["generator:ti2v-5b"]
    assert probe(Path(summary.film)).frames > 0


def test_corrupt_cache_entries_are_rebuilt(prefect_server, storyboard: Path) -> None:
    _run(storyboard, only=["wade"])
    plan = make_plan(load_film(storyboard), "test")
    store = ArtifactStore(storyboard.parent / ".wanflow" / "cache")
    clip = store.get_file("clips", plan.job("wade").keys.clip)
    clip.write_bytes(clip.read_bytes()[:100])  # truncated clip: decode again from cached latents
    summary = _run(storyboard, only=["wade"])
    assert _statuses(summary)["wade"] == "rendered"  # its clip decoded again in this run...
    assert [load["model"] for load in summary.loads if load["model"].startswith("generator:")] == []  # ...not generated
    assert probe(store.get_file("clips", plan.job("wade").keys.clip)).frames == plan.job("wade").settings.frames

    latents_dir = next((store.root / "latents").rglob(plan.job("wade").keys.latents))
    for data in latents_dir.glob("*.safetensors"):
        data.write_bytes(data.read_bytes()[:-8] + b"corrupt!")
    clip = store.get_file("clips", plan.job("wade").keys.clip)
    clip.unlink()
    summary = _run(storyboard, only=["wade"])
    assert _statuses(summary)["wade"] == "rendered"


def test_only_and_force_select_shots_and_their_continuity(prefect_server, storyboard: Path) -> None:
    summary = _run(storyboard, only=["onward"])
    # onward continues from wade, so wade renders too; still is not selected
    assert _statuses(summary) == {"wade": "rendered", "still": "not selected", "onward": "rendered"}
    assert summary.film is None and "still" in summary.note
    # no film, but the clips rendered and a report of them, to look at
    out = storyboard.parent / "out" / storyboard.stem  # each storyboard's outputs in a folder of its own
    assert sorted(path.name for path in (out / "clips").iterdir()) == ["onward.mp4", "wade.mp4"]
    assert probe(out / "clips" / "onward.mp4").frames > 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [shot["id"] for shot in manifest["shots"]] == ["wade", "onward"]
    assert manifest["output"] is None and "no clip yet for still" in manifest["not_cut"]
    html = (out / "storyboard.html").read_text(encoding="utf-8")
    assert "The film was not cut" in html and 'id="shot-onward"' in html and 'id="shot-still"' not in html
    assert Image.open(out / "contact_sheet.png").height > 0
    assert set(summary.report) == {"contact_sheet", "html", "manifest"}
    summary = _run(storyboard, only=["onward"], force=["wade"])
    assert _statuses(summary) == {"wade": "rendered", "still": "not selected", "onward": "rendered"}
    # the whole film again: cut, and its report replaces the partial one
    summary = _run(storyboard)
    assert summary.film is not None and "not cut" not in (out / "storyboard.html").read_text(encoding="utf-8")
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["output"]["frames"] > 0


def test_a_failed_shot_loses_nothing_else(prefect_server, storyboard: Path) -> None:
    spec_text = storyboard.read_text(encoding="utf-8")
    (storyboard.parent / "broken.safetensors").write_bytes(b"this is not a safetensors file")
    broken = spec_text.replace(
        "        image: start.png\n", "        image: start.png\n        lora: broken.safetensors\n"
    )
    storyboard.write_text(broken, encoding="utf-8")
    summary = _run(storyboard)  # the LoRA only fails when the generator loads it
    statuses = _statuses(summary)
    assert statuses["still"] == "failed" and "broken.safetensors" in summary.shots[1].error
    assert statuses["wade"] == "rendered" and statuses["onward"] == "rendered"
    assert summary.film is None
    storyboard.write_text(spec_text, encoding="utf-8")
    summary = _run(storyboard)
    assert _statuses(summary) == {"wade": "cached", "still": "rendered", "onward": "cached"}
    assert summary.film is not None


def test_two_concurrent_runs_render_each_key_once(prefect_server, storyboard: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-c",
        "from wanflow.cli.app import main; main()",
        "run",
        str(storyboard),
        "--profile",
        "test",
    ]
    runs = [
        subprocess.Popen(
            [*command, "--out", str(storyboard.parent / f"out{i}")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    if [run.returncode for run in runs] != [0, 0]:  # the tails say why, untruncated
        pytest.fail("\n\n".join(f"exit {run.returncode}:\n{output[-2500:]}" for run, output in zip(runs, outputs)))
    summaries = [
        json.loads((storyboard.parent / f"out{i}" / storyboard.stem / "run.json").read_text()) for i in range(2)
    ]
    for shot_id in ("wade", "still", "onward"):
        # what each run's task did for the shot, as its log says ("" when the run found the clip before
        # submitting a task): each piece of work done by one run only
        done = [
            next(
                (
                    line
                    for line in output.splitlines()
                    if f"shot {shot_id}: latents" in line or f"shot {shot_id}: clip" in line
                ),
                "",
            )
            for output in outputs
        ]
        assert sum("latents generated" in line for line in done) == 1, (shot_id, done)
        assert sum("clip decoded" in line for line in done) == 1, (shot_id, done)
        statuses = [next(s["status"] for s in summary["shots"] if s["shot_id"] == shot_id) for summary in summaries]
        # a run that did a part of the work rendered the shot; the other found it in the cache
        made = ["rendered" if "generated" in line or "decoded" in line else "cached" for line in done]
        assert statuses == made, (shot_id, done)


def test_run_rejects_bad_input_before_any_work(tmp_path: Path, storyboard: Path) -> None:
    command = [sys.executable, "-c", "from wanflow.cli.app import main; main()", "run", str(storyboard)]
    result = subprocess.run([*command, "--profile", "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown profile 'nope'" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run([*command, "--profile", "test", "--only", "ghost"], capture_output=True, text=True)
    assert result.returncode == 2 and "no shot 'ghost'" in result.stderr
    assert not (tmp_path / "out").exists()
