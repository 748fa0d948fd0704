"""Caption cues and their sidecar files (SubRip .srt and WebVTT .vtt).

Cue times are whole frames on the film timeline, so the sidecars, the soft subtitle track and
the burned-in captions all agree with the picture to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wanflow.atomic import write_text_atomic


@dataclass(frozen=True)
class Cue:
    shot_id: str
    start_frame: int
    end_frame: int  # exclusive
    text: str

    def start(self, fps: int) -> float:
        return self.start_frame / fps

    def end(self, fps: int) -> float:
        return self.end_frame / fps


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _clean(text: str) -> str:
    """Cue text may not contain a blank line (it would end the cue) or a bare '-->'."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines).replace("-->", "→")


def srt_text(cues: list[Cue], fps: int) -> str:
    blocks = [
        f"{number}\n{_timestamp(cue.start(fps), ',')} --> {_timestamp(cue.end(fps), ',')}\n{_clean(cue.text)}\n"
        for number, cue in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def vtt_text(cues: list[Cue], fps: int) -> str:
    blocks = ["WEBVTT\n"]
    for cue in cues:
        text = _clean(cue.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{cue.shot_id}\n{_timestamp(cue.start(fps), '.')} --> {_timestamp(cue.end(fps), '.')}\n{text}\n")
    return "\n".join(blocks)


def write_sidecars(cues: list[Cue], fps: int, film_path: Path) -> list[Path]:
    """`<film>.srt` and `<film>.vtt` beside the film; nothing when there are no captions."""
    if not cues:
        return []
    srt = film_path.with_suffix(".srt")
    vtt = film_path.with_suffix(".vtt")
    write_text_atomic(srt, srt_text(cues, fps))
    write_text_atomic(vtt, vtt_text(cues, fps))
    return [srt, vtt]
