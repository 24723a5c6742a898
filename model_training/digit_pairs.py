"""Two neighbouring digits framed as one: what reading a number offers the model where digits touch, besides each
digit alone. It is no digit.

Trained towards equal probabilities, like the doodles of `outliers.py`, such pairs teach the model to be unsure of
two digits read as one, so that the way of cutting a number it is surest of keeps every digit. Without them the
model reads two touching digits as one it is sure of, and the number loses a digit.

Digits cut in two are left out on purpose: one side of a digit is too often a whole digit of its own (a 4's stem is
a 1, a 6 without its right edge is still a 6), and teaching doubt there would cost single digits.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from bot.imaging.framing import FRAMING_SIDE, _center_by_mass, _mnist_stroke_width

INK_LEVEL = 40  # of 255: a column of an MNIST digit with less ink than this is empty
PAIR_REACH = (-3, 3)  # pixels at MNIST's scale: neighbours framed as one reach into each other, or nearly touch
RISE = 2  # pixels at MNIST's scale: the second digit sits this much higher or lower, at most


def digit_pairs(images: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` float32 (28, 28, 1) tensors of two digits from `images` (MNIST's uint8 28×28, white on black) side by
    side, framed as the bot frames a stretch of a number's ink."""
    rng = np.random.default_rng(seed)
    pairs = [_framed(_pair(*images[rng.integers(len(images), size=2)], rng)) for _ in range(count)]
    return np.stack(pairs).astype(np.float32) if pairs else np.zeros((0, 28, 28, 1), np.float32)


def _pair(first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two digits side by side as one stretch of ink: touching, overlapping a little or nearly touching."""
    left, right = _ink_columns(first), _ink_columns(second)
    start = max(left.shape[1] + int(rng.integers(PAIR_REACH[0], PAIR_REACH[1] + 1)), 1)
    strip = np.zeros((first.shape[0], start + right.shape[1]), dtype=np.float32)
    strip[:, : left.shape[1]] = left
    strip[:, start:] = np.maximum(strip[:, start:], np.roll(right, int(rng.integers(-RISE, RISE + 1)), axis=0))
    return strip


def _ink_columns(digit: np.ndarray) -> np.ndarray:
    columns = np.flatnonzero(digit.max(axis=0) > INK_LEVEL)
    return digit[:, columns[0] : columns[-1] + 1].astype(np.float32)


def _framed(strip: np.ndarray) -> np.ndarray:
    """The strip as the bot frames ink: FRAMING_SIDE pixels on its longest side, strokes thickened to MNIST's width,
    fitted in 20×20 and centred by mass."""
    rows = np.flatnonzero(strip.max(axis=1) > 0)
    ink = strip[rows[0] : rows[-1] + 1] / 255.0
    zoom = FRAMING_SIDE / max(ink.shape)
    size = (max(1, round(ink.shape[1] * zoom)), max(1, round(ink.shape[0] * zoom)))
    framing = np.asarray(Image.fromarray(ink.astype(np.float32), "F").resize(size, Image.Resampling.BILINEAR))
    return _center_by_mass(_mnist_stroke_width(np.clip(framing, 0.0, 1.0)))[:, :, np.newaxis]
