"""media.py against the real bundled ffmpeg: writing, probing and decoding clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psutil
import pytest

from wanflow.errors import UserError
from wanflow.media.ffmpeg import probe, read_frames, read_metadata, run_ffmpeg, stream_clip, write_clip


def ramp(frames: int, width: int, height: int) -> np.ndarray:
    """Frame i is a flat grey of level 8*i: easy to recognise after lossy coding."""
    levels = (np.arange(frames) * 8 % 256).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (frames, height, width, 3)).copy()


def test_write_clip_round_trips_through_probe_and_decode(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_clip(ramp(20, 64, 36), 16, path)
    info = probe(path)
    assert (info.frames, info.fps, info.width, info.height) == (20, 16.0, 64, 36)
    assert (info.codec, info.pix_fmt, info.has_audio, info.subtitles) == ("h264", "yuv420p", False, ())
    assert info.duration == pytest.approx(20 / 16)
    frames = read_frames(path)
    assert frames.shape == (20, 36, 64, 3)
    picked = read_frames(path, [-1, 0, 10])
    assert [round(float(frame.mean()) / 8) for frame in picked] == [19, 0, 10]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no temp file left behind


def test_write_clip_rejects_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_clip(np.zeros((4, 35, 64, 3), np.uint8), 16, tmp_path / "odd.mp4")
    with pytest.raises(ValueError):
        write_clip(np.zeros((4, 36, 64), np.uint8), 16, tmp_path / "gray.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_streamed_clip_is_encoded_as_drawn_and_a_bad_frame_leaves_nothing(tmp_path: Path) -> None:
    stream_clip(iter(ramp(12, 64, 36)), (64, 36), 16, tmp_path / "drawn.mp4")
    assert (probe(tmp_path / "drawn.mp4").frames, read_frames(tmp_path / "drawn.mp4").shape) == (12, (12, 36, 64, 3))

    def frames_then_a_wrong_one():
        yield from ramp(5, 64, 36)
        yield np.zeros((36, 62, 3), np.uint8)

    with pytest.raises(ValueError, match="wants uint8 frames"):
        stream_clip(frames_then_a_wrong_one(), (64, 36), 16, tmp_path / "broken.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drawn.mp4"]  # no clip, no temp file
    assert not [child for child in psutil.Process().children() if "ffmpeg" in child.name()]


def test_probe_explains_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        probe(tmp_path / "nope.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(UserError, match="no video stream"):
        probe(text)


def test_metadata_survives_escaping(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    write_clip(ramp(4, 32, 32), 24, clip)
    tricky = '{"a":"b=c;d#e\\\\f","g":"line\\nbreak","h":"镜头"}'
    out = tmp_path / "tagged.mp4"
    run_ffmpeg(["-i", str(clip), "-c", "copy", "-metadata", f"comment={tricky}", str(out)], what="tag")
    assert read_metadata(out)["comment"] == tricky


def test_run_ffmpeg_failure_is_a_user_error_with_ffmpegs_reason(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="ffmpeg failed to convert") as caught:
        run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4")], what="convert", file=tmp_path)
    assert "No such file" in str(caught.value)
