"""Benchmark: wanflow's assembly against the equivalent single hand-written ffmpeg command.

Two edits of 8 clips: all cuts (wanflow takes its stream-copy path; the hand-written command
is the concat demuxer with `-c copy`) and all dissolves (one xfade filtergraph, libx264
veryfast at the same CRF). Prints wanflow time / hand-written time and records the results
between the bench_assemble markers of benchmarks/README.md (other sections are kept).

    python benchmarks/bench_assemble.py            # 8 clips of 49 frames at 1280x704, 24 fps
    python benchmarks/bench_assemble.py --quick    # tiny clips: a smoke test of this script
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from wanflow.atomic import write_text_atomic
from wanflow.film import Film, Output, Scene, Shot, Transition
from wanflow.media.cut import CutClip, assemble
from wanflow.media.ffmpeg import H264_PRESET, probe, run_ffmpeg
from wanflow.media.filtergraph import concat_list
from wanflow.media.inputs import CLIP_FORMAT

START, END = "<!-- bench_assemble:start -->", "<!-- bench_assemble:end -->"
CLIPS, FPS, CRF, DISSOLVE = 8, 24, 18, 0.5
# Both sides encode alike, so the ratio measures the edit, not the encoder settings.
H264_ARGS = ["-c:v", "libx264", "-preset", H264_PRESET, "-crf", str(CRF), "-pix_fmt", "yuv420p"]


def make_clips(folder: Path, width: int, height: int, frames: int) -> list[Path]:
    paths = []
    for number in range(CLIPS):
        path = folder / f"clip{number}.mp4"
        run_ffmpeg(
            [
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={width}x{height}:rate={FPS}",
                "-frames:v",
                str(frames),
                "-vf",
                f"hue=h={number * 45}",
                *H264_ARGS,
                str(path),
            ],
            what="make a benchmark clip",
        )
        paths.append(path)
    return paths


def make_film(transition: Transition) -> Film:
    shots = tuple(
        Shot(id=f"s{n}", scene_id="a", index=n, line=n + 1, lang="en", transition=transition) for n in range(CLIPS)
    )
    return Film(
        path=Path("bench.yaml"),
        source_sha256="0" * 64,
        title="bench",
        lang="en",
        scenes=(Scene("a", None, shots),),
        output=Output(fps=FPS, crf=CRF),
    )


def hand_cuts(clips: list[Path], out: Path, work: Path) -> None:
    listing = work / "list.txt"
    listing.write_text(concat_list(clips, CLIP_FORMAT), encoding="utf-8")
    run_ffmpeg(
        ["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(out)],
        what="concatenate by hand",
    )


def hand_dissolves(clips: list[Path], out: Path, frames: int) -> None:
    inputs: list[str] = []
    chains = []
    current = "0:v"
    length = frames / FPS
    for number, clip in enumerate(clips):
        inputs += ["-i", str(clip)]
        if number:
            offset = number * (length - DISSOLVE)
            chains.append(
                f"[{current}][{number}:v]xfade=transition=fade:duration={DISSOLVE}:offset={offset:.6f}[x{number}]"
            )
            current = f"x{number}"
    run_ffmpeg(
        [
            *inputs,
            "-filter_complex",
            ";".join(chains),
            "-map",
            f"[{current}]",
            *H264_ARGS,
            "-movflags",
            "+faststart",
            str(out),
        ],
        what="dissolve by hand",
    )


def best_of(repeats: int, job: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return min(times)


def run(quick: bool) -> list[tuple[str, float, float, str]]:
    width, height, frames, repeats = (128, 64, 24, 1) if quick else (1280, 704, 49, 3)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-assemble-") as folder:
        work = Path(folder)
        clips = make_clips(work, width, height, frames)
        for name, transition in (("8 cuts", Transition("cut")), ("8 dissolves", Transition("dissolve", DISSOLVE))):
            film = make_film(transition)
            cut = [CutClip(shot, clip) for shot, clip in zip(film.shots, clips)]
            outcome: dict[str, object] = {}

            def ours() -> None:
                outcome["result"] = assemble(film, cut, work / "ours.mp4", width=width, height=height)

            def theirs() -> None:
                if transition.type == "cut":
                    hand_cuts(clips, work / "hand.mp4", work)
                else:
                    hand_dissolves(clips, work / "hand.mp4", frames)

            wanflow_seconds = best_of(repeats, ours)
            hand_seconds = best_of(repeats, theirs)
            result = outcome["result"]
            assert probe(work / "hand.mp4").frames == result.frames, "the two edits differ in length"
            path = "stream copy" if result.stream_copy else "one encode"
            rows.append((name, wanflow_seconds, hand_seconds, f"{result.frames} frames, {path}"))
    return rows


def table(rows: list[tuple[str, float, float, str]], quick: bool) -> str:
    size = "128x64, 24 frames" if quick else "1280x704, 49 frames"
    lines = [
        START,
        "## bench_assemble",
        "",
        f"8 clips ({size} each, {FPS} fps, H.264 {H264_PRESET} CRF {CRF}); best of "
        f"{1 if quick else 3} runs on {platform.machine()} with {platform.python_implementation()} "
        f"{platform.python_version()}. Run: `python benchmarks/bench_assemble.py`.",
        "",
        "| edit | wanflow (s) | hand-written ffmpeg (s) | ratio | output |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {name} | {ours:.2f} | {hand:.2f} | {ours / hand:.2f} | {note} |" for name, ours, hand, note in rows]
    lines += [
        "",
        "wanflow's time includes probing every clip (exact frame counts), writing caption sidecars and "
        "checking the written film's frame count.",
        END,
    ]
    return "\n".join(lines)


def update_readme(readme: Path, section: str) -> None:
    text = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    write_text_atomic(readme, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny clips: checks the script still works")
    parser.add_argument(
        "--readme",
        type=Path,
        default=Path(__file__).parent / "README.md",
        help="markdown file whose bench_assemble section is updated",
    )
    args = parser.parse_args()
    rows = run(args.quick)
    for name, ours, hand, note in rows:
        print(f"{name:12s} wanflow {ours:6.2f}s  hand-written {hand:6.2f}s  ratio {ours / hand:5.2f}  ({note})")
    update_readme(args.readme, table(rows, args.quick))


if __name__ == "__main__":
    main()
