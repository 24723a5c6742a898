"""Writing styles MNIST lacks, drawn onto its own digits: European 1s (a flag stroke, sometimes a base) and crossed 7s.
The added stroke matches the digit's pen, and the result is framed by the bot's preprocessing like a posted picture."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from bot.imaging import to_mnist_tensor

SCALE = 4  # strokes are drawn on the digit enlarged this much, so they stay smooth once framed back to 28x28
INK_LEVEL = 128  # of 255: brighter pixels of an enlarged MNIST digit are its strokes
FLAG_OPENING_DEGREES = (25.0, 50.0)  # between the flag and the stem
FLAG_SLOPE_DEGREES = (28.0, 65.0)  # below the horizontal: flatter is a 7's bar, steeper would merge with the stem
FLAG_LENGTH = (0.2, 0.5)  # of the digit's height
BASE_CHANCE = 0.4
BASE_HALF_WIDTH = (0.15, 0.3)  # of the digit's height
CROSS_HEIGHT = (0.45, 0.62)  # where the bar crosses the stem, as a share of the height from the top
CROSS_HALF_WIDTH = (0.12, 0.22)  # of the digit's height
CROSS_TILT_DEGREES = 8.0


def european_one(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A 1 from MNIST (uint8 28x28, white on black), SCALE times larger, with a flag from its top down to the left
    and sometimes a base."""
    canvas, ink, pen = _enlarged(digit)
    rows = np.flatnonzero(ink.any(axis=1))
    top, bottom = rows.min(), rows.max()
    height = bottom - top
    start = (_centre_of_row(ink, top + pen // 2), top + pen // 2)
    foot = (_centre_of_row(ink, bottom - pen // 2), bottom - pen // 2)
    stem_slope = math.degrees(math.atan2(foot[1] - start[1], start[0] - foot[0]))  # 90: upright, < 90: leans right
    angle = math.radians(np.clip(stem_slope - rng.uniform(*FLAG_OPENING_DEGREES), *FLAG_SLOPE_DEGREES))
    length = height * rng.uniform(*FLAG_LENGTH)
    draw = ImageDraw.Draw(canvas)
    _stroke(draw, start, (start[0] - length * math.cos(angle), start[1] + length * math.sin(angle)), pen)
    if rng.random() < BASE_CHANCE:
        half = height * rng.uniform(*BASE_HALF_WIDTH)
        _stroke(draw, (foot[0] - half, foot[1]), (foot[0] + half, foot[1]), pen)
    return canvas


def crossed_seven(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A 7 from MNIST (uint8 28x28, white on black), SCALE times larger, with a short bar across its stem."""
    canvas, ink, pen = _enlarged(digit)
    rows = np.flatnonzero(ink.any(axis=1))
    top, bottom = rows.min(), rows.max()
    height = bottom - top
    row = int(top + height * rng.uniform(*CROSS_HEIGHT))
    centre, half = _centre_of_row(ink, row), height * rng.uniform(*CROSS_HALF_WIDTH)
    rise = half * math.tan(math.radians(rng.uniform(-CROSS_TILT_DEGREES, CROSS_TILT_DEGREES)))
    _stroke(ImageDraw.Draw(canvas), (centre - half, row + rise), (centre + half, row - rise), pen)
    return canvas


STYLE_OF_DIGIT = {1: european_one, 7: crossed_seven}


def european_variants(images: np.ndarray, labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """European versions of a `share` of the 1s and 7s in `images`: float32 (N, 28, 28, 1) tensors and their labels,
    framed the way the bot frames a posted picture, since the added stroke moves the digit's box."""
    rng = np.random.default_rng(seed)
    tensors, variant_labels = [], []
    for digit, style in STYLE_OF_DIGIT.items():
        indices = np.flatnonzero(labels == digit)
        for index in rng.choice(indices, size=round(share * len(indices)), replace=False):
            tensors.append(to_mnist_tensor(style(images[index], np.random.default_rng([seed, int(index)]))))
            variant_labels.append(digit)
    if not tensors:
        return np.zeros((0, 28, 28, 1), np.float32), np.zeros(0, np.uint8)
    return np.stack(tensors), np.array(variant_labels, dtype=np.uint8)


def _enlarged(digit: np.ndarray) -> tuple[Image.Image, np.ndarray, int]:
    """The digit SCALE times larger, its strokes as a mask, and its pen width in enlarged pixels."""
    canvas = Image.fromarray(digit).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BICUBIC)
    ink = np.asarray(canvas) > INK_LEVEL
    # A stroke's width is its ink area over its length; the rows a digit spans bound that length from below.
    rows = np.flatnonzero(ink.any(axis=1))
    per_row = ink[rows].sum(axis=1)
    pen = int(np.clip(np.median(per_row), 2 * SCALE, 6 * SCALE))
    return canvas, ink, pen


def _centre_of_row(ink: np.ndarray, row: int) -> float:
    """The middle of the ink on `row`, or of the nearest row holding ink."""
    rows = np.flatnonzero(ink.any(axis=1))
    nearest = rows[np.abs(rows - row).argmin()]
    return float(np.flatnonzero(ink[nearest]).mean())


def _stroke(draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float], pen: int) -> None:
    draw.line([start, end], fill=255, width=pen)
    for x, y in (start, end):  # round pen tips, as a real pen leaves them
        draw.ellipse([x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2], fill=255)


SKIP_ROWS = 2  # of MNIST's 28: the gap a pen that skipped leaves across a digit
SKIP_MARGIN = 3  # rows: the gap falls at least this far inside the digit's ink


def skipped_strokes(images: np.ndarray, labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A share of the digits (uint8 28x28, white on black) again, each with a gap across it where the pen skipped,
    as model inputs (float32 (N, 28, 28, 1)) with their labels: a digit in two pieces is still that digit."""
    rng = np.random.default_rng([seed, 7])
    chosen = np.sort(rng.choice(len(images), round(share * len(images)), replace=False))
    skipped = images[chosen].astype(np.float32)
    for digit in skipped:
        rows = np.flatnonzero(digit.max(axis=1) > INK_LEVEL)
        if rows.size > 2 * SKIP_MARGIN + SKIP_ROWS:
            gap = int(rng.integers(rows[0] + SKIP_MARGIN, rows[-1] - SKIP_MARGIN - SKIP_ROWS + 1))
            digit[gap : gap + SKIP_ROWS] = 0.0
    return (skipped / 255.0)[..., np.newaxis], labels[chosen]
