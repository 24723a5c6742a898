"""Never a confident answer for what is not a digit: scribbles and doodles come back unsure (or no digit).

These doodles come from their own generator, unlike the ones the model was trained to doubt
(model_training/outliers.py): random walks, zigzags, hatching and spirals rather than random polylines.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bot.errors import NoDigitFound

SIDE = 300
MOST_SURE_ANSWERS = 0.05  # of the doodles: a few can look like a digit by chance


def _random_walk(draw: ImageDraw.ImageDraw, rng: np.random.Generator) -> None:
    for _ in range(int(rng.integers(2, 4))):
        steps = rng.normal(0, 18, (30, 2)).cumsum(axis=0) + SIDE / 2
        draw.line([tuple(point) for point in np.clip(steps, 30, SIDE - 30)], fill=30, width=int(rng.integers(5, 12)))


def _zigzag(draw: ImageDraw.ImageDraw, rng: np.random.Generator) -> None:
    rows = rng.integers(3, 6)
    for row in range(rows):
        y = 60 + row * (SIDE - 120) / rows
        points = [(x, y + (25 if index % 2 else 0)) for index, x in enumerate(range(50, SIDE - 40, 22))]
        draw.line(points, fill=20, width=int(rng.integers(4, 9)))


def _hatching(draw: ImageDraw.ImageDraw, rng: np.random.Generator) -> None:
    spacing = int(rng.integers(18, 30))
    for offset in range(-SIDE, SIDE, spacing):
        draw.line([(60 + offset, 60), (60 + offset + 180, 240)], fill=20, width=5)
        draw.line([(240 - offset, 60), (240 - offset - 180, 240)], fill=20, width=5)
    draw.rectangle([0, 0, 59, SIDE], fill=255)
    draw.rectangle([241, 0, SIDE, SIDE], fill=255)


def _spiral_and_star(draw: ImageDraw.ImageDraw, rng: np.random.Generator) -> None:
    angles = np.linspace(0, rng.uniform(8, 14), 120)
    radii = 8 + 9 * angles
    centre = SIDE / 2 + rng.uniform(-20, 20, 2)
    spiral = np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1) + centre
    draw.line([tuple(point) for point in spiral], fill=20, width=6)
    for angle in np.linspace(0, np.pi, int(rng.integers(3, 6)), endpoint=False):
        offset = 110 * np.array([np.cos(angle), np.sin(angle)])
        draw.line([tuple(centre - offset), tuple(centre + offset)], fill=20, width=6)


DOODLES = {"random-walk": _random_walk, "zigzag": _zigzag, "hatching": _hatching, "spiral-and-star": _spiral_and_star}


def doodle_png(kind: str, rng: np.random.Generator) -> bytes:
    image = Image.new("L", (SIDE, SIDE), 250)
    DOODLES[kind](ImageDraw.Draw(image), rng)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", DOODLES)
def test_doodles_are_not_read_as_a_sure_digit(recognizer, kind):
    rng = np.random.default_rng(2026)
    results = recognizer.read_many([doodle_png(kind, rng) for _ in range(40)])
    sure = [result for result in results if not isinstance(result, NoDigitFound) and result.is_sure]
    assert len(sure) <= MOST_SURE_ANSWERS * len(results), [(r.digit, round(r.confidence, 2)) for r in sure]


def test_real_digits_stay_sure(recognizer, mnist_test_split):
    images, labels = mnist_test_split
    predictions = recognizer.predict_tensors((images[:1000, :, :, None] / 255.0).astype(np.float32))
    sure = predictions.max(axis=1) >= recognizer.confidence_threshold
    assert sure.mean() >= 0.97
    assert (predictions.argmax(axis=1)[sure] == labels[:1000][sure]).mean() >= 0.995
