"""plan_timeline: the cut's frame arithmetic, without ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import film, shot

from wanflow.errors import UserError
from wanflow.film import Output, Shot, TitleCard, Transition
from wanflow.media.ffmpeg import VideoInfo
from wanflow.media.timeline import CutClip, plan_timeline


def info(frames: int, fps: float, width: int = 64, height: int = 36) -> VideoInfo:
    return VideoInfo(
        path=Path("x.mp4"),
        frames=frames,
        fps=fps,
        width=width,
        height=height,
        duration=frames / fps,
        codec="h264",
        pix_fmt="yuv420p",
        timebase="16384",
        has_audio=False,
    )


def plan(shots: list[Shot], infos: list[VideoInfo], **fields: object):
    return plan_timeline(
        film(shots, **fields), [CutClip(s, Path(f"{s.id}.mp4")) for s in shots], infos, width=64, height=36
    )


def test_length_is_sum_of_shots_minus_overlaps_with_fps_conversion() -> None:
    shots = [shot(0, transition=Transition("dissolve", 0.5)), shot(1, transition=Transition("wipeleft", 0.25)), shot(2)]
    timeline = plan(shots, [info(81, 16), info(121, 24), info(33, 16)])
    # 81@16 = 5.0625 s -> 122 frames at 24; 121@24 -> 121; 33@16 -> 49.5 -> 50 (round half even)
    assert [s.frames for s in timeline.segments] == [122, 121, 50]
    assert [s.transition_frames for s in timeline.segments] == [12, 6, 0]
    assert [s.start_frame for s in timeline.segments] == [0, 110, 225]
    assert timeline.frames == 122 + 121 + 50 - 12 - 6
    assert [s.transition for s in timeline.segments] == ["fade", "wipeleft", "cut"]


def test_trim_speed_and_hold_are_counted_in_film_frames() -> None:
    shots = [shot(0, trim_start=0.5, trim_end=2.0, speed=2.0, hold=1.0)]
    segment = plan(shots, [info(48, 16)]).segments[0]
    assert (segment.source_first, segment.source_end) == (8, 32)
    assert segment.hold_frames == 24
    assert segment.frames == round(1.5 / 2.0 * 24) + 24


def test_cards_frame_the_shots_and_fades_are_frames() -> None:
    timeline = plan(
        [shot(0)],
        [info(16, 16)],
        opening=TitleCard("Hi", duration=1.5),
        ending=TitleCard("End", duration=1.0),
        output=Output(fade_in=0.5, fade_out=0.25),
    )
    assert [(s.kind, s.start_frame, s.frames) for s in timeline.segments] == [
        ("opening", 0, 36),
        ("shot", 36, 24),
        ("ending", 60, 24),
    ]
    assert (timeline.frames, timeline.fade_in_frames, timeline.fade_out_frames) == (84, 12, 6)


def test_a_transition_longer_than_a_neighbour_is_clamped_with_a_warning() -> None:
    shots = [shot(0, transition=Transition("dissolve", 3.0)), shot(1, transition=Transition("fadeblack", 1.0)), shot(2)]
    timeline = plan(shots, [info(48, 24), info(24, 24), info(48, 24)])
    assert [s.transition_frames for s in timeline.segments] == [24, 0, 0]
    assert timeline.segments[1].transition == "cut"
    assert len(timeline.warnings) == 2 and "clamped to 24 frames" in timeline.warnings[0]
    assert timeline.frames == 48 + 24 + 48 - 24


def test_captions_hand_over_in_the_middle_of_transitions() -> None:
    shots = [
        shot(0, caption="one", transition=Transition("dissolve", 0.5)),
        shot(1, caption="two"),
        shot(2, caption="three"),
    ]
    cues = plan(shots, [info(24, 24), info(24, 24), info(24, 24)]).cues
    assert [(c.text, c.start_frame, c.end_frame) for c in cues] == [("one", 0, 18), ("two", 18, 36), ("three", 36, 60)]


def test_last_shot_transition_is_ignored_with_a_warning() -> None:
    timeline = plan([shot(0, transition=Transition("dissolve", 0.5))], [info(24, 24)])
    assert timeline.frames == 24 and timeline.segments[0].transition == "cut"
    assert "no next shot" in timeline.warnings[0]


def test_bad_timing_is_reported_per_shot_with_line_and_field() -> None:
    shots = [shot(0, trim_start=5.0), shot(1, trim_start=0.5, trim_end=0.25), shot(2, speed=0.0)]
    with pytest.raises(UserError) as caught:
        plan(shots, [info(24, 24)] * 3)
    problems = caught.value.problems
    assert [(p.line, p.field) for p in problems] == [(10, "trim_start"), (11, "trim_end"), (12, "speed")]
    assert all(p.file == "/spec/film.yaml" for p in problems)


def test_odd_output_size_is_a_user_error() -> None:
    with pytest.raises(UserError, match="even"):
        plan_timeline(film([shot(0)]), [CutClip(shot(0), Path("a.mp4"))], [info(24, 24)], width=65, height=36)
