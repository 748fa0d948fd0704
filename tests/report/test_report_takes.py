"""Takes in the report: side by side as muted loops with their seeds, the chosen one marked; a row on the contact sheet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from factories import take_settings
from PIL import Image

from wanflow.film import Film, Scene, Shot
from wanflow.media.cut import CutClip, assemble
from wanflow.media.ffmpeg import write_clip
from wanflow.report.storyboard import ShotRecord, TakeRecord, make_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHADES = {1: 40, 2: 120, 3: 220}  # take -> grey level of its clip


def clip(path: Path, shade: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_clip(np.full((17, 36, 64, 3), shade, np.uint8), 16, path)
    return path


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("takes")
    out = root / "out"
    shots = [
        Shot(id="single", scene_id="s", index=0, line=5, lang="zh"),
        Shot(id="city", scene_id="s", index=1, line=9, lang="zh", takes=3, take=2),
    ]
    film = Film(root / "film.yaml", "cd" * 32, "Takes", "zh", (Scene("s", None, tuple(shots)),))
    takes = [
        TakeRecord(
            take, 1000 + take, clip(out / "takes" / "city" / f"take-{take}.mp4", SHADES[take]), take == 2, False, 1.0
        )
        for take in (1, 2, 3)
    ]
    single = clip(out / "takes" / "single" / "take-1.mp4", 90)
    common = dict(
        prompt="p", negative="n", mode="t2v", warnings=(), weights_fingerprint="f" * 16, cache_keys={},
        cached=False, seconds=1.0, tiny=True,
    )  # fmt: skip
    records = [
        ShotRecord(
            shot=shots[0],
            clip=single,
            settings=take_settings(seed=7),
            takes=(TakeRecord(1, 7, single, True, False, 1.0),),
            **common,
        ),
        ShotRecord(shot=shots[1], clip=takes[1].clip, settings=take_settings(seed=1002), takes=tuple(takes), **common),
    ]
    result = assemble(film, [CutClip(r.shot, r.clip) for r in records], out / "film.mp4", width=64, height=36)
    return records, make_report(film, records, result, out, profile="preview", run_info={}).write()


def test_the_storyboard_plays_each_take_muted_and_marks_the_chosen_one(reported) -> None:
    _, paths = reported
    html = paths.html.read_text(encoding="utf-8")
    assert html.count("<video ") == 3  # the single-take shot has nothing to compare
    for take in (1, 2, 3):
        assert f'<video src="takes/city/take-{take}.mp4" muted loop autoplay playsinline' in html
        assert f"take {take} · seed {1000 + take}" in html
        assert (paths.html.parent / "takes" / "city" / f"take-{take}.mp4").is_file()
    assert '<figure class="take chosen" id="take-city-2">' in html
    assert html.count("take chosen") == 1 and html.count("in the film") == 1
    assert "take</dt><dd>2 of 3" in html


def test_the_manifest_lists_every_take(reported) -> None:
    _, paths = reported
    shots = {entry["id"]: entry for entry in json.loads(paths.manifest.read_text(encoding="utf-8"))["shots"]}
    assert shots["city"]["take"] == 2
    assert [(t["take"], t["seed"], t["chosen"]) for t in shots["city"]["takes"]] == [
        (1, 1001, False),
        (2, 1002, True),
        (3, 1003, False),
    ]
    assert [t["take"] for t in shots["single"]["takes"]] == [1]


def test_the_contact_sheet_has_a_row_of_takes_under_the_shot(reported) -> None:
    _, paths = reported
    sheet = np.asarray(Image.open(paths.contact_sheet).convert("L"))
    rows = 3  # single, city, city's takes
    row = sheet.shape[0] // rows
    assert sheet.shape[0] % rows == 0
    takes_row = sheet[2 * row + 30 : 3 * row - 12]  # below the labels drawn over each thumbnail
    left, step = 170, 192 + 8
    shades = [float(np.median(takes_row[:, left + k * step + 20 : left + k * step + 170])) for k in range(3)]
    assert [abs(shade - SHADES[k + 1]) < 12 for k, shade in enumerate(shades)] == [True, True, True]
    outline = Image.open(paths.contact_sheet).convert("RGB").getpixel((left + step - 2, 2 * row + 40))
    assert outline[0] > 200 and outline[2] < 120  # the chosen take (2) is outlined in amber


def test_a_report_without_takes_to_compare_has_no_takes_row(reported, tmp_path: Path) -> None:
    records, _ = reported
    single = [replace(records[0], shot=replace(records[0].shot, index=0))]
    film = Film(tmp_path / "film.yaml", "ef" * 32, "One", "zh", (Scene("s", None, (single[0].shot,)),))
    result = assemble(film, [CutClip(single[0].shot, single[0].clip)], tmp_path / "film.mp4", width=64, height=36)
    paths = make_report(film, single, result, tmp_path, profile="preview", run_info={}).write()
    assert Image.open(paths.contact_sheet).height == 108 + 2 * 8  # one row: 64x36 thumbnails at 192 wide, padded
    assert "<video" not in paths.html.read_text(encoding="utf-8")


PROBE = """<script>
setTimeout(() => {
  for (const video of document.querySelectorAll("video")) {
    video.dataset.probe = [video.readyState >= 2, video.muted, video.loop, video.videoWidth].join(" ");
  }
}, 2000);
</script></body>"""


def test_takes_play_muted_in_a_real_browser(reported, tmp_path: Path) -> None:
    """Chromium decodes every take (a frame is ready) and plays it muted, in a loop, at its size."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI: run scripts/install-system-deps.sh")
        pytest.skip("chromium not installed (scripts/install-system-deps.sh installs it)")
    _, paths = reported
    probe_page = paths.html.with_name("probe.html")  # the report plus a script that reads its players back
    probe_page.write_text(paths.html.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={tmp_path}", "--virtual-time-budget=10000", "--dump-dom", probe_page.resolve().as_uri(),
    ]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    probe_page.unlink()
    assert dom.count('data-probe="true true true 64"') == 3, dom[-3000:]
