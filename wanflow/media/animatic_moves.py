"""The animatic's camera: every official camera movement as a move of a 2D view over the start picture.

A `View` says where the camera looks, relative to the start frame: the frame shows the picture
magnified `zoom` times about a centre `x` frame widths right and `y` frame heights below the
picture's centre, rolled `turn` degrees. A clip starts at its starting view (the shot size's
crop) and each frame composes the moves of the shot's `camera:` at that moment. The one
mapping (docs/animatic.md has it as a table):

| camera | move over the shot |
|---|---|
| 固定镜头 fixed camera | none: the view stays where it starts |
| 镜头推进 push in | zoom in to PUSH (1.3x), steady in scale |
| 镜头拉远 pull back | zoom out to 1/PUSH, the picture's surroundings blurred and dimmed |
| 镜头向右移动 / 镜头向左移动 | pan PAN (10%) of the frame right / left, tightening so the view stays in the picture |
| 镜头上摇 / 镜头下摇 | tilt TILT (10%) of the frame up / down, tightening as a pan does |
| 环绕运镜 orbiting | a slow arc: drift right with a 2 degree roll, tightening as a pan does |
| 手持镜头 handheld | a seeded, smooth shake (about 1% and 0.4 degrees), eased in over the first 0.4 s |
| 跟随镜头 tracking | a steady slide right (8%) with a walking bob (1.6 Hz) |
| 复合运镜 compound | the shot's other moves one after another, each in its share of the shot; alone: push in, then pan right |

Several moves without 复合运镜 play together. Every move but the handheld shake is eased in and
out over its span (smoothstep); every move is zero at the clip's first frame, so a clip starts
exactly on its starting view (a continuation exactly on its upstream's last frame). `speed:`
is the cut's, as for every clip: it plays the drawn move faster or slower.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

PUSH = 1.3  # a push in ends this many times closer; a pull back as far out
PAN = 0.10  # a pan or a truck moves this share of the frame's width
TILT = 0.10  # a tilt moves this share of the frame's height
TRACK = 0.08  # a tracking shot slides this share of the frame's width
ORBIT = 0.08  # an orbit drifts this share of the frame's width...
ORBIT_ROLL = 2.0  # ...rolling this many degrees
SHAKE = 0.010  # handheld: the shake's reach, a share of the frame
SHAKE_ROLL = 0.4  # degrees
SHAKE_EASE_IN = 0.4  # seconds before the shake is at full strength
BOB = 0.006  # tracking: the walking bob's height, a share of the frame
BOB_HZ = 1.6

COMPOUND = "复合运镜"
COMPOUND_ALONE = ("镜头推进", "镜头向右移动")  # what 复合运镜 plays when it lists no other move

# How tight a shot size starts on a start picture (the picture is the widest view there is).
SHOT_SIZE_ZOOM: dict[str, float] = {
    "极端全景": 1.0,
    "全景": 1.0,
    "广角": 1.0,
    "中全景": 1.1,
    "中景": 1.2,
    "中近景": 1.35,
    "近景": 1.5,
    "特写": 1.8,
}


@dataclass(frozen=True)
class View:
    """Where the camera looks, relative to the start frame (see the module's docstring)."""

    zoom: float = 1.0
    x: float = 0.0  # frame widths right of the picture's centre
    y: float = 0.0  # frame heights below it
    turn: float = 0.0  # degrees, counter-clockwise

    def then(self, move: View) -> View:
        """This view moved by `move`, whose offsets are in this view's own frame."""
        return View(
            self.zoom * move.zoom, self.x + move.x / self.zoom, self.y + move.y / self.zoom, self.turn + move.turn
        )


# A move: (eased progress 0..1, raw progress 0..1, seconds since the clip's start) -> View.
Move = Callable[[float, float, float], View]


def _tightening(offset: float) -> float:
    """The zoom at which a view `offset` (a share of the frame) off-centre still lies in the picture."""
    return 1.0 / (1.0 - 2.0 * abs(offset))


def _pan(dx: float, dy: float) -> Move:
    return lambda p, _raw, _t: View(_tightening(max(abs(dx), abs(dy)) * p), dx * p, dy * p)


def _orbit(p: float, _raw: float, _t: float) -> View:
    return View(_tightening(ORBIT * p) * (1.0 + 0.05 * math.sin(math.pi * p)), ORBIT * p, 0.0, -ORBIT_ROLL * p)


def _track(p: float, _raw: float, t: float) -> View:
    reach = BOB * smoothstep(t / SHAKE_EASE_IN)
    return View(_tightening(TRACK * p + reach), TRACK * p, reach * math.sin(2 * math.pi * BOB_HZ * t))


def _handheld(seed: int) -> Move:
    """A sum of slow sines with seeded phases and rates: smooth, never periodic to the eye."""
    rng = random.Random(seed)
    waves = [(rng.uniform(0.3, 1.7), rng.uniform(0, 2 * math.pi)) for _ in range(9)]

    def wave(t: float, axis: int) -> float:
        return sum(math.sin(2 * math.pi * hz * t + phase) - math.sin(phase) for hz, phase in waves[axis::3]) / 3

    def shake(_p: float, _raw: float, t: float) -> View:
        strength = smoothstep(t / SHAKE_EASE_IN)
        reach = SHAKE * strength
        return View(1.0 + 2.5 * reach, reach * wave(t, 0), reach * wave(t, 1), SHAKE_ROLL * strength * wave(t, 2))

    return shake


def _still(_p: float, _raw: float, _t: float) -> View:
    return View()


def moves_for(seed: int) -> dict[str, Move]:
    """Every camera term (canonical zh) and its move; the handheld shake seeded by the take."""
    return {
        "固定镜头": _still,
        "镜头推进": lambda p, _raw, _t: View(PUSH**p),
        "镜头拉远": lambda p, _raw, _t: View(PUSH**-p),
        "镜头向右移动": _pan(PAN, 0.0),
        "镜头向左移动": _pan(-PAN, 0.0),
        "镜头上摇": _pan(0.0, -TILT),
        "镜头下摇": _pan(0.0, TILT),
        "环绕运镜": _orbit,
        "手持镜头": _handheld(seed),
        "跟随镜头": _track,
    }


CAMERA_TERMS: tuple[str, ...] = (*moves_for(0), COMPOUND)  # every term the animatic can draw


def smoothstep(p: float) -> float:
    """Ease in and out: still at both ends."""
    p = min(1.0, max(0.0, p))
    return p * p * (3.0 - 2.0 * p)


def camera_path(camera: tuple[str, ...], seed: int = 0) -> Callable[[float, float], View]:
    """The shot's camera as (progress 0..1, seconds) -> the move from the starting view.

    Terms the animatic does not know (a newer vocabulary) hold still, as 固定镜头.
    """
    known = moves_for(seed)
    listed = [known[term] for term in camera if term in known and term != "固定镜头"]
    if COMPOUND in camera:
        sequence = listed or [known[term] for term in COMPOUND_ALONE]

        def compound(progress: float, seconds: float) -> View:
            view = View()
            parts = len(sequence)
            for index, move in enumerate(sequence):
                raw = min(1.0, max(0.0, progress * parts - index))
                view = view.then(move(smoothstep(raw), raw, seconds))
            return view

        return compound

    def together(progress: float, seconds: float) -> View:
        view = View()
        for move in listed:
            view = view.then(move(smoothstep(progress), progress, seconds))
        return view

    return together


def starting_view(shot_size: str | None, variation: int | None = None) -> View:
    """The crop a shot starts on over its start picture: tighter for a closer shot size.

    `variation` (a take's seed) moves it: up to 20% tighter, anywhere that stays in the picture,
    so the takes of a shot offer different framings to choose from.
    """
    zoom = SHOT_SIZE_ZOOM.get(shot_size or "", 1.0)
    if variation is None:
        return View(zoom)
    rng = random.Random(variation)
    zoom *= rng.uniform(1.05, 1.2)
    reach = 0.5 - 0.5 / zoom
    return View(zoom, rng.uniform(-reach, reach), rng.uniform(-reach, reach))
