"""`wanflow models pull|list|verify` for GGUF experts and the lightx2v LoRAs, on tiny GGUF files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanflow.backends.quantized import gguf_path
from wanflow.backends.tiny_gguf import write_tiny_gguf_model
from wanflow.cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_tiny_gguf_model("t2v-a14b", root / "tiny")
    return root


def models(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.setenv("WANFLOW_MODELS", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub read the variable when it was imported: offline now, not after its network retries
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    return runner.invoke(app, ["models", *args])


def test_list_and_verify_show_and_check_the_gguf_experts(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = models(root, monkeypatch, "list")
    assert listed.exit_code == 0
    assert "Wan2.2-T2V-A14B-HighNoise-Q8_0.gguf" in listed.stdout and "q4_k_s" in listed.stdout
    verified = models(root, monkeypatch, "verify", "t2v-a14b")
    assert verified.exit_code == 0 and verified.stdout.count("ok GGUF expert t2v-a14b") == 4


def test_verify_refuses_a_gguf_of_the_wrong_quant_or_a_changed_file(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "models"
    shutil.copytree(root, copy)
    base = copy / "tiny"
    q8 = gguf_path(base, "t2v-a14b", "transformer", "q8_0")
    shutil.copyfile(q8, gguf_path(base, "t2v-a14b", "transformer", "q4_k_s"))
    (q8.parent / (q8.name + ".sha256")).write_text("0" * 64 + "\n", encoding="utf-8")
    result = models(copy, monkeypatch, "verify", "t2v-a14b")
    assert result.exit_code == 2
    assert "its weights are Q8_0, not Q4_K (q4_k_s)" in result.stderr
    assert "SHA-256 is not the one recorded" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pull", "i2v-a14b", "--quant", "q3"], "--quant must be one of q8_0, q4_k_s"),
        (["pull", "ti2v-5b", "--quant", "q8_0"], "no GGUF experts are published for ti2v-5b"),
        (
            ["pull", "t2v-a14b", "--quant", "q4_k_s"],
            "run `wanflow models pull t2v-a14b --quant q4_k_s` again to resume",
        ),
        (["pull", "lightx2v"], "run `wanflow models pull lightx2v` again to resume"),
    ],
)
def test_pull_says_one_thing_when_it_cannot(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = models(tmp_path, monkeypatch, *args)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
