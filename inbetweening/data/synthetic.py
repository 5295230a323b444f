"""Embedded synthetic dataset: bouncing, occluding shapes (no download, deterministic).

Each video shows 1-3 objects, each a square, disc, triangle or bar in its own colour, moving
with constant velocity on a dim background (a per-video colour plus a low-contrast linear
gradient). Objects bounce off the frame edges and are drawn back to front, so nearer objects
hide farther ones.

Why this makes in-betweening genuinely ambiguous (and so worth a stochastic model):

- Bounces: knowing only where an object is in the first and last frame does not fix its path.
  It may have travelled straight, or hit a wall once or several times on the way, and each
  choice of the number of bounces is a different, equally valid trajectory. A cross-fade,
  which blends the two key frames, follows none of them.
- Occlusion: when objects overlap, which one is in front must be kept consistent through the
  middle frames, and an object hidden in a key frame must reappear from behind the right one.

Everything is drawn in units relative to the frame (sizes and speeds scale with
min(height, width), positions with each side), and the random draws do not depend on the
output size, channels or length, so the same (seed, index) shows the same scene at any
resolution of a given aspect ratio, in RGB or grayscale, and a longer video extends a shorter
one.

Shapes, with their signed distance d(dx, dy) to the centre offset (negative inside), in pixels:

    square    max(|dx|, |dy|) - h
    bar       max(|dx| - hx, |dy| - hy),  hx != hy (horizontal or vertical)
    disc      sqrt(dx^2 + dy^2) - h
    triangle  max((2|dx| - dy - h) / sqrt(5), dy - h)   apex up, bounding box [-h, h]^2

Coverage is clip(0.5 - d, 0, 1), a cheap one-pixel antialiasing.

Grayscale videos use each colour's HSV value as intensity: objects use distinct values that are
all well above the background's, so objects stay distinguishable from each other and from the
background with a single channel too.
"""

import numbers
from collections.abc import Sequence

import numpy as np

SHAPES = ("square", "disc", "triangle", "bar")
_MAX_OBJECTS = 3
# Half-size relative to min(height, width): at 32x32 an object is 8 to 14 pixels across.
_HALF_SIZE_RANGE = (0.12, 0.22)
# Thinness of a bar relative to its length.
_BAR_ASPECT = 0.4
# Pixels per frame relative to min(height, width): fast enough that most 16-frame videos bounce.
_SPEED_RANGE = (0.025, 0.06)
# Objects take distinct brightness levels, all above the brightest background (value + gradient).
_OBJECT_VALUES = (130.0, 170.0, 210.0, 250.0)
_BACKGROUND_VALUE_RANGE = (40.0, 80.0)
_BACKGROUND_GRADIENT = 12.0
# "varied": a colour and gradient per video; "plain": one mid-dark grey for every video.
BACKGROUNDS = ("varied", "plain")
_PLAIN_BACKGROUND_VALUE = 60.0


def generate_video(
    seed: int,
    index: int,
    num_frames: int,
    height: int,
    width: int,
    channels: int,
    max_objects: int = _MAX_OBJECTS,
    background: str = "varied",
) -> np.ndarray:
    """Video `index` of the dataset with seed `seed`, uint8 [num_frames, height, width, channels].

    channels is 1 (grayscale) or 3 (RGB). max_objects (1-3) and background (BACKGROUNDS)
    make simpler variants of the dataset, for a model that has minutes to learn. Each video
    depends only on (seed, index), so any video can be made on its own: for exact resume and
    for sharding indices across processes.
    """
    _validate(num_frames, height, width, channels, max_objects, background)
    _check_int("seed", seed, 0)
    _check_int("index", index, 0)
    rng = np.random.default_rng([seed, index])
    scale = min(height, width)
    ys = np.arange(height, dtype=np.float32) + 0.5
    xs = np.arange(width, dtype=np.float32) + 0.5

    bg_colour = _colour(
        rng.uniform(0, 1), rng.uniform(0.3, 0.6), rng.uniform(*_BACKGROUND_VALUE_RANGE), channels
    )
    angle = rng.uniform(0, 2 * np.pi)
    gradient = np.cos(angle) * (xs[None, :] / width - 0.5) + np.sin(angle) * (
        ys[:, None] / height - 0.5
    )
    # Channels first while compositing: numpy is much faster when the broadcast colour varies
    # along the outermost axis than along a size-3 innermost one.
    canvas = bg_colour[:, None, None] + 2 * _BACKGROUND_GRADIENT * gradient
    if background == "plain":
        canvas = np.full((channels, height, width), _PLAIN_BACKGROUND_VALUE)
    frames = np.repeat(canvas[:, None].astype(np.float32), num_frames, axis=1)

    num_objects = int(rng.integers(1, _MAX_OBJECTS + 1))
    # Drawn as for the full dataset, then cut: with fewer objects a video keeps the first ones.
    values = rng.choice(_OBJECT_VALUES, size=num_objects, replace=False)[:max_objects]
    t = np.arange(num_frames, dtype=np.float32)
    # Drawing in list order is the depth order: later objects occlude earlier ones.
    for value in values:
        shape = SHAPES[rng.integers(len(SHAPES))]
        h = rng.uniform(*_HALF_SIZE_RANGE) * scale
        hx, hy = h, h
        if shape == "bar":
            hx, hy = (h, h * _BAR_ASPECT) if rng.uniform() < 0.5 else (h * _BAR_ASPECT, h)
        colour = _colour(rng.uniform(0, 1), rng.uniform(0.5, 1.0), value, channels)
        start = rng.uniform(0, 1, size=2)
        direction = rng.uniform(0, 2 * np.pi)
        speed = rng.uniform(*_SPEED_RANGE) * scale
        # The centre bounces within a box that keeps the whole object inside the frame.
        cx = _bounce(
            hx + start[0] * (width - 2 * hx) + speed * np.cos(direction) * t, hx, width - hx
        )
        cy = _bounce(
            hy + start[1] * (height - 2 * hy) + speed * np.sin(direction) * t, hy, height - hy
        )
        dist = _signed_distance(
            shape,
            xs[None, None, :] - cx[:, None, None],
            ys[None, :, None] - cy[:, None, None],
            hx,
            hy,
        )
        coverage = np.clip(0.5 - dist, 0.0, 1.0)
        frames += coverage * (colour[:, None, None, None] - frames)
    # Values stay within [0, 255] by construction, so adding 0.5 and truncating rounds.
    return np.moveaxis(frames + 0.5, 0, -1).astype(np.uint8)


def generate_batch(
    seed: int,
    indices: Sequence[int],
    num_frames: int,
    height: int,
    width: int,
    channels: int,
    **variant,
) -> np.ndarray:
    """Videos `indices` of the dataset with seed `seed`, uint8 [len(indices), T, H, W, C];
    `variant` is generate_video's max_objects and background.

    Equal to stacking generate_video(seed, i, ...) for i in indices.
    """
    if not len(indices):
        return np.empty((0, num_frames, height, width, channels), np.uint8)
    return np.stack(
        [generate_video(seed, i, num_frames, height, width, channels, **variant) for i in indices]
    )


def _bounce(position: np.ndarray, low: float, high: float) -> np.ndarray:
    """Folds an unbounded straight-line position into [low, high] as a triangle wave.

    This is the closed form of elastic reflections off both walls, so any frame can be computed
    without stepping through the earlier ones.
    """
    span = high - low
    return (low + span - np.abs(np.mod(position - low, 2 * span) - span)).astype(np.float32)


def _signed_distance(
    shape: str, dx: np.ndarray, dy: np.ndarray, hx: float, hy: float
) -> np.ndarray:
    if shape == "disc":
        return np.sqrt(dx * dx + dy * dy) - hx
    if shape == "triangle":
        return np.maximum((2 * np.abs(dx) - dy - hy) / 5**0.5, dy - hy)
    return np.maximum(np.abs(dx) - hx, np.abs(dy) - hy)


def _colour(hue: float, saturation: float, value: float, channels: int) -> np.ndarray:
    """HSV to RGB (value in 0..255); grayscale keeps the value, the brightest channel of RGB."""
    if channels == 1:
        return np.array([value], np.float32)
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6) % 6
    return (value * (1 - saturation * np.clip(np.minimum(k, 4 - k), 0, 1))).astype(np.float32)


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _validate(
    num_frames: int, height: int, width: int, channels: int, max_objects: int, background: str
) -> None:
    _check_int("num_frames", num_frames, 2)
    _check_int("height", height, 1)
    _check_int("width", width, 1)
    if (
        isinstance(channels, bool)
        or not isinstance(channels, numbers.Integral)
        or channels not in (1, 3)
    ):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    _check_int("max_objects", max_objects, 1)
    if max_objects > _MAX_OBJECTS:
        raise ValueError(f"max_objects must be at most {_MAX_OBJECTS}, got {max_objects}")
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {background!r}")
