"""The storyboard report next to the film: contact sheet, storyboard.html, manifest.json, timelines.

The manifest is the provenance of every shot (spec hash, compiled prompt, seed, weights,
LoRAs, cache keys, timings); `manifest_metadata` gives the same record compactly for the
MP4's `comment` tag, so a film file still says where it came from when it travels alone.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import quote

import jinja2
from PIL import Image

import wanflow
from wanflow.atomic import write_bytes_atomic
from wanflow.film import Film, Shot
from wanflow.media.cut import AssemblyResult
from wanflow.media.ffmpeg import VideoInfo
from wanflow.report.contact_sheet import clip_thumbnails, contact_sheet, take_thumbnails, thumbnail
from wanflow.report.otio import build_otio, render_timeline_media
from wanflow.report.records import ShotRecord, TakeRecord
from wanflow.report.timelines import timeline_texts
from wanflow.report.words import film_vocabulary, look_words
from wanflow.storyboard.mediafiles import open_start_image

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ReportPaths:
    contact_sheet: Path
    html: Path
    manifest: Path
    otio: Path | None = None  # the timelines the film's `output.timelines` asks for
    fcp_xml: Path | None = None
    edl: Path | None = None


def look_fields(shot: Shot) -> dict[str, str]:
    """The look fields the shot sets, lists joined, in declaration order."""
    values = {}
    for item in fields(shot.look):
        value = getattr(shot.look, item.name)
        if value:
            values[item.name] = "、".join(value) if isinstance(value, tuple) else str(value)
    return values


def shot_provenance(record: ShotRecord) -> dict[str, object]:
    shot = record.shot
    return {
        "id": shot.id,
        "scene": shot.scene_id,
        "index": shot.index,
        "spec_line": shot.line,
        "clip": str(record.clip),
        "mode": record.mode,
        "backend": record.backend,
        "prompt": record.prompt,
        "negative": record.negative,
        "seed": record.settings.seed,
        "steps": record.settings.steps,
        "width": record.settings.width,
        "height": record.settings.height,
        "frames": record.settings.frames,
        "fps": record.settings.fps,
        "weights_fingerprint": record.weights_fingerprint,
        "loras": [{"path": str(lora.path), "scale": lora.scale, "expert": lora.expert} for lora in shot.loras],
        "image": str(shot.image) if shot.image else None,
        "continue_from": shot.continue_from,
        "cache_keys": dict(record.cache_keys),
        "take": shot.take,
        "takes": [
            {"take": take.take, "seed": take.seed, "clip": str(take.clip), "chosen": take.chosen}
            for take in record.takes
        ],
        "cached": record.cached,
        "seconds": record.seconds,
        "tiny": record.tiny,
        "look": look_fields(shot),
        "camera": list(shot.camera),
        "caption": shot.caption,
        "transition": {"type": shot.transition.type, "duration": shot.transition.duration},
        "lint_warnings": list(record.warnings),
        **({"model_layout": record.model_layout} if record.model_layout is not None else {}),
        **_end_fields(record),
    }


def _end_fields(record: ShotRecord) -> dict[str, object]:
    """run.json's end frame of a shot that has one: the file it ends on, or the shot whose first frame it is."""
    if record.settings.end_image is not None:
        return {"end_image": str(record.settings.end_image), "end_at": record.shot.end_at}
    if record.shot.end_at is not None:
        return {"end_image": None, "end_at": record.shot.end_at}
    return {}


def build_manifest(film: Film, records: list[ShotRecord], *, profile: str, run_info: dict) -> dict:
    """Provenance of the whole film; `output` is added once the film is assembled."""
    return {
        "wanflow_version": wanflow.__version__,
        "film": {"title": film.title, "spec": str(film.path), "spec_sha256": film.source_sha256, "lang": film.lang},
        "profile": profile,
        "run": run_info,
        "shots": [shot_provenance(record) for record in records],
    }


_RUN_FIELDS = ("cached", "seconds")  # a shot's provenance fields that say how this run went


def manifest_metadata(film: Film, records: list[ShotRecord], *, profile: str, run_info: dict) -> dict[str, str]:
    """`assemble(..., metadata=...)`: the manifest as compact JSON in the MP4's comment tag.

    Only what the film's pictures and sound come from: what changes from run to run (render
    seconds, cached or not, the run's model loads and workers) stays in manifest.json, so the
    same clips cut twice give the same film, byte for byte."""
    manifest = build_manifest(film, records, profile=profile, run_info=run_info)
    manifest.pop("run")
    for shot in manifest["shots"]:
        for varying in _RUN_FIELDS:
            shot.pop(varying, None)
    return {"comment": json.dumps(manifest, ensure_ascii=False, separators=(",", ":"), default=str)}


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # optimize=True: 1 % smaller, 2.5x slower
    return buffer.getvalue()


def _data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _image_thumbnail(path: Path) -> Image.Image:
    with open_start_image(path) as image:  # a start image: its own format only, within the pixel limit
        return thumbnail(image)


def _start_frame(record: ShotRecord, thumbs: dict[str, list[Image.Image]]) -> dict[str, str] | None:
    """What the shot starts from: its own image, or the last frame of the shot it continues."""
    shot = record.shot
    if shot.image is not None:
        return {"what": f"start image {shot.image.name}", "uri": _data_uri(_image_thumbnail(shot.image))}
    if shot.continue_from is not None and shot.continue_from in thumbs:
        return {"what": f"last frame of {shot.continue_from}", "uri": _data_uri(thumbs[shot.continue_from][-1])}
    return None


def _end_frame(record: ShotRecord, thumbs: dict[str, list[Image.Image]]) -> dict[str, str] | None:
    """What the shot ends on: its end image (its own, or the image of the shot it ends at), or that shot's first frame."""
    shot = record.shot
    if record.settings.end_image is not None:
        return {
            "what": f"end image {record.settings.end_image.name}",
            "uri": _data_uri(_image_thumbnail(record.settings.end_image)),
        }
    if shot.end_at is not None and shot.end_at in thumbs:
        return {"what": f"first frame of {shot.end_at}", "uri": _data_uri(thumbs[shot.end_at][0])}
    return None


def _take_items(record: ShotRecord, base: Path) -> list[dict[str, object]]:
    """The takes to compare, each a muted loop of its clip (a path relative to the report)."""
    if not record.compared:
        return []
    return [{"take": take, "src": quote(Path(os.path.relpath(take.clip, base)).as_posix())} for take in record.takes]


def render_html(
    film: Film,
    records: list[ShotRecord],
    assembly: AssemblyResult | None,
    manifest: dict,
    thumbs: dict[str, list[Image.Image]],
    base: Path,
) -> str:
    """storyboard.html in `base`: self-contained (inline CSS, images as data URIs), user text escaped.

    Only the takes' loops are files beside it (out/takes/), played from their relative paths.
    """
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    continued_by: dict[str, list[str]] = {}
    for record in records:
        if record.shot.continue_from is not None:
            continued_by.setdefault(record.shot.continue_from, []).append(record.shot.id)
    by_id = {record.shot.id: record for record in records}
    vocabulary = film_vocabulary(film)
    scenes = []
    for scene in film.scenes:
        shots = []
        for shot in scene.shots:
            if shot.id not in by_id:
                continue
            record = by_id[shot.id]
            segment = assembly.timeline.shot_segment(shot.id) if assembly is not None else None
            shots.append(
                {
                    "record": record,
                    "look": look_words(shot, vocabulary),
                    "frames": [_data_uri(image) for image in thumbs[shot.id]],
                    "start_frame": _start_frame(record, thumbs),
                    "end_frame": _end_frame(record, thumbs),
                    "continued_by": continued_by.get(shot.id, []),
                    "takes": _take_items(record, base),
                    "start": segment.start_frame / assembly.fps if segment and assembly else None,
                    "length": segment.frames / assembly.fps if segment and assembly else None,
                }
            )
        if shots:
            scenes.append({"scene": scene, "shots": shots})
    return environment.get_template("storyboard.html.j2").render(
        film=film,
        scenes=scenes,
        shot_count=len(records),
        tiny=any(record.tiny for record in records),
        assembly=assembly,
        manifest=manifest,
        version=wanflow.__version__,
    )


Thumbnails = tuple[dict[str, list[Image.Image]], dict[str, list[Image.Image]]]
"""By shot id: its first, middle and last frame; the middle frame of each take it compares."""


def read_thumbnails(records: list[ShotRecord], probes: Mapping[Path, VideoInfo] | None = None) -> Thumbnails:
    """What the contact sheet and the HTML show of each clip; every read is an ffmpeg process, run
    side by side. `probes`: the clips' probes by path, when the cut made them already."""
    compared = [record for record in records if record.compared]
    known = probes or {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as readers:
        frames = readers.map(lambda record: clip_thumbnails(record.clip, known.get(record.clip)), records)
        takes = readers.map(take_thumbnails, compared)
        return (
            dict(zip((record.shot.id for record in records), frames)),
            dict(zip((record.shot.id for record in compared), takes)),
        )


@dataclass(frozen=True)
class Report:
    """The report made and not yet written: each file's path and bytes (the timelines' media,
    title cards and conformed shots, are in the film's folder already)."""

    paths: ReportPaths
    files: dict[Path, bytes]

    def write(self) -> ReportPaths:
        """Write every file (each atomically)."""
        for path, data in self.files.items():
            write_bytes_atomic(path, data)
        return self.paths


def make_report(
    film: Film,
    records: list[ShotRecord],
    assembly: AssemblyResult | None,
    out_dir: Path,
    *,
    profile: str,
    run_info: dict,
    not_cut: str | None = None,
    thumbnails: Thumbnails | None = None,
    probes: Mapping[Path, VideoInfo] | None = None,
) -> Report:
    """The report and the film's timelines for `out_dir`: `make_report(...).write()` writes them
    (each file atomically). A run makes it while the film is cut (`assembly` says what the cut
    will write) and writes it once the film is there.

    Without an `assembly` (the film could not be cut: `not_cut` says why), the report shows the
    shots that have clips, and there is no timeline. `thumbnails`: `read_thumbnails(records)`,
    when the caller read them already; `probes`: the clips' probes, when the cut made them.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = build_manifest(film, records, profile=profile, run_info=run_info)
    thumbs = thumbnails if thumbnails is not None else read_thumbnails(records, probes)
    if assembly is None:
        manifest["output"] = None
        manifest["not_cut"] = not_cut
        paths = ReportPaths(
            contact_sheet=out_dir / "contact_sheet.png",
            html=out_dir / "storyboard.html",
            manifest=out_dir / "manifest.json",
        )
        return Report(paths, _report_files(paths, film, records, None, manifest, thumbs))
    manifest["output"] = {
        "path": str(assembly.path),
        "frames": assembly.frames,
        "duration": assembly.duration,
        "fps": assembly.fps,
        "width": assembly.width,
        "height": assembly.height,
        "stream_copy": assembly.stream_copy,
        "has_audio": assembly.has_audio,
        "subtitles": [str(path) for path in assembly.subtitles],
        "warnings": list(assembly.warnings),
        "segments": [
            {
                "label": s.label,
                "kind": s.kind,
                "start_frame": s.start_frame,
                "frames": s.frames,
                "transition": s.transition,
                "transition_frames": s.transition_frames,
            }
            for s in assembly.timeline.segments
        ],
    }
    media = render_timeline_media(film, assembly.timeline, assembly.path.parent)
    provenance = {entry["id"]: entry for entry in manifest["shots"]}
    timeline = build_otio(assembly.timeline, film.title, media, provenance)
    timelines = timeline_texts(film, assembly.timeline, timeline, media, assembly.path)
    paths = ReportPaths(
        contact_sheet=out_dir / "contact_sheet.png",
        html=out_dir / "storyboard.html",
        manifest=out_dir / "manifest.json",
        **{name: path for name, (path, _) in timelines.items()},
    )
    files = _report_files(paths, film, records, assembly, manifest, thumbs)
    files.update({path: text.encode("utf-8") for path, text in timelines.values()})
    return Report(paths, files)


def _report_files(
    paths: ReportPaths,
    film: Film,
    records: list[ShotRecord],
    assembly: AssemblyResult | None,
    manifest: dict,
    thumbnails: Thumbnails,
) -> dict[Path, bytes]:
    thumbs, take_thumbs = thumbnails  # a shot's three frames; the middle frame of each take
    html = render_html(film, records, assembly, manifest, thumbs, paths.html.parent)
    return {
        paths.contact_sheet: _png_bytes(contact_sheet(records, assembly, thumbs, take_thumbs)),
        paths.html: html.encode("utf-8"),
        paths.manifest: (json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n").encode("utf-8"),
    }


__all__ = [
    "ReportPaths",
    "ShotRecord",
    "TakeRecord",
    "Thumbnails",
    "build_manifest",
    "manifest_metadata",
    "read_thumbnails",
    "Report",
    "make_report",
]
