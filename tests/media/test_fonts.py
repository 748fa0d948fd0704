"""A film's on-screen text needs a Chinese font: a missing one is found before any shot renders.

Each case runs in a fresh process, as a user's command would: the font lookup is cached per
process. `WANFLOW_FONT` pointing at nothing is the font lookup failing for real (on a machine
with the CJK fonts installed, it is the one way to make it fail).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SPEC = """\
wanflow: 1
title: Fonts
lang: en
profiles:
  test: {{ text: t2v-a14b, image: i2v-a14b, size: 64x48, steps: 2, tiny: true }}
{titles}
scenes:
  - id: one
    shots:
      - id: wade
        subject: an astronaut
        action: wades through water
        duration: 0.3
        caption: 他们终于到了
"""


def _env(**changes: str) -> dict[str, str]:
    return {**os.environ, "WANFLOW_FONT": "/nowhere/NotoSansCJK.ttc", **changes}


def _wanflow(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from wanflow.cli.app import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def test_titles_without_a_font_stop_run_and_plan_before_any_rendering(tmp_path: Path, tiny_models_root: Path) -> None:
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC.format(titles="titles: {opening: 灯塔}"), encoding="utf-8")
    env = _env(WANFLOW_CACHE=str(tmp_path / "cache"))
    ran = _wanflow("run", str(spec), "--profile", "test", "--out", str(tmp_path / "out"), env=env, cwd=tmp_path)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    [line] = ran.stderr.splitlines()
    assert line.startswith(f"error: {spec}: titles.opening: titles.opening draw text on screen: WANFLOW_FONT points")
    assert "Traceback" not in ran.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()  # nothing rendered, nothing cut

    planned = _wanflow("plan", str(spec), "--profile", "test", env=env, cwd=tmp_path)
    assert planned.returncode == 2 and "titles.opening draw text on screen" in planned.stderr

    spec.write_text(SPEC.format(titles="output: {burn_captions: true}"), encoding="utf-8")
    burned = _wanflow("plan", str(spec), "--profile", "test", env=env, cwd=tmp_path)
    assert burned.returncode == 2 and "output.burn_captions draw text on screen" in burned.stderr


def test_a_film_without_on_screen_text_needs_no_chinese_font(tmp_path: Path) -> None:
    """Soft subtitles need no font; the contact sheet's labels (ids, seconds) fall back to Pillow's."""
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC.format(titles=""), encoding="utf-8")
    code = (
        "from pathlib import Path\n"
        "from wanflow.media.fonts import font_problems, load_label_font\n"
        "from wanflow.storyboard import load_film\n"
        f"print(font_problems(load_film(Path({str(spec)!r}))))\n"
        "print(load_label_font(16).getbbox('wade 0.31s · t2v-a14b')[2] > 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "True"]
