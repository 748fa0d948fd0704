"""The contact sheet: a row of first / middle / last frames per shot, then a row of its takes.

The thumbnails are made once per report and shared with storyboard.html.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from wanflow.media.cut import AssemblyResult
from wanflow.media.ffmpeg import VideoInfo, probe, read_frames
from wanflow.media.fonts import load_label_font
from wanflow.report.records import ShotRecord

THUMB_WIDTH = 192
CHOSEN_OUTLINE = (240, 190, 60)
_LABEL_WIDTH, _PAD = 170, 8


def thumbnail(image: Image.Image) -> Image.Image:
    height = max(2, round(image.height * THUMB_WIDTH / image.width))
    return image.convert("RGB").resize((THUMB_WIDTH, height), Image.Resampling.LANCZOS)


def clip_thumbnails(clip: Path, info: VideoInfo | None = None) -> list[Image.Image]:
    """First, middle and last frame of the clip, THUMB_WIDTH wide (`info`: its probe, if made already)."""
    info = info if info is not None else probe(clip)
    return [thumbnail(Image.fromarray(frame)) for frame in read_frames(clip, [0, info.frames // 2, -1], info)]


def take_thumbnails(record: ShotRecord) -> list[Image.Image]:
    """The middle frame of each take (where takes differ most from their shared start)."""
    images = []
    for take in record.takes:
        info = probe(take.clip)
        images.append(thumbnail(Image.fromarray(read_frames(take.clip, [info.frames // 2], info)[0])))
    return images


def contact_sheet(
    records: list[ShotRecord],
    assembly: AssemblyResult | None,
    thumbs: dict[str, list[Image.Image]],
    take_thumbs: dict[str, list[Image.Image]],
) -> Image.Image:
    """One row per shot (id, duration on the film or its clip's uncut, three frames); a shot with
    several takes gets a row of them under it."""
    font, small = load_label_font(16), load_label_font(13)
    rows: list[tuple[str, ShotRecord]] = []
    for record in records:
        rows.append(("shot", record))
        if record.compared:
            rows.append(("takes", record))
    images = [image for record in records for image in (*thumbs[record.shot.id], *take_thumbs.get(record.shot.id, ()))]
    row_height = max(image.height for image in images) + 2 * _PAD
    columns = max([3, *(len(record.takes) for record in records if record.compared)])
    width = _LABEL_WIDTH + columns * (THUMB_WIDTH + _PAD) + _PAD
    sheet = Image.new("RGB", (width, row_height * len(rows)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for row, (kind, record) in enumerate(rows):
        top = row * row_height
        if kind == "shot":
            if assembly is not None:
                seconds = assembly.timeline.shot_segment(record.shot.id).frames / assembly.fps
            else:
                seconds = record.settings.seconds
            draw.text((_PAD, top + _PAD), record.shot.id, font=font, fill=(255, 255, 255))
            details = f"{seconds:.2f}s · {record.backend}"
            draw.text((_PAD, top + _PAD + 24), details, font=small, fill=(190, 190, 190))
            for column, image in enumerate(thumbs[record.shot.id]):
                sheet.paste(image, (_LABEL_WIDTH + column * (THUMB_WIDTH + _PAD), top + _PAD))
            continue
        draw.text((_PAD, top + _PAD), f"{len(record.takes)} takes", font=small, fill=(190, 190, 190))
        draw.text((_PAD, top + _PAD + 20), f"film: take {record.shot.take}", font=small, fill=CHOSEN_OUTLINE)
        for column, (take, image) in enumerate(zip(record.takes, take_thumbs[record.shot.id])):
            left = _LABEL_WIDTH + column * (THUMB_WIDTH + _PAD)
            sheet.paste(image, (left, top + _PAD))
            if take.chosen:
                box = (left - 3, top + _PAD - 3, left + image.width + 2, top + _PAD + image.height + 2)
                draw.rectangle(box, outline=CHOSEN_OUTLINE, width=3)
            label = f"take {take.take} · {take.seed}"
            draw.rectangle(
                (left, top + _PAD, left + 8 + draw.textlength(label, font=small), top + _PAD + 18), fill=(0, 0, 0)
            )
            draw.text((left + 4, top + _PAD + 1), label, font=small, fill=(255, 255, 255))
    return sheet
