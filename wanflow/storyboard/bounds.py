"""What a storyboard may ask for: the bounds `validate` checks, so `plan` and `run` can do it.

A storyboard from someone else can ask for a billion-second shot or a 100000-pixel frame;
those are refused at their line before any planning, not discovered as a huge allocation
mid-render. Each bound is generous for real films and says why it is where it is.
"""

from __future__ import annotations

from wanflow.catalog import BACKENDS, MAX_FRAMES, MAX_STEPS

__all__ = ["MAX_FRAMES", "MAX_STEPS"]

MAX_SHOTS = 2000  # a feature film of 5-second shots has about 1200
MAX_ID_CHARS = 64  # ids name files (clips/<id>.mp4) and Prefect tasks
MAX_TEXT_CHARS = 4000  # any text; the text encoder reads 512 tokens (about 1500 characters)
MAX_LIST_ITEMS = 32  # terms in a look list, camera moves, LoRAs of a shot
MAX_CHARACTERS = 200
MAX_PROFILES = 32
MAX_TRACKS = 16  # soundtrack files mixed into the film

# The longest shot any backend renders in one generation: MAX_FRAMES at the slowest frame rate.
MAX_SHOT_SECONDS = (MAX_FRAMES - 1) / min(spec.fps for spec in BACKENDS.values())
MAX_FILM_SECONDS = MAX_SHOTS * MAX_SHOT_SECONDS  # where a soundtrack may start, and how long it plays
MAX_HOLD_SECONDS = 60.0  # a frozen last frame, a title card, a fade
MIN_SPEED, MAX_SPEED = 0.1, 10.0  # playback speed of a clip; 0.1 turns a 15 s shot into 150 s
MAX_VOLUME = 10.0  # +20 dB
MAX_LORA_SCALE = 10.0

MIN_SIDE = 32  # smaller frames leave title cards and captions no room
MAX_RENDER_SIDE = 2048  # a profile's generation size: 1.6 times the largest official side (1280)
MAX_FILM_SIDE = 4096  # the finished film: H.264 level 5.1 reaches 4096x2304
# The integer frame rates SMPTE timecode counts (OpenTimelineIO's list): FCP 7 XML and EDL need one.
TIMECODE_RATES = (24, 25, 30, 48, 50, 60)
# A start image's pixels: an 8K frame or a 40-megapixel photo (Pillow's own limit is 89 M); the model
# sees at most 1280x720, and the header is checked before any pixel is decoded.
START_IMAGE_MAX_PIXELS = 40_000_000
