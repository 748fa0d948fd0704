"""The artifact store on a real folder: round trips, keys, corruption, atomicity, locking, gc."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch

import wanflow.cache.store
from wanflow import settings
from wanflow.backends.tensors import TENSORS_NAME, get_tensors, put_tensors
from wanflow.cache import admin
from wanflow.cache.store import (
    CODE_VERSION,
    TEMP_PREFIX,
    ArtifactStore,
    default_cache_dir,
)

REPO = Path(__file__).resolve().parents[2]


def _key(name: str, kind: str = "latents") -> str:
    return ArtifactStore.key(kind, {"name": name})


def _clip_file(folder: Path, name: str = "clip.mp4", size: int = 4096) -> Path:
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


def _age_entry(store: ArtifactStore, kind: str, key: str, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(store.entry_dir(kind, key) / "last_used", (then, then))


# ---- round trips ---------------------------------------------------------------------------


def test_tensors_round_trip_bit_exact_with_dtypes(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    tensors = {
        "latents": torch.randn(1, 16, 5, 12, 20, dtype=torch.float32),
        "embeds": torch.randn(512, 64).to(torch.bfloat16),
        "half": torch.randn(3, 7).to(torch.float16),
        "ids": torch.arange(10, dtype=torch.int64),
        "strided": torch.randn(8, 6).t(),  # not contiguous
    }
    key = _key("shot-1")
    assert not store.has("latents", key)
    assert get_tensors(store, "latents", key) is None

    entry_dir = put_tensors(store, "latents", key, tensors, {"shot": "s1", "steps": 4})

    assert entry_dir == tmp_path / "cache" / "latents" / key[:2] / key
    assert store.has("latents", key)
    got, meta = get_tensors(store, "latents", key)
    assert meta == {"shot": "s1", "steps": 4}
    assert set(got) == set(tensors)
    for name, tensor in tensors.items():
        assert got[name].dtype == tensor.dtype
        assert torch.equal(got[name], tensor)
    record = json.loads((entry_dir / "meta.json").read_text())
    data = (entry_dir / TENSORS_NAME).read_bytes()
    assert record["files"][TENSORS_NAME] == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert record["code"] == CODE_VERSION and record["kind"] == "latents" and record["key"] == key
    assert "created" in record


def test_file_round_trip_moves_the_file_in_and_keeps_its_suffix(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    src = _clip_file(tmp_path)
    content = src.read_bytes()
    key = _key("clip-1", "clips")

    stored = store.put_file("clips", key, src, {"fps": 16})

    assert not src.exists()
    assert stored.suffix == ".mp4" and stored.parent == store.entry_dir("clips", key)
    assert store.get_file("clips", key) == stored
    assert stored.read_bytes() == content
    assert store.get_file("clips", _key("other", "clips")) is None


def test_a_second_put_replaces_the_entry(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    key = _key("clip", "clips")
    store.put_file("clips", key, _clip_file(tmp_path, "a.mp4"), {"n": 1})
    rerendered = _clip_file(tmp_path, "b.mp4")
    content = rerendered.read_bytes()
    stored = store.put_file("clips", key, rerendered, {"n": 2})  # e.g. `wanflow run --force`
    assert store.get_file("clips", key) == stored and stored.read_bytes() == content
    assert store.get_meta("clips", key) == {"n": 2}
    assert [path.name for path in (tmp_path / "cache" / "clips").iterdir()] == [key[:2]]  # no temp left


def test_get_meta_is_cheap_and_unchecked(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    key = _key("meta")
    assert store.get_meta("latents", key) is None
    entry_dir = put_tensors(store, "latents", key, {"x": torch.ones(4)}, {"shot": "s1"})
    (entry_dir / TENSORS_NAME).write_bytes(b"broken")
    assert store.get_meta("latents", key) == {"shot": "s1"}
    assert store.has("latents", key)


# ---- keys ----------------------------------------------------------------------------------


def test_key_is_sha256_of_canonical_json_and_ignores_dict_order() -> None:
    payload = {"prompt": "雨夜, neon", "seed": 42, "shift": 5.0, "guidance": [4.0, 3.0], "lora": None}
    reordered = dict(reversed(list(payload.items())))
    expected_text = (
        '{"code":"' + CODE_VERSION + '","guidance":[4.0,3.0],"kind":"latents","lora":null,'
        '"prompt":"雨夜, neon","seed":42,"shift":5.0}'
    )
    expected = hashlib.sha256(expected_text.encode("utf-8")).hexdigest()
    assert ArtifactStore.key("latents", payload) == expected
    assert ArtifactStore.key("latents", reordered) == expected


def test_key_changes_with_every_field_the_kind_and_code_version(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"prompt": "a", "seed": 1, "shift": 5.0, "guidance": [4.0, 3.0], "image": None, "tiled": False}
    variants = [
        {**base, "prompt": "b"},
        {**base, "seed": 2},
        {**base, "seed": 1.0},  # int and float are different inputs
        {**base, "shift": 5.000001},
        {**base, "guidance": [3.0, 4.0]},
        {**base, "image": "abc"},
        {**base, "tiled": True},
        {**base, "tiled": 0},
        {**base, "extra": None},
        {k: v for k, v in base.items() if k != "image"},
    ]
    keys = {ArtifactStore.key("latents", base)} | {ArtifactStore.key("latents", v) for v in variants}
    assert len(keys) == len(variants) + 1
    assert ArtifactStore.key("embeds", base) not in keys
    monkeypatch.setattr(wanflow.cache.store, "CODE_VERSION", CODE_VERSION + "-next")
    assert ArtifactStore.key("latents", base) not in keys


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"path": Path("x.png")}, TypeError),
        ({"tags": {"a", "b"}}, TypeError),
        ({"nested": {"deep": [object()]}}, TypeError),
        ({"nested": {1: "int key"}}, TypeError),
        ({"scale": float("nan")}, ValueError),
        ({"kind": "clips"}, ValueError),
        ({"code": "0"}, ValueError),
    ],
)
def test_key_refuses_values_without_one_json_text(payload: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        ArtifactStore.key("latents", payload)


def test_kind_and_key_are_checked(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(ValueError):
        ArtifactStore.key("Latents/..", {})
    with pytest.raises(ValueError):
        store.has("latents", "../../etc")
    assert store.has("my_kind-2", _key("x")) is False


# ---- corruption ----------------------------------------------------------------------------


def _assert_discarded(store: ArtifactStore, kind: str, key: str, caplog: pytest.LogCaptureFixture, why: str) -> None:
    assert not store.entry_dir(kind, key).exists()
    assert not store.has(kind, key)
    assert [(c.kind, c.key) for c in store.discarded] == [(kind, key)]
    assert why in store.discarded[0].reason
    warnings = [r for r in caplog.records if r.name == "wanflow.cache.store" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and key in warnings[0].getMessage()


def test_truncated_tensors_are_warned_about_removed_and_read_as_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ArtifactStore(tmp_path / "cache")
    key = _key("t")
    entry_dir = put_tensors(store, "latents", key, {"x": torch.randn(64, 64)}, {})
    data_path = entry_dir / TENSORS_NAME
    data_path.write_bytes(data_path.read_bytes()[:-100])
    with caplog.at_level(logging.WARNING, logger="wanflow.cache.store"):
        assert get_tensors(store, "latents", key) is None
    _assert_discarded(store, "latents", key, caplog, "truncated")


def test_bit_flipped_clip_is_warned_about_removed_and_read_as_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ArtifactStore(tmp_path / "cache")
    key = _key("c", "clips")
    stored = store.put_file("clips", key, _clip_file(tmp_path), {})
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="wanflow.cache.store"):
        assert store.get_file("clips", key) is None
    _assert_discarded(store, "clips", key, caplog, "sha256")


def test_missing_meta_reads_as_missing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = ArtifactStore(tmp_path / "cache")
    key = _key("m")
    entry_dir = put_tensors(store, "latents", key, {"x": torch.ones(3)}, {})
    (entry_dir / "meta.json").unlink()
    with caplog.at_level(logging.WARNING, logger="wanflow.cache.store"):
        assert get_tensors(store, "latents", key) is None
    _assert_discarded(store, "latents", key, caplog, "meta.json is missing")


def test_unreadable_safetensors_with_matching_checksum_reads_as_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ArtifactStore(tmp_path / "cache")
    key = _key("u")
    entry_dir = put_tensors(store, "latents", key, {"x": torch.ones(3)}, {})
    garbage = b"\xff" * 64
    (entry_dir / TENSORS_NAME).write_bytes(garbage)
    record = json.loads((entry_dir / "meta.json").read_text())
    record["files"][TENSORS_NAME] = {"size": len(garbage), "sha256": hashlib.sha256(garbage).hexdigest()}
    (entry_dir / "meta.json").write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="wanflow.cache.store"):
        assert get_tensors(store, "latents", key) is None
    _assert_discarded(store, "latents", key, caplog, "unreadable tensors.safetensors")


def test_the_lock_pattern_rebuilds_a_corrupt_entry_in_one_pass(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    key = _key("locked")
    entry_dir = put_tensors(store, "latents", key, {"x": torch.ones(8)}, {})
    (entry_dir / TENSORS_NAME).write_bytes(b"\0" * 10)
    other_store = ArtifactStore(tmp_path / "cache")  # same folder, same process: same lock
    with store.lock("latents", key):
        assert get_tensors(other_store, "latents", key) is None
        put_tensors(store, "latents", key, {"x": torch.full((8,), 2.0)}, {"rebuilt": True})
    tensors, meta = get_tensors(store, "latents", key)
    assert meta == {"rebuilt": True} and torch.equal(tensors["x"], torch.full((8,), 2.0))
    assert len(other_store.discarded) == 1


def test_put_replaces_a_corrupt_entry(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    key = _key("r", "clips")
    stored = store.put_file("clips", key, _clip_file(tmp_path, "a.mp4"), {})
    stored.write_bytes(b"broken")
    staged = store.scratch_dir() / "b.mp4"
    staged.write_bytes(b"fresh clip")
    again = store.put_file("clips", key, staged, {"second": True})
    assert store.get_file("clips", key) == again and again.read_bytes() == b"fresh clip"
    assert store.get_meta("clips", key) == {"second": True}
    assert list(store.scratch_dir().iterdir()) == []


def test_verify_reports_and_fix_removes_corrupt_entries(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    good, bad = _key("good", "clips"), _key("bad", "clips")
    store.put_file("clips", good, _clip_file(tmp_path, "g.mp4"), {})
    store.put_file("clips", bad, _clip_file(tmp_path, "b.mp4"), {}).write_bytes(b"short")
    seen: list[tuple[int, int]] = []

    report = admin.verify(store, progress=lambda done, total: seen.append((done, total)))
    assert [(c.key, "truncated" in c.reason) for c in report] == [(bad, True)]
    assert store.has("clips", bad) and seen[-1] == (2, 2)

    assert [c.key for c in admin.verify(store, fix=True)] == [bad]
    assert not store.has("clips", bad) and store.has("clips", good)
    assert admin.verify(store) == []


# ---- atomicity -----------------------------------------------------------------------------


def test_a_put_that_fails_midway_leaves_no_entry_and_no_temp(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    key = _key("fail")
    shared = torch.zeros(4)
    with pytest.raises(RuntimeError, match="share memory"):
        put_tensors(store, "latents", key, {"a": shared, "b": shared}, {})
    assert not store.has("latents", key)
    assert get_tensors(store, "latents", key) is None
    assert list((tmp_path / "cache" / "latents").iterdir()) == []

    src = _clip_file(tmp_path)
    with pytest.raises(TypeError):
        store.put_file("clips", _key("f", "clips"), src, {"when": object()})
    assert src.exists()


_SLOW_WRITER = """
import sys, torch
from pathlib import Path
from wanflow.backends.tensors import put_tensors
from wanflow.cache.store import ArtifactStore
store = ArtifactStore(Path(sys.argv[1]))
put_tensors(store, "latents", sys.argv[2], {"x": torch.ones(24 * 1024 * 1024)}, {})
"""


def test_a_writer_killed_midway_leaves_no_entry_and_gc_clears_its_temp(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    key = _key("killed")
    child = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(root), key])
    kind_dir = root / "latents"
    deadline = time.monotonic() + 60

    def writing() -> bool:  # the data file has bytes but the entry is not published yet
        temp_data = kind_dir.glob(f"{TEMP_PREFIX}*/{TENSORS_NAME}") if kind_dir.is_dir() else []
        return any(path.exists() and path.stat().st_size > 0 for path in temp_data)

    while not writing():
        assert child.poll() is None, "the writer finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL

    store = ArtifactStore(root)
    assert not store.has("latents", key)
    assert get_tensors(store, "latents", key) is None
    assert list(admin.entries(store)) == []
    (temp_dir,) = [p for p in kind_dir.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert admin.gc(store, older_than=timedelta(0)).leftovers_removed == 0  # fresh: maybe still writing
    old = time.time() - 2 * 3600
    os.utime(temp_dir, (old, old))
    result = admin.gc(store, older_than=timedelta(0))
    assert result.leftovers_removed == 1 and result.freed > 0
    assert not temp_dir.exists()


# ---- locking -------------------------------------------------------------------------------

_RACER = """
import sys, time
from pathlib import Path
from wanflow.cache.store import ArtifactStore
root, key, counter, work = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
store = ArtifactStore(root)
with store.lock("clips", key):
    if not store.has("clips", key):
        with open(counter, "a") as handle:
            handle.write("built\\n")
        time.sleep(0.5)
        work.write_bytes(b"rendered clip")
        store.put_file("clips", key, work, {})
print(store.get_file("clips", key).read_bytes().decode())
"""


def test_processes_racing_on_one_key_build_it_once(tmp_path: Path) -> None:
    root, key, counter = tmp_path / "cache", _key("race", "clips"), tmp_path / "builds.txt"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(root), key, str(counter), str(tmp_path / f"work{i}.mp4")],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    outputs = [racer.communicate(timeout=60)[0].strip() for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0]
    assert outputs == ["rendered clip"] * 3
    assert counter.read_text() == "built\n"


def test_gc_leaves_an_entry_whose_lock_is_held(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    key = _key("busy", "clips")
    store.put_file("clips", key, _clip_file(tmp_path), {})
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.lock("clips", key):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        result = admin.gc(store, keep=set())
    finally:
        release.set()
        holder.join()
    assert result.removed == [] and result.kept == 1 and store.has("clips", key)
    assert len(admin.gc(store, keep=set()).removed) == 1 and not store.has("clips", key)


# ---- gc, entries, du -----------------------------------------------------------------------


def test_gc_by_keep_set_and_by_age(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    keys = {name: _key(name, "clips") for name in ("used", "old", "new")}
    for name, key in keys.items():
        store.put_file("clips", key, _clip_file(tmp_path, f"{name}.mp4"), {"name": name})
    _age_entry(store, "clips", keys["used"], days=30)
    _age_entry(store, "clips", keys["old"], days=10)
    with pytest.raises(ValueError):
        admin.gc(store)

    dry = admin.gc(store, keep={keys["used"]}, dry_run=True)
    assert {e.key for e in dry.removed} == {keys["old"], keys["new"]} and dry.dry_run
    assert all(store.has("clips", key) for key in keys.values())

    by_both = admin.gc(store, keep={keys["used"]}, older_than=timedelta(days=7))
    assert [e.key for e in by_both.removed] == [keys["old"]] and by_both.kept == 2
    assert by_both.freed == by_both.removed[0].size > 4096

    assert store.get_file("clips", keys["used"]) is not None  # a read counts as a use
    by_age = admin.gc(store, older_than=timedelta(days=7))
    assert by_age.removed == [] and by_age.kept == 2

    by_keep = admin.gc(store, keep={keys["new"]})
    assert [e.key for e in by_keep.removed] == [keys["used"]]
    assert [e.key for e in admin.entries(store)] == [keys["new"]]


def test_gc_clears_trash_and_stale_temp_dirs(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    store.put_file("clips", _key("k", "clips"), _clip_file(tmp_path), {})
    kind_dir = tmp_path / "cache" / "clips"
    stale, fresh, trash = kind_dir / ".tmp-stale", kind_dir / ".tmp-fresh", kind_dir / ".trash-x"
    for folder in (stale, fresh, trash):
        folder.mkdir()
        (folder / "data.mp4").write_bytes(b"0" * 100)
    staged_stale, staged_fresh = store.scratch_dir() / "old.mp4", store.scratch_dir() / "new.mp4"
    staged_stale.write_bytes(b"0" * 50)
    staged_fresh.write_bytes(b"0" * 50)
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(staged_stale, (old, old))

    dry = admin.gc(store, older_than=timedelta(days=1), dry_run=True)
    assert dry.leftovers_removed == 3 and dry.freed == 250 and stale.exists() and staged_stale.exists()
    result = admin.gc(store, older_than=timedelta(days=1))
    assert result.leftovers_removed == 3 and result.freed == 250 and result.removed == []
    assert not stale.exists() and not trash.exists() and not staged_stale.exists()
    assert fresh.exists() and staged_fresh.exists()
    assert len(list(admin.entries(store))) == 1


def test_entries_and_du(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "cache")
    clip = store.put_file("clips", _key("c", "clips"), _clip_file(tmp_path, size=1000), {"shot": "s1"})
    put_tensors(store, "latents", _key("l"), {"x": torch.zeros(256)}, {"shot": "s1"})
    put_tensors(store, "embeds", _key("e", "embeds"), {"x": torch.zeros(16)}, {})
    broken = put_tensors(store, "embeds", _key("e2", "embeds"), {"x": torch.zeros(16)}, {})
    (broken / "meta.json").write_text("{not json")

    listed = list(admin.entries(store))
    assert [e.kind for e in listed] == ["clips", "embeds", "embeds", "latents"]
    (clip_entry,) = admin.entries(store, "clips")
    assert clip_entry.meta == {"shot": "s1"} and clip_entry.path == clip.parent
    assert clip_entry.size == sum(p.stat().st_size for p in clip.parent.iterdir())
    assert clip_entry.created <= clip_entry.last_used
    assert sorted(e.meta is None for e in admin.entries(store, "embeds")) == [False, True]
    assert list(admin.entries(store, "nothing")) == []

    usage = {row.kind: (row.entries, row.size) for row in admin.du(store)}
    assert set(usage) == {"clips", "embeds", "latents"}
    assert usage["clips"] == (1, clip_entry.size) and usage["embeds"][0] == 2
    assert admin.du(ArtifactStore(tmp_path / "absent")) == []


def test_default_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANFLOW_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_cache_dir(None) == tmp_path / ".wanflow" / "cache"
    assert default_cache_dir(tmp_path / "specs" / "film.yaml") == tmp_path / "specs" / ".wanflow" / "cache"
    monkeypatch.setenv("WANFLOW_CACHE", str(tmp_path / "shared"))
    settings.reload()
    assert default_cache_dir(tmp_path / "specs" / "film.yaml") == tmp_path / "shared"


def test_inside_a_repository_the_default_cache_is_at_its_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run (given specs/film.yaml) and `cache ls` (given nothing) agree from any folder."""
    monkeypatch.delenv("WANFLOW_CACHE", raising=False)
    repo = tmp_path / "films"
    (repo / "specs" / "act1").mkdir(parents=True)
    (repo / ".git").write_text("gitdir: elsewhere\n")  # a worktree's .git is a file
    expected = repo / ".wanflow" / "cache"
    assert default_cache_dir(repo / "specs" / "act1" / "film.yaml") == expected
    for folder in (repo, repo / "specs", repo / "specs" / "act1"):
        monkeypatch.chdir(folder)
        assert default_cache_dir(None) == expected
        assert default_cache_dir(Path("film.yaml")) == expected  # a relative spec resolves first


def test_light_commands_do_not_import_torch() -> None:
    code = "import sys, wanflow.cache.store, wanflow.cache.admin; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "False"
