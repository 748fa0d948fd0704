"""The cut's timelines (.otio, FCP 7 XML, CMX 3600 EDL), read back with OpenTimelineIO's own adapters.

Every file must last exactly the film's decoded frames, and no clip may ask for more media than
its file holds (time effects and transition handles included).
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import opentimelineio as otio
import pytest
from factories import film, shot, take_settings

from wanflow.film import AudioTrack, Output, TitleCard, Transition
from wanflow.media.cut import CutClip, assemble
from wanflow.media.ffmpeg import VideoInfo, ffmpeg_exe, media_duration, probe, write_clip
from wanflow.media.timeline import plan_timeline
from wanflow.report import ShotRecord, make_report
from wanflow.report.otio import SoundtrackSpan, TimelineMedia, build_otio

FPS = 24


def media_seconds(url: str) -> float:
    path = Path(unquote(urlparse(url).path))
    return probe(path).duration if path.suffix == ".mp4" else media_duration(path)


def media_used(clip: otio.schema.Clip) -> tuple[float, float]:
    """Seconds of its media the clip plays, handles included: a freeze uses one instant, a warp scales."""
    start = clip.source_range.start_time.to_seconds()
    if any(isinstance(effect, otio.schema.FreezeFrame) for effect in clip.effects):
        return start, start
    scalar = 1.0
    for effect in clip.effects:
        if isinstance(effect, otio.schema.LinearTimeWarp):
            scalar *= effect.time_scalar
    visible = clip.visible_range()
    head = (clip.source_range.start_time - visible.start_time).to_seconds()
    return start - head * scalar, start + (visible.duration.to_seconds() - head) * scalar


def overruns(timeline: otio.schema.Timeline, file_of=None) -> list[str]:
    found = []
    for track in timeline.tracks:
        for clip in track.find_clips(shallow_search=True):
            first, last = media_used(clip)
            url = file_of(clip) if file_of else clip.media_reference.target_url
            if first < -1e-9 or last > media_seconds(url) + 1e-9:
                found.append(f"{clip.name}: uses {first:.4f}-{last:.4f}s of {media_seconds(url):.4f}s")
    return found


def tone(path: Path, seconds: float) -> Path:
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    subprocess.run([*command, "-i", f"sine=frequency=440:duration={seconds}", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory):
    """A film with every kind of timeline content: cards, 16 fps shots, hold, speed, transitions, captions, sound."""
    root = tmp_path_factory.mktemp("timelines")
    shots = [
        shot(0, caption="一", transition=Transition("dissolve", 0.5)),  # 41 frames @16: 61.5 -> 62 film frames
        shot(1, speed=2.0, transition=Transition("wipeleft", 0.25)),
        shot(2, hold=0.5, caption="三", transition=Transition("fadeblack", 0.5)),  # the issue's `reflection`
        shot(3),
    ]
    clips = []
    for number, frames in enumerate((41, 33, 41, 24)):
        video = np.full((frames, 36, 64, 3), 40 + 50 * number, np.uint8)
        write_clip(video, 16, root / f"c{number}.mp4")
        clips.append(root / f"c{number}.mp4")
    spec = film(
        shots,
        opening=TitleCard("开场", duration=1.0),
        ending=TitleCard("终", duration=0.5),
        soundtrack=(AudioTrack(tone(root / "music.wav", 20.0), start=0.5, volume=0.6, fade_in=1.0, fade_out=2.0),),
        output=Output(fps=FPS, fade_out=0.5, timelines=("otio", "fcp_xml", "edl")),
    )
    spec = replace(spec, path=root / "film.yaml")
    result = assemble(
        spec, [CutClip(s, c) for s, c in zip(shots, clips)], root / "out" / "film.mp4", width=64, height=36
    )
    records = [
        ShotRecord(
            shot=s,
            clip=c,
            prompt=f"镜头 {s.id}",
            negative="",
            mode="t2v",
            warnings=(),
            settings=take_settings(seed=s.index, frames=probe(c).frames),
            weights_fingerprint="f" * 16,
            cache_keys={},
            cached=False,
            seconds=1.0,
            tiny=False,
        )
        for s, c in zip(shots, clips)
    ]
    paths = make_report(spec, records, result, root / "out", profile="preview", run_info={}).write()
    return result, paths


@pytest.mark.parametrize("name", ["otio", "fcp_xml", "edl"])
def test_each_timeline_lasts_the_films_decoded_frames(cut, name: str) -> None:
    result, paths = cut
    timeline = otio.adapters.read_from_file(str(getattr(paths, name)))
    decoded = probe(result.path).frames
    assert timeline.duration() == otio.opentime.RationalTime(decoded, FPS)
    for track in timeline.tracks:
        assert track.duration() == otio.opentime.RationalTime(decoded, FPS), track.name


def test_no_clip_asks_for_more_media_than_its_file_holds(cut) -> None:
    _, paths = cut
    assert overruns(otio.adapters.read_from_file(str(paths.otio))) == []
    assert overruns(otio.adapters.read_from_file(str(paths.fcp_xml))) == []
    # The EDL reader gives a dissolve's incoming clip the outgoing clip's file: find it by reel (clip name).
    edl = otio.adapters.read_from_file(str(paths.edl))
    folder = paths.edl.parent

    def edl_file(clip: otio.schema.Clip) -> str:
        for candidate in (folder / "conform" / f"{clip.name}.mp4", folder / "cards" / f"{clip.name}.mp4"):
            if candidate.is_file():
                return candidate.as_uri()
        raise AssertionError(f"no media for {clip.name}")

    assert overruns(edl, edl_file) == []


@pytest.mark.parametrize("adapter", ["fcp_xml", "cmx_3600"])
def test_the_otio_itself_converts_with_otios_adapters(cut, adapter: str) -> None:
    """What `otioconvert -i film.otio -o film.xml` does (time effects aside: see timeline_adapters)."""
    result, paths = cut
    text = otio.adapters.write_to_string(otio.adapters.read_from_file(str(paths.otio)), adapter)
    assert otio.adapters.read_from_string(text, adapter).duration() == otio.opentime.RationalTime(result.frames, FPS)


def test_otio_has_sound_captions_time_effects_and_no_generators(cut) -> None:
    result, paths = cut
    timeline = otio.adapters.read_from_file(str(paths.otio))
    picture, music = timeline.tracks
    assert music.kind == otio.schema.TrackKind.Audio
    clips = list(picture.find_clips(shallow_search=True))
    assert not any(isinstance(c.media_reference, otio.schema.GeneratorReference) for c in clips)
    assert [c.name for c in clips if c.media_reference.target_url.endswith(("opening.mp4", "ending.mp4"))] == [
        "opening",
        "ending",
    ]
    speed = next(c for c in clips if c.name == "s1")
    assert [type(e) for e in speed.effects] == [otio.schema.LinearTimeWarp] and speed.effects[0].time_scalar == 2.0
    hold = next(c for c in clips if c.name == "s2 (hold)")
    assert isinstance(hold.effects[0], otio.schema.FreezeFrame)
    transitions = list(picture.find_children(descended_from_type=otio.schema.Transition, shallow_search=True))
    # the 0.5 s hold plus the half frame that 61.5 -> 62 rounds up: before the cut, and as the handle after it
    assert hold.duration().value + transitions[2].out_offset.value == 12 + 1
    assert [(t.name, t.in_offset.value + t.out_offset.value) for t in transitions] == [
        ("fade", 12),
        ("wipeleft", 6),
        ("fadeblack", 12),
    ]
    gap, fade_in, sound, fade_out, _ = music
    assert gap.duration().value == 12 and fade_in.out_offset.value == 24 and fade_out.in_offset.value == 48
    assert sound.metadata["wanflow"]["volume"] == 0.6
    cues = [(m.name, m.marked_range.start_time.value, m.marked_range.duration.value) for m in timeline.tracks.markers]
    assert cues == [(c.text, c.start_frame, c.end_frame - c.start_frame) for c in result.timeline.cues]


def test_fcp_xml_and_edl_point_at_media_conformed_to_the_films_fps(cut) -> None:
    result, paths = cut
    for segment in result.timeline.segments:
        if segment.shot is not None:
            assert probe(paths.fcp_xml.parent / "conform" / f"{segment.label}.mp4").frames == segment.frames
    fcp = otio.adapters.read_from_file(str(paths.fcp_xml))
    assert [t.kind for t in fcp.tracks] == [otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio]
    assert len(fcp.tracks.markers) == len(result.timeline.cues)
    xml = paths.fcp_xml.read_text(encoding="utf-8")  # picture transitions start on the edit; fades from/to silence
    assert xml.count("<alignment>start</alignment>") == 3 and xml.count("<alignment>start-black</alignment>") == 1
    edl = paths.edl.read_text(encoding="utf-8")
    assert "D 012" in edl and "conform/s1.mp4" in edl


def info(frames: int, fps: float) -> VideoInfo:
    return VideoInfo(Path("x.mp4"), frames, fps, 64, 36, frames / fps, "h264", "yuv420p", "16384", False)


def test_a_hold_at_the_cut_of_a_transition_keeps_the_handle_in_the_freeze() -> None:
    """The outgoing shot holds its last frame: the transition's frames after the cut are that freeze."""
    shots = [shot(0, hold=0.5, transition=Transition("dissolve", 1.0)), shot(1)]
    spec = film(shots)
    plan = plan_timeline(
        spec, [CutClip(s, Path(f"/m/{s.id}.mp4")) for s in shots], [info(41, 16), info(48, 16)], width=64, height=36
    )
    timeline = build_otio(plan, "t", TimelineMedia(cards={}, soundtrack=()), {})
    picture = timeline.tracks[0]
    assert picture.duration().value == plan.frames
    transition = next(iter(picture.find_children(descended_from_type=otio.schema.Transition)))
    before = picture[picture.index(transition) - 1]
    assert before.name == "s0 (hold)" and isinstance(before.effects[0], otio.schema.FreezeFrame)
    assert (transition.in_offset.value, transition.out_offset.value) == (12, 12)


def test_a_soundtrack_span_that_reaches_the_films_end_fills_its_track() -> None:
    shots = [shot(0)]
    plan = plan_timeline(film(shots), [CutClip(shots[0], Path("/m/a.mp4"))], [info(48, 24)], width=64, height=36)
    span = SoundtrackSpan(track=AudioTrack(Path("/m/music.wav")), file_seconds=60.0, plays=2.0)
    timeline = build_otio(plan, "t", TimelineMedia(cards={}, soundtrack=(span,)), {})
    assert [track.duration().value for track in timeline.tracks] == [48, 48]
