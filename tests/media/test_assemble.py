"""assemble() with the real bundled ffmpeg: frame-exact cuts, fit modes, cards, captions, audio."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from factories import film, shot

from wanflow.errors import UserError
from wanflow.film import AudioTrack, Output, TitleCard, Transition
from wanflow.media.cards import render_title_card
from wanflow.media.cut import CutClip, assemble
from wanflow.media.ffmpeg import audio_samples, ffmpeg_exe, probe, read_frames, write_clip


def moving_clip(path: Path, frames: int, fps: int, width: int, height: int, level: int = 200) -> Path:
    """A bright square sliding over a mid-grey field (never black: bars are easy to see)."""
    video = np.full((frames, height, width, 3), 90, np.uint8)
    side = max(4, min(width, height) // 3) // 2 * 2
    for index in range(frames):
        x = (index * 2) % max(1, width - side)
        video[index, (height - side) // 2 : (height + side) // 2, x : x + side] = level
    write_clip(video, fps, path)
    return path


def tone(path: Path, seconds: float) -> Path:
    subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            "-c:a",
            "aac",
            str(path),
        ],
        check=True,
    )
    return path


def test_mixed_transitions_and_fps_conversion_are_frame_exact(tmp_path: Path) -> None:
    clips = [
        moving_clip(tmp_path / "a.mp4", 24, 16, 64, 36),
        moving_clip(tmp_path / "b.mp4", 30, 24, 48, 48),
        moving_clip(tmp_path / "c.mp4", 20, 16, 80, 36),
        moving_clip(tmp_path / "d.mp4", 12, 24, 64, 36),
    ]
    shots = [
        shot(0, transition=Transition("dissolve", 0.5)),
        shot(1, transition=Transition("fadeblack", 0.25)),
        shot(2, transition=Transition("cut")),
        shot(3),
    ]
    result = assemble(
        film(shots), [CutClip(s, c) for s, c in zip(shots, clips)], tmp_path / "film.mp4", width=64, height=36
    )
    planned = 36 + 30 + 30 + 12 - 12 - 6
    assert result.frames == result.timeline.frames == planned
    info = probe(result.path)
    assert (info.frames, info.fps, info.width, info.height, info.pix_fmt) == (planned, 24.0, 64, 36, "yuv420p")
    assert info.duration == pytest.approx(planned / 24)
    assert not result.stream_copy and not info.has_audio
    # the square 48x48 clip is shown contained: black bars left and right, picture in the middle
    middle_of_b = read_frames(result.path, [result.timeline.segments[1].start_frame + 15])[0]
    assert middle_of_b[:, :8].max() < 30 and middle_of_b[:, 20:44].mean() > 60


@pytest.mark.parametrize("fit", ["contain", "cover", "blur"])
def test_each_fit_mode_fills_the_frame_as_declared(tmp_path: Path, fit: str) -> None:
    square = moving_clip(tmp_path / "sq.mp4", 16, 16, 36, 36)
    result = assemble(
        film([shot(0)], output=Output(fit=fit)), [CutClip(shot(0), square)], tmp_path / "f.mp4", width=64, height=36
    )
    assert (result.frames, result.width, result.height) == (24, 64, 36)
    edge = float(read_frames(result.path, [5])[0][:, :6].mean())
    assert edge < 20 if fit == "contain" else edge > 40


def test_cards_captions_soundtrack_and_metadata(tmp_path: Path) -> None:
    clips = [moving_clip(tmp_path / "a.mp4", 16, 16, 64, 36), moving_clip(tmp_path / "b.mp4", 24, 24, 64, 36)]
    shots = [shot(0, caption="第一个镜头", transition=Transition("slideleft", 0.25)), shot(1, caption="Second shot")]
    music = tone(tmp_path / "music.m4a", 10.0)
    spec = film(
        shots,
        opening=TitleCard("标题 Title", "副标题", 1.0),
        ending=TitleCard("完", duration=0.5),
        output=Output(fade_in=0.25, fade_out=0.25, burn_captions=True),
        soundtrack=(AudioTrack(path=music, start=0.5, trim_start=1.0, volume=0.8, fade_in=0.2, fade_out=0.5),),
    )
    result = assemble(
        spec,
        [CutClip(s, c) for s, c in zip(shots, clips)],
        tmp_path / "film.mp4",
        width=64,
        height=36,
        metadata={"comment": '{"shots":["s0","s1"]}'},
    )
    frames = 24 + 24 + 24 + 12 - 6
    info = probe(result.path)
    assert info.frames == result.frames == frames and not result.stream_copy
    assert info.has_audio and info.audio_codec == "aac"
    assert abs(audio_samples(result.path) / 48000 - frames / 24) <= 1 / 24
    assert [(s.codec, s.language) for s in info.subtitles] == [("mov_text", "chi")]
    assert info.metadata["comment"] == '{"shots":["s0","s1"]}' and info.metadata["title"] == "测试 film"
    srt, vtt = result.subtitles
    assert srt.read_text(encoding="utf-8").startswith("1\n00:00:01,000 --> 00:00:01,875\n第一个镜头\n")
    assert vtt.read_text(encoding="utf-8").startswith("WEBVTT\n")
    first, title_frame, captioned = read_frames(result.path, [0, 12, 30])
    assert first.max() < 40  # film fade-in starts from black
    assert title_frame.max() > 150 and np.median(title_frame) < 20  # white text on black
    plain = read_frames(clips[0], [8])[0]
    assert np.abs(captioned[-10:].astype(int) - plain[-10:]).mean() > 5  # caption burned near the bottom


def test_stream_copy_when_nothing_needs_re_encoding(tmp_path: Path) -> None:
    clips = [moving_clip(tmp_path / f"{n}.mp4", 12 + n, 24, 64, 36) for n in range(3)]
    shots = [shot(n, caption=f"cue {n}") for n in range(3)]
    music = tone(tmp_path / "music.m4a", 1.0)
    result = assemble(
        film(shots, soundtrack=(AudioTrack(path=music),)),
        [CutClip(s, c) for s, c in zip(shots, clips)],
        tmp_path / "film.mp4",
        width=64,
        height=36,
    )
    assert result.stream_copy and result.frames == 12 + 13 + 14
    info = probe(result.path)
    assert info.has_audio and len(info.subtitles) == 1
    assert abs(audio_samples(result.path) / 48000 - 39 / 24) <= 1 / 24  # 1 s of music padded with silence
    np.testing.assert_array_equal(read_frames(result.path, [12])[0], read_frames(clips[1], [0])[0])  # bit-exact copy


def test_a_dissolve_or_a_size_change_leaves_the_fast_path(tmp_path: Path) -> None:
    clips = [moving_clip(tmp_path / f"{n}.mp4", 12, 24, 64, 36) for n in range(2)]
    shots = [shot(0, transition=Transition("dissolve", 0.25)), shot(1)]
    result = assemble(
        film(shots), [CutClip(s, c) for s, c in zip(shots, clips)], tmp_path / "f.mp4", width=64, height=36
    )
    assert not result.stream_copy and result.frames == 18
    cut = [shot(0), shot(1)]
    resized = assemble(film(cut), [CutClip(s, c) for s, c in zip(cut, clips)], tmp_path / "g.mp4", width=96, height=54)
    assert not resized.stream_copy and (resized.frames, resized.width) == (24, 96)


def test_motion_interpolation_on_request(tmp_path: Path) -> None:
    clip = moving_clip(tmp_path / "a.mp4", 8, 16, 64, 36)  # minterpolate needs 32 pixels each way
    result = assemble(
        film([shot(0)], output=Output(interpolate=True)),
        [CutClip(shot(0), clip)],
        tmp_path / "f.mp4",
        width=64,
        height=36,
    )
    assert result.frames == 12 and probe(result.path).fps == 24.0


def test_missing_soundtrack_is_a_user_error_and_writes_nothing(tmp_path: Path) -> None:
    clip = moving_clip(tmp_path / "a.mp4", 8, 24, 32, 18)
    spec = film([shot(0)], soundtrack=(AudioTrack(path=tmp_path / "gone.mp3"),))
    with pytest.raises(UserError, match="audio file not found") as caught:
        assemble(spec, [CutClip(shot(0), clip)], tmp_path / "f.mp4", width=32, height=18)
    assert caught.value.problems[0].field == "soundtrack[0].path"
    assert not (tmp_path / "f.mp4").exists()


def test_title_cards_draw_chinese_glyphs_not_missing_glyph_boxes() -> None:
    pictures = [np.asarray(render_title_card(TitleCard(text), 320, 180)) for text in ("你", "好", "A")]
    assert all(picture.max() > 200 for picture in pictures)
    assert not np.array_equal(pictures[0], pictures[1])  # a font without the glyphs draws identical boxes


@pytest.mark.parametrize("quick", [False, True])
def test_a_film_made_for_checking_is_cut_with_the_quick_encoders(tmp_path: Path, quick: bool) -> None:
    """The same frames and sound either way; x264 writes its preset's settings into the stream."""
    clips = [moving_clip(tmp_path / "a.mp4", 16, 16, 64, 36), moving_clip(tmp_path / "b.mp4", 24, 24, 64, 36)]
    shots = [shot(0, transition=Transition("dissolve", 0.25)), shot(1)]
    spec = film(shots, soundtrack=(AudioTrack(path=tone(tmp_path / "music.m4a", 3.0)),))
    cut = [CutClip(s, c) for s, c in zip(shots, clips)]
    result = assemble(spec, cut, tmp_path / "film.mp4", width=64, height=36, quick=quick)
    info = probe(result.path)
    assert info.frames == result.frames == 24 + 24 - 6 and info.audio_codec == "aac"
    settings = result.path.read_bytes()
    assert (b"subme=0" in settings) is quick  # ultrafast's motion search; veryfast's is subme=2
