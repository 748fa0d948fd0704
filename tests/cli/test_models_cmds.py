"""`wanflow models ...` through the real CLI app, on a fresh models root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from wanflow.cli.app import app

runner = CliRunner()


def test_make_tiny_then_verify_then_list_on_a_fresh_root(tmp_path: Path) -> None:
    env = {"WANFLOW_MODELS": str(tmp_path / "models")}
    made = runner.invoke(app, ["models", "make-tiny"], env=env)
    assert made.exit_code == 0, made.output
    assert (tmp_path / "models" / "tiny" / "i2v-a14b" / "transformer_2" / "config.json").is_file()
    verified = runner.invoke(app, ["models", "verify", "--tiny"], env=env)
    assert verified.exit_code == 0, verified.output
    assert verified.output.count("ok tiny model") == 3
    # right after make-tiny, a plain `verify` checks what is installed: the tiny models
    plain = runner.invoke(app, ["models", "verify"], env=env)
    assert plain.exit_code == 0, plain.output
    assert plain.output.count("ok tiny model") == 3 and "no models installed" not in plain.output
    one = runner.invoke(app, ["models", "verify", "i2v-a14b"], env=env)
    assert one.exit_code == 0 and one.output.count("ok tiny model i2v-a14b") == 1
    listed = runner.invoke(app, ["models", "list"], env=env)
    assert listed.exit_code == 0
    assert "tiny: i2v-a14b, t2v-a14b, ti2v-5b" in listed.output and "usable backends: none" in listed.output

    (tmp_path / "models" / "tiny" / "t2v-a14b" / "transformer_2" / "config.json").unlink()
    broken = runner.invoke(app, ["models", "verify", "t2v-a14b", "--tiny"], env=env)
    assert broken.exit_code == 2
    assert "transformer_2/config.json" in broken.output


def test_verify_and_make_tiny_with_out(tmp_path: Path) -> None:
    env = {"WANFLOW_MODELS": str(tmp_path / "empty")}
    missing = runner.invoke(app, ["models", "verify", "ti2v-5b"], env=env)
    assert missing.exit_code == 2 and "wanflow models pull ti2v-5b" in missing.output
    nothing = runner.invoke(app, ["models", "verify"], env=env)
    assert nothing.exit_code == 2
    assert "`wanflow models pull NAME` (real) or `wanflow models make-tiny` (tiny)" in nothing.output
    unknown = runner.invoke(app, ["models", "verify", "wan9"], env=env)
    assert unknown.exit_code == 2 and "known models: ti2v-5b, t2v-a14b, i2v-a14b" in unknown.output
    out = runner.invoke(app, ["models", "make-tiny", "--out", str(tmp_path / "elsewhere")], env=env)
    assert out.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["i2v-a14b", "t2v-a14b", "ti2v-5b"]


def test_pull_offline_fails_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "models"
    env = {**os.environ, "WANFLOW_MODELS": str(root), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    code = "from wanflow.cli.app import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "models", "pull", "t2v-a14b"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "could not download Wan-AI/Wan2.2-T2V-A14B-Diffusers" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (root / "t2v-a14b").exists() and not (root / ".t2v-a14b.partial").exists()
