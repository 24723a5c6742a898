"""Pictures that hold no digit (scribbles, doodles), framed by the bot's own preprocessing.

Trained towards equal probabilities for every digit ("outlier exposure"), they teach the model to be
unsure of what is not a digit, instead of picking the nearest digit with confidence.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from bot.errors import DigitBotError
from bot.imaging import ImageLimits, decode_picture, to_mnist_tensor

CANVAS_SIDE = 160


def outlier_tensors(count: int, seed: int) -> np.ndarray:
    """`count` float32 (28, 28, 1) tensors of doodles, as `to_mnist_tensor` makes them from posted pictures."""
    rng = np.random.default_rng(seed)
    tensors: list[np.ndarray] = []
    while len(tensors) < count:
        try:
            tensors.append(to_mnist_tensor(decode_picture(_doodle_png(rng), ImageLimits())))
        except DigitBotError:
            continue  # a doodle too faint or small to be found would never reach the model either
    return np.stack(tensors).astype(np.float32) if tensors else np.zeros((0, 28, 28, 1), np.float32)


def _doodle_png(rng: np.random.Generator) -> bytes:
    """Dark pen on white: several random polylines, sometimes with an ellipse, none of them a digit on purpose."""
    image = Image.new("L", (CANVAS_SIDE, CANVAS_SIDE), 255)
    draw = ImageDraw.Draw(image)
    low, high = CANVAS_SIDE // 6, CANVAS_SIDE - CANVAS_SIDE // 6
    width = int(rng.integers(3, 9))
    for _ in range(int(rng.integers(2, 7))):  # two strokes at least: one stroke may well be a digit
        points = [tuple(int(value) for value in rng.integers(low, high, 2)) for _ in range(int(rng.integers(3, 6)))]
        draw.line(points, fill=0, width=width, joint="curve")
    if rng.random() < 0.3:
        corners = np.sort(rng.integers(low, high, (2, 2)), axis=0)
        draw.ellipse([*corners[0], *corners[1]], outline=0, width=width)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
