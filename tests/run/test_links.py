"""Links committed in a storyboard repository are never followed where wanflow writes or deletes,
the records read back from out/ are untrusted, and each storyboard keeps its own outputs.

Through the real CLI. Each hostile case is answered before any work (exit 2, one line per link,
no traceback) or skipped and reported; an outside folder's files are compared before and after.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from wanflow.cache import ArtifactStore
from wanflow.cli.app import app

SPEC = """\
wanflow: 1
title: Links
lang: en
profiles:
  test: { text: t2v-a14b, image: i2v-a14b, size: 128x80, steps: 2, tiny: true }
scenes:
  - id: one
    shots:
      - { id: wade, subject: an astronaut, action: wades through water, duration: 0.5 }
"""
runner = CliRunner()


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` (links not followed) with its bytes: what "unchanged" compares."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def _repo(base: Path) -> tuple[Path, Path, Path]:
    """A storyboard repository with specs/film.yaml, and an outside folder holding files."""
    root, outside = base / "repo", base / "outside"
    (root / ".git").mkdir(parents=True)
    (root / "specs").mkdir()
    spec = root / "specs" / "film.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    outside.mkdir()
    (outside / "notes.txt").write_text("keep me\n", encoding="utf-8")
    (outside / "photo.mp4").write_bytes(b"\0" * 64)
    old = time.time() - 7200  # older than gc's hour for leftovers
    os.utime(outside / "notes.txt", (old, old))
    os.utime(outside / "photo.mp4", (old, old))
    return root, spec, outside


def _link(path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


# ---- a run refuses a link below --out or the cache, before any work ---------------------------

LINKS = {  # committed link -> where it points ("outside": the folder; "outside/notes.txt": a file)
    "out/film/clips": "outside",
    "out/film/takes/wade": "outside",
    "out/film/.wanflow-out.lock": "outside/notes.txt",
    ".wanflow/cache/clips": "outside",
    ".wanflow/cache/.scratch": "outside",
    ".wanflow/cache/.locks": "outside",
}


@pytest.mark.parametrize("committed", list(LINKS))
def test_a_run_refuses_a_committed_link_where_it_writes(
    tmp_path: Path, tiny_models_root: Path, monkeypatch: pytest.MonkeyPatch, committed: str
) -> None:
    root, spec, outside = _repo(tmp_path)
    monkeypatch.delenv("WANFLOW_CACHE", raising=False)
    _link(root / committed, tmp_path / LINKS[committed])
    before = _snapshot(outside)
    result = runner.invoke(app, ["run", str(spec), "--profile", "preview", "--out", str(root / "out")])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    field = "cache" if committed.startswith(".wanflow") else "--out"
    assert (
        line
        == f"error: wanflow: {field}: {root / committed} is a link; wanflow never writes or deletes through a link there: remove it"
    )
    assert "Traceback" not in result.output
    assert _snapshot(outside) == before and sorted(p.name for p in outside.iterdir()) == ["notes.txt", "photo.mp4"]


# ---- cache gc never deletes through a link -----------------------------------------------------


def _old_entries(cache: Path, count: int, owner: str = "ours") -> list[str]:
    """`count` clip entries put in `cache` (real store writes), last used two hours ago."""
    store, keys = ArtifactStore(cache), []
    for index in range(count):
        source = cache.parent / f"clip{index}.mp4"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(bytes([index]) * 32)
        key = store.key("clips", {"n": index, "owner": owner})
        store.put_file("clips", key, source, {"n": index})
        old = time.time() - 7200
        os.utime(store.entry_dir("clips", key) / "last_used", (old, old))
        keys.append(key)
    return keys


def test_cache_gc_refuses_a_wanflow_folder_linked_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _spec, _outside = _repo(tmp_path)
    elsewhere = tmp_path / "someone-elses"
    _old_entries(elsewhere / "cache", 3)
    before = _snapshot(elsewhere)
    _link(root / ".wanflow", elsewhere)
    monkeypatch.delenv("WANFLOW_CACHE", raising=False)
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["cache", "gc", "--older-than", "1h"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: command line: cache: {root / '.wanflow' / 'cache'} is inside the storyboard")
    assert _snapshot(elsewhere) == before


def test_cache_gc_skips_and_reports_links_inside_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _spec, outside = _repo(tmp_path)
    cache = root / ".wanflow" / "cache"
    keys = _old_entries(cache, 2)
    elsewhere = tmp_path / "other-cache"  # someone's cache: a kind folder and an entry linked in
    other = _old_entries(elsewhere / "cache", 1, owner="theirs")
    before = {folder: _snapshot(folder) for folder in (outside, elsewhere)}
    _link(cache / ".scratch", outside)
    _link(cache / "latents", elsewhere / "cache" / "clips")
    shard = cache / "clips" / other[0][:2]
    _link(shard / other[0], elsewhere / "cache" / "clips" / other[0][:2] / other[0])
    monkeypatch.delenv("WANFLOW_CACHE", raising=False)
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["cache", "gc", "--older-than", "1h"])
    assert result.exit_code == 0, result.output
    for link in (cache / ".scratch", cache / "latents", shard / other[0]):
        assert f"ignored {link}: a link" in result.output.replace("\n", "")
        assert link.is_symlink()
    assert "removed 2 entries" in result.output  # its own two old entries, nothing through a link
    assert not any((cache / "clips" / key[:2] / key).exists() for key in keys)
    assert {folder: _snapshot(folder) for folder in (outside, elsewhere)} == before


def test_make_tiny_refuses_a_link_in_the_models_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _root, _spec, outside = _repo(tmp_path)
    models = tmp_path / "models"
    _link(models / "tiny" / "t2v-a14b", outside)
    monkeypatch.setenv("WANFLOW_MODELS", str(models))
    before = _snapshot(outside)
    result = runner.invoke(app, ["models", "make-tiny"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert (
        line
        == f"error: {models}: {models / 'tiny' / 't2v-a14b'} is a link; wanflow never writes or deletes through a link there: remove it"
    )
    assert _snapshot(outside) == before and not (models / "tiny" / "i2v-a14b").exists()


# ---- the cut's stamp is untrusted; each storyboard has its own outputs -------------------------


@pytest.fixture(scope="module")
def studio(prefect_server, tiny_models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A repository whose film was rendered and cut once: (spec, outside folder)."""
    root, spec, outside = _repo(tmp_path_factory.mktemp("links"))
    first = _run(spec)
    assert first.exit_code == 0, first.output
    return spec, outside


def _run(spec: Path) -> Result:
    """`wanflow run` in this process (the session's Prefect server, the repository's own cache)."""
    assert "WANFLOW_CACHE" not in os.environ
    return runner.invoke(app, ["run", str(spec), "-p", "test", "-o", str(spec.parents[1] / "out")])


def test_a_forged_stamp_is_ignored_and_the_film_cut_again(studio: tuple[Path, Path]) -> None:
    """`out/` is the storyboard author's: a stamp listing /dev/zero (reading it would never end), or
    naming an outside file as the film (a fresh clone would report it without cutting), is ignored."""
    spec, outside = studio
    out = spec.parents[1] / "out" / "film"
    stamp_path = out / ".film.cut.json"
    forged = outside / "photo.mp4"
    forgeries = {
        "/dev/zero": lambda stamp: stamp["files"].update({"/dev/zero": {"size": 0, "sha256": "0" * 64}}),
        "an outside film": lambda stamp: (
            stamp.update(film=str(forged)),
            stamp["files"].update({str(forged): {"size": 64, "sha256": "0" * 64}}),
        ),
    }
    before = _snapshot(outside)
    for forge in forgeries.values():
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
        assert set(stamp["files"]) >= {"film.mp4", "storyboard.html"}  # names in its own folder
        forge(stamp)
        stamp_path.write_text(json.dumps(stamp), encoding="utf-8")
        result = _run(spec)
        assert result.exit_code == 0, result.output
        assert "nothing changed" not in result.output and str(outside) not in result.output
        run = json.loads((out / "run.json").read_text(encoding="utf-8"))
        assert run["film"] == str(out / "film.mp4") and all(Path(p).parent == out for p in run["report"].values())
    assert _snapshot(outside) == before
    assert "nothing changed" in _run(spec).output  # the fresh stamp is trusted again


def test_two_storyboards_keep_their_own_outputs(studio: tuple[Path, Path]) -> None:
    """specs/film.yaml and specs/trailer.yaml, alternated: the second run of each changes nothing."""
    spec, _outside = studio
    trailer = spec.with_name("trailer.yaml")
    trailer.write_text(SPEC.replace("title: Links", "title: Trailer"), encoding="utf-8")
    out = spec.parents[1] / "out"
    film_bytes = (out / "film" / "film.mp4").read_bytes()
    assert _run(trailer).exit_code == 0
    for name in ("film", "trailer"):
        again = _run(spec.with_name(f"{name}.yaml"))
        assert again.exit_code == 0 and "nothing changed" in again.output, again.output
        names = {path.name for path in (out / name).iterdir()}
        assert names >= {f"{name}.mp4", "storyboard.html", "contact_sheet.png", "manifest.json", "run.json", "clips"}
        assert json.loads((out / name / "run.json").read_text(encoding="utf-8"))["film"] == str(
            out / name / f"{name}.mp4"
        )
    assert (out / "film" / "film.mp4").read_bytes() == film_bytes
    html = (out / "trailer" / "storyboard.html").read_text(encoding="utf-8")
    assert "Trailer" in html


def test_a_second_spec_of_the_same_name_is_refused(studio: tuple[Path, Path]) -> None:
    spec, _outside = studio
    other = spec.parents[1] / "drafts" / "film.yaml"
    other.parent.mkdir(exist_ok=True)
    other.write_text(SPEC, encoding="utf-8")
    out = spec.parents[1] / "out"
    result = runner.invoke(app, ["run", str(other), "-p", "test", "-o", str(out)])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line == (
        f"error: wanflow: --out: {out / 'film'} holds the outputs of specs/film.yaml; drafts/film.yaml has the "
        "same name: rename one, or give it another --out"
    )
