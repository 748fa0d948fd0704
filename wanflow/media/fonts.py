"""Finding a font that draws both Chinese and Latin text (titles, captions, contact sheets).

Order: $WANFLOW_FONT (a .ttf/.otf/.ttc path, optionally `path#index` for a collection), then
fontconfig (`fc-list :lang=zh`, preferring Simplified Chinese faces), then well-known paths on
Debian/Ubuntu, Fedora, macOS and Windows. No font found is a UserError that says how to get one.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from wanflow import settings
from wanflow.errors import Problem, UserError
from wanflow.film import Film

INSTALL_HINT = (
    "no font with Chinese glyphs found: run scripts/install-system-deps.sh "
    "(Debian/Ubuntu: `apt-get install fonts-noto-cjk`; Fedora: `dnf install google-noto-sans-cjk-fonts`; "
    "macOS and Windows ship one), or set WANFLOW_FONT=/path/to/font.ttc"
)

# (path, face index): Noto Sans CJK collections order their faces JP, KR, SC, TC, HK.
_KNOWN_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/System/Library/Fonts/PingFang.ttc", 0),
    ("/System/Library/Fonts/STHeiti Medium.ttc", 0),
    ("/Library/Fonts/Arial Unicode.ttf", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),
    ("C:/Windows/Fonts/simhei.ttf", 0),
)


@dataclass(frozen=True)
class FontFile:
    path: Path
    index: int = 0  # face inside a .ttc collection


def _from_env() -> FontFile | None:
    value = settings.current().font
    if not value:
        return None
    path_text, _, index_text = value.partition("#")
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise UserError(f"WANFLOW_FONT points at {path}, which is not a file")
    return FontFile(path, int(index_text) if index_text.isdigit() else 0)


def _from_fontconfig() -> FontFile | None:
    if shutil.which("fc-list") is None:
        return None
    listing = subprocess.run(
        ["fc-list", "-f", "%{file}|%{index}|%{family}|%{style}\n", ":lang=zh"],
        capture_output=True,
        text=True,
        errors="replace",
    ).stdout
    candidates: list[tuple[int, FontFile]] = []
    for line in listing.splitlines():
        parts = line.split("|")
        if len(parts) != 4 or not parts[1].isdigit():
            continue
        file, index, family, style = parts
        rank = (
            (0 if "SC" in family.split(",")[0] else 1)
            + (0 if "Sans" in family else 2)
            + (0 if "Regular" in style else 4)
        )
        candidates.append((rank, FontFile(Path(file), int(index))))
    candidates.sort(key=lambda item: (item[0], str(item[1].path), item[1].index))
    return candidates[0][1] if candidates else None


def _from_known_paths() -> FontFile | None:
    for path_text, index in _KNOWN_FONTS:
        if Path(path_text).is_file():
            return FontFile(Path(path_text), index)
    return None


@lru_cache(maxsize=1)
def find_cjk_font() -> FontFile:
    """The font every piece of on-screen text is set in (it covers Latin text too)."""
    found = _from_env() or _from_fontconfig() or _from_known_paths()
    if found is None:
        raise UserError(INSTALL_HINT)
    return found


@lru_cache(maxsize=32)
def load_font(size: int) -> ImageFont.FreeTypeFont:
    font = find_cjk_font()
    return ImageFont.truetype(str(font.path), size=size, index=font.index)


def load_label_font(size: int) -> ImageFont.FreeTypeFont:
    """For labels made of ids and numbers (the contact sheet): the Chinese font when there is
    one, else Pillow's own, so a film without on-screen text needs no Chinese font."""
    try:
        return load_font(size)
    except UserError:
        return ImageFont.load_default(size)


def font_problems(film: Film) -> list[Problem]:
    """A film that draws text on screen (title cards, burned-in captions) needs a Chinese font:
    asked before any shot renders, not found missing at the cut an hour later."""
    needs = [name for name, card in (("titles.opening", film.opening), ("titles.ending", film.ending)) if card]
    if film.output.burn_captions and any(shot.caption for shot in film.shots):
        needs.append("output.burn_captions")
    if not needs:
        return []
    try:
        find_cjk_font()
    except UserError as error:
        hint = "; ".join(problem.message for problem in error.problems)
        return [Problem(str(film.path), None, None, needs[0], f"{', '.join(needs)} draw text on screen: {hint}")]
    return []
