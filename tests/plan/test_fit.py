"""Memory plans chosen to fit the card, from the real-size estimates, with no model installed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanflow.catalog import BACKENDS
from wanflow.cli.app import app
from wanflow.memory import MEMORY_PLANS
from wanflow.plan.fit import CARD_RESERVE_GIB, Budget, MemoryChoice, choose
from wanflow.plan.memory_table import memory_tables

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "specs" / "film.yaml"
runner = CliRunner()


@pytest.fixture
def no_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANFLOW_MODELS", str(tmp_path / "models"))


def plan_json(*options: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--profile", "final", "--json", *options])
    return result.exit_code, json.loads(result.stdout)


def test_docs_hold_the_tables_the_code_computes() -> None:
    text = (REPO / "docs" / "models.md").read_text(encoding="utf-8")
    documented = re.search(r"<!-- memory-table:begin[^\n]*-->\n(.*)<!-- memory-table:end -->", text, re.S)
    assert documented is not None and documented.group(1) == memory_tables()


def test_the_fitted_official_rows_stay_within_2_percent() -> None:
    from wanflow.backends.peaks import official_peak_gib

    for backend_id in ("t2v-a14b", "i2v-a14b"):
        for label, (w, h) in (("480p", (832, 480)), ("720p", (1280, 720))):
            stated = BACKENDS[backend_id].official_peak_gb[label]
            assert official_peak_gib(backend_id, w, h, 81) == pytest.approx(stated, rel=0.02)


def test_a_24_gib_card_plans_every_shot_of_the_film_at_480p_and_720p(no_models: None) -> None:
    code, data = plan_json("--card", "24")
    assert code == 2 and all("not installed" in problem for problem in data["problems"])  # only the models
    assert {take["shot"] for take in data["takes"]} == {
        "sea",
        "wade",
        "wave",
        "carriage",
        "city",
        "window",
        "reflection",
    }
    for take in data["takes"]:
        assert take["memory"]["peak_gib"] <= 24 - CARD_RESERVE_GIB
        assert take["memory"]["plan"] in MEMORY_PLANS and take["estimated_seconds"] > 0
        assert take["cache"] == "no model" and take["model_installed"] is False
    for backend_id in ("t2v-a14b", "i2v-a14b"):  # 480p too
        found = choose(backend_id, 832, 480, 81, Budget(card_gib=24.0))
        assert isinstance(found, MemoryChoice) and found.peak_gib <= 23


def test_a_16_gib_card_with_16_gib_of_ram_gets_gguf_experts_at_480p() -> None:
    for backend_id in ("t2v-a14b", "i2v-a14b"):
        found = choose(backend_id, 832, 480, 81, Budget(card_gib=16.0, ram_gib=16.0))
        assert isinstance(found, MemoryChoice) and found.plan == "gguf-q4"
        streamed = choose(backend_id, 832, 480, 81, Budget(card_gib=16.0))  # RAM to spare: streaming is faster
        assert isinstance(streamed, MemoryChoice) and streamed.plan == "stream"


def test_an_80_gib_card_keeps_todays_plan(no_models: None) -> None:
    _, data = plan_json("--card", "80")
    assert {take["memory"]["plan"] for take in data["takes"]} == {"resident"}
    assert not any(take["memory"]["text_encoder"] == "cpu" or take["memory"]["vae_tiling"] for take in data["takes"])


def test_a_film_no_plan_fits_is_refused_naming_shot_nearest_plan_and_excess(no_models: None) -> None:
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--profile", "final", "--card", "8", "--ram", "12"])
    assert result.exit_code == 2
    [sea] = [line for line in result.stderr.splitlines() if "shots.sea:" in line]
    assert "no memory plan of t2v-a14b fits a 8 GiB card" in sea and "the nearest, gguf-q4" in sea and "GiB over" in sea
    forced = runner.invoke(app, ["plan", str(EXAMPLE), "--profile", "final", "--card", "24", "--memory", "resident"])
    assert forced.exit_code == 2 and "--memory resident does not fit a 24 GiB card" in forced.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--card", "0"], "--card is the GPU's memory in GiB"),
        (["--memory", "turbo"], "--memory must be one of resident, offload"),
    ],
)
def test_nonsense_card_or_memory_is_one_message(options: list[str], message: str, no_models: None) -> None:
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--profile", "final", *options])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_fitting_keeps_the_keys_of_plans_that_only_move_weights(no_models: None) -> None:
    """`offload` / `stream` leave every key as make_plan made it (continuations and end frames too)."""
    from wanflow.plan import make_plan
    from wanflow.plan.fit import fit_plan
    from wanflow.storyboard import load_film
    from wanflow.take import RenderSettings

    plan = make_plan(load_film(EXAMPLE), "final")
    for forced in ("offload", "stream"):
        fitted, _ = fit_plan(plan, Budget(forced=forced), RenderSettings())
        assert [job.keys for job in fitted.takes] == [job.keys for job in plan.takes]
    fp8, _ = fit_plan(plan, Budget(forced="fp8"), RenderSettings())
    assert all(a.keys.latents != b.keys.latents for a, b in zip(fp8.takes, plan.takes, strict=True))


def test_with_a_card_and_no_ram_the_bound_is_this_machines_memory() -> None:
    """As the card defaults to this machine's, so does the host memory; --ram plans for another."""
    from wanflow.plan import make_plan
    from wanflow.plan.fit import card_budget, this_machine_ram_gib
    from wanflow.storyboard import load_film

    plan = make_plan(load_film(EXAMPLE), "final")
    assert this_machine_ram_gib() is not None
    assert card_budget(plan, 16, None, None).ram_gib == this_machine_ram_gib()
    assert card_budget(plan, 16, 64, None).ram_gib == 64


@pytest.mark.parametrize("backend_id", ["t2v-a14b", "i2v-a14b"])
def test_after_running_out_of_memory_the_advised_plan_holds_less_on_the_card(backend_id: str) -> None:
    """The chain `SMALLER` follows the estimated GPU peaks down, from every plan, to the smallest."""
    from wanflow.backends.peaks import plan_peak
    from wanflow.memory import SMALLER, out_of_memory_advice

    assert set(SMALLER) == set(MEMORY_PLANS)
    for name, smaller in SMALLER.items():
        advice = out_of_memory_advice(name)
        if smaller is None:
            assert "the smallest there is" in advice
            continue
        assert f"`--memory {smaller}`" in advice
        for width, height in ((832, 480), (1280, 720)):
            before = plan_peak(backend_id, MEMORY_PLANS[name], width, height, 81).generate
            after = plan_peak(backend_id, MEMORY_PLANS[smaller], width, height, 81).generate
            assert after < before, (name, smaller, width)


@pytest.mark.parametrize(
    ("profile", "generates"), [("final", True), ("draft", True), ("preview", False), ("animatic", False)]
)
def test_a_card_is_looked_for_only_when_a_real_model_generates(profile: str, generates: bool) -> None:
    """Tiny models and drawn animatic takes hold no card: `card_budget` does not ask for one (torch)."""
    from wanflow.plan import make_plan
    from wanflow.plan.fit import generates_with_real_models
    from wanflow.storyboard import load_film

    assert generates_with_real_models(make_plan(load_film(EXAMPLE), profile)) is generates


@pytest.mark.parametrize(
    ("platform", "driver", "visible", "may_see"),
    [
        ("linux", True, None, True),  # CUDA_VISIBLE_DEVICES unset: every card
        ("linux", False, None, False),  # no NVIDIA driver: no card, without importing torch
        ("linux", True, "", False),  # set and empty: CUDA sees none
        ("linux", True, "-1", False),  # CUDA reads up to the first invalid entry
        ("linux", True, "1,0", True),
        ("linux", True, "GPU-5d2c9f1e", True),
        ("win32", False, None, True),  # elsewhere only torch can tell
        ("win32", False, "", False),
    ],
)
def test_cuda_may_see_a_card_only_with_a_driver_and_a_visible_device(
    platform: str, driver: bool, visible: str | None, may_see: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from wanflow import settings
    from wanflow.backends import peaks

    if driver:
        (tmp_path / "version").write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module\n", encoding="utf-8")
    monkeypatch.setattr(peaks, "NVIDIA_DRIVER", tmp_path / "version")
    monkeypatch.setattr(peaks, "WSL_GPU", tmp_path / "dxg")
    monkeypatch.setattr(sys, "platform", platform)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    monkeypatch.setattr(settings, "_current", None)  # read this environment; the process's comes back after
    assert peaks.card_may_be_visible() is may_see
    if not may_see:
        assert peaks.this_card_gib() is None
