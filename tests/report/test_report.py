"""The report beside the film: contact sheet, self-contained storyboard.html, manifest, .otio."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from factories import take_settings
from PIL import Image

from wanflow.film import Film, Look, Scene, Shot, TitleCard, Transition
from wanflow.media.cut import AssemblyResult, CutClip, assemble
from wanflow.media.ffmpeg import probe, write_clip
from wanflow.report import contact_sheet as contact_sheet_module
from wanflow.report.storyboard import ReportPaths, ShotRecord, make_report, manifest_metadata, read_thumbnails

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def clip(path: Path, frames: int, fps: int, shade: int) -> Path:
    video = np.full((frames, 36, 64, 3), shade, np.uint8)
    video[:, 10:26, :: max(1, frames)] = 255
    write_clip(video, fps, path)
    return path


def make_shot(index: int, scene_id: str = "intro", **fields: object) -> Shot:
    return Shot(id=f"shot-{index}", scene_id=scene_id, index=index, line=20 + index, lang="zh", **fields)


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Film, list[ShotRecord], AssemblyResult, ReportPaths]:
    root = tmp_path_factory.mktemp("report")
    start = root / "start.png"
    Image.new("RGB", (64, 36), (200, 30, 30)).save(start)
    shots = [
        make_shot(
            0,
            look=Look(lighting=("柔光",), shot_size="特写"),
            transition=Transition("dissolve", 0.25),
            caption="开场",
            image=start,
        ),
        make_shot(1, speed=2.0),
        make_shot(2, scene_id="city", continue_from="shot-1"),
    ]
    film = Film(
        path=root / "film.yaml",
        source_sha256="ab" * 32,
        title="<Demo> 短片",
        lang="zh",
        scenes=(Scene("intro", "开场 <一>", tuple(shots[:2])), Scene("city", None, (shots[2],))),
        opening=TitleCard("短片", duration=0.5),
    )
    clips = [clip(root / f"c{n}.mp4", 16 + 4 * n, 16, 60 + 40 * n) for n in range(3)]
    records = [
        ShotRecord(
            shot=s,
            clip=c,
            prompt=f"镜头 {s.id} <script>alert(1)</script> & more",
            negative="色调艳丽",
            mode="t2v",
            warnings=(f"W001 {s.id} looks odd",),
            settings=take_settings(seed=42 + s.index, frames=probe(c).frames),
            weights_fingerprint="f" * 16,
            cache_keys={"clips": f"key{s.index}"},
            cached=s.index == 1,
            seconds=1.75 + s.index,
            tiny=True,
        )
        for s, c in zip(shots, clips)
    ]
    metadata = manifest_metadata(film, records, profile="preview", run_info={"host": "test"})
    result = assemble(
        film,
        [CutClip(r.shot, r.clip) for r in records],
        root / "out" / "film.mp4",
        width=64,
        height=36,
        metadata=metadata,
    )
    paths = make_report(film, records, result, root / "out", profile="preview", run_info={"host": "test"}).write()
    return film, records, result, paths


def test_manifest_holds_provenance_and_travels_in_the_mp4(reported) -> None:
    film, records, result, paths = reported
    manifest = json.loads(paths.manifest.read_text(encoding="utf-8"))
    assert manifest["film"]["spec_sha256"] == film.source_sha256 and manifest["profile"] == "preview"
    assert [s["id"] for s in manifest["shots"]] == ["shot-0", "shot-1", "shot-2"]
    first = manifest["shots"][0]
    assert (first["seed"], first["backend"], first["cache_keys"], first["look"]["shot_size"]) == (
        42,
        "t2v-a14b",
        {"clips": "key0"},
        "特写",
    )
    assert manifest["output"]["frames"] == result.frames == probe(result.path).frames
    embedded = json.loads(probe(result.path).metadata["comment"])
    assert [s["prompt"] for s in embedded["shots"]] == [r.prompt for r in records]


def test_the_same_clips_cut_twice_give_the_same_film_bytes(reported, tmp_path: Path) -> None:
    """Render seconds, cached or not and the run's loads live in manifest.json, not in the film."""
    film, records, result, _ = reported
    again = [replace(r, seconds=r.seconds + 10, cached=not r.cached) for r in records]
    metadata = manifest_metadata(film, again, profile="preview", run_info={"loads": [{"model": "x", "worker": "w"}]})
    clips = [CutClip(r.shot, r.clip) for r in again]
    second = assemble(film, clips, tmp_path / "film.mp4", width=64, height=36, metadata=metadata)
    assert second.path.read_bytes() == result.path.read_bytes()
    assert "seconds" not in json.loads(probe(second.path).metadata["comment"])["shots"][0]


def test_contact_sheet_has_a_row_per_shot(reported) -> None:
    _, records, _, paths = reported
    sheet = Image.open(paths.contact_sheet)
    row = sheet.height // len(records)
    assert sheet.height % len(records) == 0 and row >= 108 + 16
    rows = np.asarray(sheet.convert("L"))
    # the shots are shaded 60, 100, 140: each row's thumbnails show its own shade
    shades = [float(np.median(rows[r * row + 20 : r * row + 60, 200:360])) for r in range(3)]
    assert shades == sorted(shades) and shades[2] - shades[0] > 40


def test_otio_loads_back_and_matches_the_cut(reported) -> None:
    _, records, result, paths = reported
    timeline = otio.adapters.read_from_file(str(paths.otio))
    track = timeline.tracks[0]
    assert timeline.duration() == otio.opentime.RationalTime(result.frames, 24)
    clips = [item for item in track if isinstance(item, otio.schema.Clip)]
    assert [c.name for c in clips] == ["opening", "shot-0", "shot-1", "shot-2"]
    transitions = [item for item in track if isinstance(item, otio.schema.Transition)]
    assert [t.transition_type for t in transitions] == [otio.schema.TransitionTypes.SMPTE_Dissolve]
    assert clips[1].metadata["wanflow"]["provenance"]["seed"] == 42
    assert Path(clips[1].media_reference.target_url.removeprefix("file://")) == records[0].clip.resolve()
    assert clips[2].effects[0].time_scalar == 2.0


def test_storyboard_html_is_self_contained_and_escaped(reported) -> None:
    _, records, _, paths = reported
    html = paths.html.read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;Demo&gt;" in html
    assert "http://" not in html and "https://" not in html
    assert html.count("data:image/jpeg;base64,") == 3 * len(records) + 2  # + two start frames


def test_storyboard_html_tells_the_whole_story(reported) -> None:
    _, records, _, paths = reported
    html = paths.html.read_text(encoding="utf-8")
    assert "These pictures are noise." in html  # the records come from the tiny models
    assert '<section class="scene" id="scene-intro">' in html and "<h2>开场 &lt;一&gt;</h2>" in html
    assert '<section class="scene" id="scene-city">' in html and "<h2>city</h2>" in html
    assert html.index('id="shot-shot-1"') < html.index('id="scene-city"') < html.index('id="shot-shot-2"')
    assert 'from <a href="#shot-shot-1">shot-1</a>' in html and '<a href="#shot-shot-2">shot-2</a>' in html
    assert "starts from the start image start.png" in html and "starts from the last frame of shot-1" in html


def test_storyboard_and_manifest_times_are_the_runs_numbers(reported) -> None:
    _, records, _, paths = reported
    html = paths.html.read_text(encoding="utf-8")
    manifest = json.loads(paths.manifest.read_text(encoding="utf-8"))
    for record, entry in zip(records, manifest["shots"]):
        assert entry["seconds"] == record.seconds
        if record.cached:
            assert "cached: nothing rendered this run" in html
        else:  # formatted as the console's run table formats run.json's seconds
            assert f"rendered in {record.seconds:.1f} s" in html and f"{record.seconds:.1f} s this run" in html


def test_storyboard_html_shows_every_shot_in_a_real_browser(reported, tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI: run scripts/install-system-deps.sh")
        pytest.skip("chromium not installed (scripts/install-system-deps.sh installs it)")
    _, records, _, paths = reported
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path}",
        "--dump-dom",
        paths.html.resolve().as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    for record in records:
        assert f'id="shot-{record.shot.id}"' in dom
        assert record.prompt.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in dom


def test_thumbnails_read_with_the_cuts_probes_probe_nothing_again(reported, monkeypatch) -> None:
    _, records, _, _ = reported
    probes = {record.clip: probe(record.clip) for record in records}
    alone = read_thumbnails(records)

    def probed_twice(path: Path) -> None:
        raise AssertionError(f"{path} probed again")

    monkeypatch.setattr(contact_sheet_module, "probe", probed_twice)
    given = read_thumbnails(records, probes)
    for shot_id, images in alone[0].items():
        assert [image.tobytes() for image in images] == [image.tobytes() for image in given[0][shot_id]]
