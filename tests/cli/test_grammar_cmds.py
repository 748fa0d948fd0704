"""`wanflow compile` and `wanflow vocab` through the real CLI app, on a real storyboard file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanflow.cli.app import app

SPEC = """\
wanflow: 1
title: Fox
lang: zh
scenes:
  - id: forest
    shots:
      - id: s1
        subject: 一只红狐狸
        scene: 在雪林中
        action: 缓缓走过
        look:
          style: watercolor
          lighting: [soft light, rim-light]
          time_of_day: Dusk
          shot_size: wide
        camera: truck right
      - id: s2
        continue_from: s1
        action: 回头张望
        look:
          lighting: [hard]
        camera: [static, push in]
"""

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture()
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "film.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def test_compile_prints_the_exact_prompts_and_warnings(spec: Path) -> None:
    result = runner.invoke(app, ["compile", str(spec)])
    assert result.exit_code == 0, result.output
    assert "水彩画，柔光，边缘光，黄昏，全景，一只红狐狸，在雪林中，缓缓走过，镜头向右移动。\n" in result.stdout
    assert "回头张望，固定镜头，镜头推进。\n" in result.stdout
    assert "s2 · image-to-video · zh" in result.stdout
    assert "色调艳丽，过曝" in result.stdout  # the official negative prompt
    assert "W004-ignored-for-i2v s2 look.lighting" in result.stderr
    assert "W001-contradiction s2 camera" in result.stderr
    assert "W006-film-look-on-non-film-style s1 look.style, look.lighting" in result.stderr
    assert "W00" not in result.stdout
    assert "why " not in result.stderr  # explanations only with --explain


def test_compile_json_is_stable_and_complete(spec: Path) -> None:
    first = runner.invoke(app, ["compile", str(spec), "--json", "--lang", "en"])
    second = runner.invoke(app, ["compile", str(spec), "--json", "--lang", "en"])
    assert first.exit_code == 0 and first.stdout == second.stdout
    records = json.loads(first.stdout)
    assert [r["shot_id"] for r in records] == ["s1", "s2"]
    assert list(records[0]) == ["shot_id", "mode", "lang", "prompt", "negative", "phrases", "warnings"]
    assert records[0]["prompt"] == (
        "watercolor, soft lighting, edge lighting, dusk, wide shot, 一只红狐狸, 在雪林中, 缓缓走过, camera moves right."
    )
    assert records[1]["mode"] == "i2v"
    assert {"code": "W004-ignored-for-i2v", "field": "look.lighting"}.items() <= records[1]["warnings"][0].items()


def test_compile_one_shot_with_explanation(spec: Path) -> None:
    result = runner.invoke(app, ["compile", str(spec), "--shot", "s1", "--explain"])
    assert result.exit_code == 0, result.output
    assert "s2" not in result.stdout
    assert any("边缘光" in line and "look.lighting" in line for line in result.stdout.splitlines())
    assert any("一只红狐狸" in line and "subject" in line for line in result.stdout.splitlines())
    assert "why W006-film-look-on-non-film-style: the official rewriter adds no film aesthetics" in " ".join(
        result.stderr.split()
    )


def test_compile_unknown_shot_is_a_user_error(spec: Path) -> None:
    result = runner.invoke(app, ["compile", str(spec), "--shot", "s3"])
    assert result.exit_code == 2
    assert "no shot 's3'" in result.stderr and "s1, s2" in result.stderr
    assert "Traceback" not in result.output


def test_compile_through_the_console_script(spec: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("wanflow")), "compile", str(spec), "--shot", "s1", "--lang", "en"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "watercolor, soft lighting, edge lighting" in done.stdout


def test_vocab_lists_categories_and_terms() -> None:
    listing = runner.invoke(app, ["vocab"])
    assert listing.exit_code == 0
    assert "look.lighting" in listing.stdout and "光线类型" in listing.stdout and "camera" in listing.stdout
    terms = runner.invoke(app, ["vocab", "lighting"])
    assert terms.exit_code == 0
    assert "边缘光" in terms.stdout and "edge lighting" in terms.stdout and "rim light" in terms.stdout
    english = runner.invoke(app, ["vocab", "shot_size", "--lang", "en"])
    assert "extreme close-up" in english.stdout and "特写" not in english.stdout


def test_vocab_unknown_category_suggests_and_exits_2() -> None:
    result = runner.invoke(app, ["vocab", "lightning"])
    assert result.exit_code == 2
    assert "did you mean lighting" in result.stderr.lower()
