"""Digits near the rules of notebook and squared paper: the digit is framed, never a piece of a rule beside it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.imaging import ImageLimits, decode_picture, to_mnist_tensor

SIDE = 240
SPACING = 40


def _page_with_rules(rng: np.random.Generator, *, squared: bool, faintest: float) -> np.ndarray:
    """A page whose printed lines fade along their length, as on a photo in uneven light, down to `faintest` (0-1)."""
    page = np.full((SIDE, SIDE), 238.0)
    wave = np.abs(np.sin(np.linspace(0, rng.uniform(4, 9), SIDE) + rng.uniform(0, 6)))
    fade = faintest + (1 - faintest) * wave
    for offset in range(SPACING // 2, SIDE, SPACING):
        page[offset : offset + 2] = np.minimum(page[offset : offset + 2], 238 - 110 * fade)
        if squared:
            page[:, offset : offset + 2] = np.minimum(page[:, offset : offset + 2], 238 - 110 * fade[:, None])
    return page


def _faint_digit_on_a_rule(digit: np.ndarray, rng: np.random.Generator, *, squared: bool, faintest: float) -> bytes:
    page = _page_with_rules(rng, squared=squared, faintest=faintest)
    size = int(SPACING * 1.2)
    ink = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    top = SPACING // 2 + 2 * SPACING - size + 4  # the digit's foot rests on a rule
    left = int(rng.integers(40, SIDE - 40 - size))
    area = page[top : top + size, left : left + size]
    area[:] = np.minimum(area, 238 - 120 * ink)  # a faint pen: about as dark as the rules
    buffer = io.BytesIO()
    Image.fromarray(page.astype(np.uint8)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


# Rules that fade out break into pieces; squared paper's lines cut each other into pieces. Squared paper whose lines
# also fade out is still framed wrong too often (about 2 in 5 of these): its pieces join into lattices.
@pytest.mark.parametrize(
    ("squared", "faintest"), [(False, 0.0), (True, 0.5)], ids=["ruled, rules broken", "squared, lines whole"]
)
def test_a_faint_digit_resting_on_a_rule_is_framed_not_the_rule(squared, faintest, recognizer, mnist_test_split):
    images, labels = mnist_test_split
    rng = np.random.default_rng(11)
    flat = framed = right = 0
    for image, label in zip(images[:40], labels[:40], strict=True):
        picture = _faint_digit_on_a_rule(image, rng, squared=squared, faintest=faintest)
        tensor = to_mnist_tensor(decode_picture(picture, ImageLimits()))
        rows, columns = np.nonzero(tensor[:, :, 0] > 0.3)
        flat += np.ptp(columns) > 3 * max(np.ptp(rows), 1)
        alone = to_mnist_tensor(Image.fromarray(image))  # the same digit on a blank page
        framed += np.corrcoef(tensor.ravel(), alone.ravel())[0, 1] >= 0.5
        right += int(recognizer.predict_tensors(tensor[np.newaxis]).argmax()) == label
    assert flat == 0
    assert framed >= 32  # 37 and 34 of 40 when written; 19 and 0 before rules were dropped piece by piece
    assert right >= 32
