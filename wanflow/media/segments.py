"""Segments of the cut as their own video files, for editors: title cards, and shots as the film plays them."""

from __future__ import annotations

import tempfile
from pathlib import Path

from wanflow.atomic import atomic_path
from wanflow.film import Film
from wanflow.media.cards import render_title_card
from wanflow.media.ffmpeg import H264_PRESET, probe, run_ffmpeg
from wanflow.media.filtergraph import shot_chain, still_frames
from wanflow.media.inputs import clip_input, image_input
from wanflow.media.timeline import Timeline


def render_cards(timeline: Timeline, folder: Path) -> dict[str, Path]:
    """Each title card as a video of its exact frames; label -> file."""
    cards = {}
    for segment in timeline.segments:
        if segment.card is None:
            continue
        path = folder / f"{segment.label}.mp4"
        with tempfile.TemporaryDirectory(prefix="wanflow-card-") as work:
            png = Path(work) / "card.png"
            render_title_card(segment.card, timeline.width, timeline.height).save(png)
            with atomic_path(path) as temp:
                run_ffmpeg(
                    [*image_input(png, fps=timeline.fps), "-vf", still_frames(segment.frames)]
                    + ["-c:v", "libx264", "-preset", H264_PRESET, "-pix_fmt", "yuv420p", "-r", str(timeline.fps)]
                    + ["-movflags", "+faststart", "-f", "mp4", str(temp)],
                    what=f"render the {segment.label} card",
                    file=path,
                )
                written = probe(temp).frames
                if written != segment.frames:
                    raise RuntimeError(f"{segment.label} card has {written} frames, planned {segment.frames}")
        cards[segment.label] = path
    return cards


def conform_shots(film: Film, cut: Timeline, folder: Path) -> dict[str, Path]:
    """Render each shot segment exactly as the film plays it (its `frames` at the film's fps); id -> file."""
    paths = {}
    for segment in cut.segments:
        if segment.shot is None:
            continue
        assert segment.source is not None
        info = probe(segment.source)
        chain, label = shot_chain(
            segment,
            0,
            cut,
            fit=film.output.fit,
            width=info.width,
            height=info.height,
            source_size=(info.width, info.height),
            interpolate=film.output.interpolate,
        )
        path = folder / f"{segment.label}.mp4"
        with atomic_path(path) as temp:
            run_ffmpeg(
                [*clip_input(segment.source), "-filter_complex", chain, "-map", f"[{label}]"]
                + ["-c:v", "libx264", "-preset", H264_PRESET, "-crf", str(film.output.crf), "-r", str(cut.fps)]
                + ["-movflags", "+faststart", "-f", "mp4", str(temp)],
                what=f"conform shot {segment.label}",
                file=path,
            )
            if probe(temp).frames != segment.frames:
                raise RuntimeError(f"conformed {segment.label} differs from its {segment.frames} planned frames")
        paths[segment.label] = path
    return paths
