"""`wanflow cache ls|du|gc|verify` against a real cache folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanflow.cache import admin  # noqa: I001
from wanflow.cache.store import ArtifactStore
from wanflow.cli.app import app

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    """Two clips (one idle for ten days) and an embedding."""
    store = ArtifactStore(tmp_path / "cache")
    for name, size in (("fresh", 3000), ("idle", 5000)):
        src = tmp_path / f"{name}.mp4"
        src.write_bytes(os.urandom(size))
        store.put_file("clips", ArtifactStore.key("clips", {"name": name}), src, {"shot": name})
    src = tmp_path / "embeds.bin"
    src.write_bytes(os.urandom(1000))
    store.put_file("embeds", ArtifactStore.key("embeds", {"text": "rain"}), src, {"text": "rain"})
    then = time.time() - 10 * 86400
    os.utime(store.entry_dir("clips", _key("idle")) / "last_used", (then, then))
    return store


def _key(name: str) -> str:
    return ArtifactStore.key("clips", {"name": name})


def _cache(store: ArtifactStore, *args: str) -> list[str]:
    return ["cache", *args, "--cache", str(store.root)]


def test_ls_lists_entries_and_filters_by_kind(store: ArtifactStore) -> None:
    result = runner.invoke(app, _cache(store, "ls"))
    assert result.exit_code == 0, result.output
    assert _key("fresh")[:12] in result.stdout and _key("idle")[:12] in result.stdout
    assert "shot=idle" in result.stdout and "10 days ago" in result.stdout
    assert "3 entries" in result.stdout

    clips_only = runner.invoke(app, _cache(store, "ls", "--kind", "clips"))
    assert clips_only.exit_code == 0
    assert "embeds" not in clips_only.stdout and "2 entries" in clips_only.stdout


def test_ls_piped_keeps_every_word_whole(store: ArtifactStore, tmp_path: Path) -> None:
    """Piped, Rich assumes 80 columns and cut `10 days ago` and long meta in two; a row is one line."""
    src = tmp_path / "long.mp4"
    src.write_bytes(b"x" * 100)
    meta = {"shot": "a-very-long-shot-name-for-the-harbour-at-dusk", "prompt": "一艘小船在黄昏的港口里轻轻摇晃 " * 3}
    store.put_file("clips", ArtifactStore.key("clips", {"name": "long"}), src, meta)
    result = subprocess.run(
        [sys.executable, "-c", "from wanflow.cli.app import main; main()", *_cache(store, "ls")],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 4  # one line per entry
    assert any("10 days ago" in row for row in rows) and any(meta["shot"] in row for row in rows)


def test_ls_of_an_empty_cache_and_a_bad_kind(tmp_path: Path) -> None:
    empty = runner.invoke(app, ["cache", "ls", "--cache", str(tmp_path)])
    assert empty.exit_code == 0 and "no entries" in empty.stdout
    bad = runner.invoke(app, ["cache", "ls", "--kind", "../x", "--cache", str(tmp_path)])
    assert bad.exit_code == 2 and "--kind" in bad.stderr and "Traceback" not in bad.output


@pytest.mark.parametrize("command", ["ls", "du", "verify"])
def test_a_cache_that_is_not_there_is_an_error_not_an_empty_one(tmp_path: Path, command: str) -> None:
    result = runner.invoke(app, ["cache", command, "--cache", str(tmp_path / "nonexistent")])
    assert result.exit_code == 2, result.output
    assert f"--cache: no cache at {tmp_path / 'nonexistent'}" in result.stderr
    assert "entries checked" not in result.output and "Traceback" not in result.output
    from_env = runner.invoke(app, ["cache", command], env={"WANFLOW_CACHE": str(tmp_path / "typo")})
    assert from_env.exit_code == 2 and "WANFLOW_CACHE: no cache at" in from_env.stderr


@pytest.mark.parametrize("command", ["ls", "verify"])
def test_an_unknown_kind_is_an_error_not_zero_entries(store: ArtifactStore, command: str) -> None:
    result = runner.invoke(app, _cache(store, command, "--kind", "clip"))
    assert result.exit_code == 2, result.output
    assert "--kind: unknown kind 'clip'; did you mean 'clips'? (kinds: embeds, latents, clips, sounds)" in result.stderr
    assert "entries checked" not in result.output
    assert runner.invoke(app, _cache(store, command, "--kind", "latents")).exit_code == 0  # known, none held


def test_du_sums_per_kind_and_total(store: ArtifactStore) -> None:
    result = runner.invoke(app, _cache(store, "du"))
    assert result.exit_code == 0, result.output
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in result.stdout.splitlines()]
    rows = {row[0]: row[1:] for row in cells if row}
    assert rows["clips"][0] == "2" and rows["embeds"][0] == "1" and rows["total"][0] == "3"
    clip_bytes = sum(entry.size for entry in admin.entries(store, "clips"))
    assert 8000 < clip_bytes < 10000  # 3000 + 5000 bytes of clips, plus their meta.json
    assert rows["clips"][1] == f"{clip_bytes / 1000:.1f} kB"


def test_gc_by_age_dry_run_then_for_real(store: ArtifactStore) -> None:
    dry = runner.invoke(app, _cache(store, "gc", "--older-than", "7d", "--dry-run"))
    assert dry.exit_code == 0, dry.output
    assert "would remove 1 entries" in dry.stdout and _key("idle")[:12] in dry.stdout
    assert store.has("clips", _key("idle"))

    real = runner.invoke(app, _cache(store, "gc", "--older-than", "1w"))
    assert real.exit_code == 0, real.output
    assert "removed 1 entries" in real.stdout and "kept 2" in real.stdout
    assert not store.has("clips", _key("idle")) and store.has("clips", _key("fresh"))


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--older-than", "seven days"], "--older-than"), (["--older-than", "7"], "not an age"), ([], "say what to keep")],
)
def test_gc_refuses_bad_or_missing_criteria(store: ArtifactStore, args: list[str], message: str) -> None:
    result = runner.invoke(app, _cache(store, "gc", *args))
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert len(list(admin.entries(store))) == 3


def test_verify_exit_codes_and_fix(store: ArtifactStore) -> None:
    clean = runner.invoke(app, _cache(store, "verify"))
    assert clean.exit_code == 0 and "3 entries checked, all intact" in clean.stdout

    stored = store.get_file("clips", _key("fresh"))
    stored.write_bytes(stored.read_bytes()[:100])
    broken = runner.invoke(app, _cache(store, "verify"))
    assert broken.exit_code == 1
    assert f"corrupt clips/{_key('fresh')}" in broken.stdout and "--fix" in broken.stdout
    assert store.has("clips", _key("fresh"))

    fixed = runner.invoke(app, _cache(store, "verify", "--fix"))
    assert fixed.exit_code == 0 and "1 corrupt, removed" in fixed.stdout
    assert not store.has("clips", _key("fresh"))
    assert runner.invoke(app, _cache(store, "verify")).exit_code == 0


def test_the_cache_folder_comes_from_the_environment(store: ArtifactStore, tmp_path: Path) -> None:
    result = runner.invoke(app, ["cache", "du"], env={"WANFLOW_CACHE": str(store.root)})
    assert result.exit_code == 0 and f"cache {store.root}\n" in result.stdout
    assert "│ total  │       3 │" in result.stdout
    file_not_dir = tmp_path / "fresh.txt"
    file_not_dir.write_text("x")
    bad = runner.invoke(app, ["cache", "ls", "--cache", str(file_not_dir)])
    assert bad.exit_code == 2 and "not a cache folder" in bad.stderr


def test_console_script(store: ArtifactStore) -> None:
    wanflow = Path(sys.executable).with_name("wanflow")
    result = subprocess.run([str(wanflow), *_cache(store, "du")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "total" in result.stdout and "embeds" in result.stdout


SPEC = """\
wanflow: 1
title: Gc test
lang: en
profiles:
  test: { backend: ti2v-5b, size: 128x96, steps: 2, tiny: true }
scenes:
  - id: one
    shots:
      - id: wade
        subject: an astronaut
        action: wades through a shallow river
        duration: 0.5
"""


def test_gc_keeps_what_the_storyboard_references(
    tmp_path: Path, tiny_models_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wanflow.plan.jobs import referenced_keys

    monkeypatch.delenv("WANFLOW_CACHE", raising=False)
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC)
    referenced = sorted(referenced_keys(spec))
    assert referenced
    store = ArtifactStore(tmp_path / ".wanflow" / "cache")  # the default: beside the spec
    for index, key in enumerate([referenced[0], ArtifactStore.key("clips", {"old": "edit"})]):
        src = tmp_path / f"clip{index}.mp4"
        src.write_bytes(os.urandom(100))
        store.put_file("clips", key, src, {})

    result = runner.invoke(app, ["cache", "gc", str(spec)])
    assert result.exit_code == 0, result.output
    assert "removed 1 entries" in result.stdout
    assert [entry.key for entry in admin.entries(store)] == [referenced[0]]


def test_from_anywhere_in_the_repository_the_cache_commands_find_what_the_run_wrote(
    tmp_path: Path, tiny_models_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's layout: specs/ inside a git repository, commands run from its root."""
    from wanflow.run.prepare import RunRequest, prepare_run

    monkeypatch.delenv("WANFLOW_CACHE", raising=False)
    repo = tmp_path / "films"
    (repo / ".git").mkdir(parents=True)
    (repo / "specs").mkdir()
    (repo / "specs" / "film.yaml").write_text(SPEC)
    monkeypatch.chdir(repo)
    prepared = prepare_run(RunRequest(Path("specs/film.yaml"), "test"), log=lambda _: None)
    assert prepared.cache_dir == repo / ".wanflow" / "cache"  # where `wanflow run specs/film.yaml` writes
    clip = tmp_path / "wade.mp4"
    clip.write_bytes(os.urandom(100))
    key = prepared.plan.job("wade").keys.clip
    ArtifactStore(prepared.cache_dir).put_file("clips", key, clip, {"shot": "wade"})

    for folder in (repo, repo / "specs"):
        monkeypatch.chdir(folder)
        listed = runner.invoke(app, ["cache", "ls"])
        assert listed.exit_code == 0 and key[:12] in listed.stdout, listed.output
        assert runner.invoke(app, ["cache", "du"]).stdout.count(str(prepared.cache_dir)) == 1
        verified = runner.invoke(app, ["cache", "verify"])
        assert verified.exit_code == 0 and "1 entries checked, all intact" in verified.stdout
    planned = runner.invoke(app, ["plan", str(repo / "specs" / "film.yaml"), "--profile", "test"])
    assert planned.exit_code == 0 and "cached" in planned.stdout  # plan looks where run writes too

    monkeypatch.chdir(tmp_path)  # outside the repository: no cache here, and the error says where runs write
    missing = runner.invoke(app, ["cache", "ls"])
    assert missing.exit_code == 2 and "repository root" in missing.stderr
