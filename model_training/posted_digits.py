"""Training digits as the bot sees posted photos: on small plain, ruled or squared pages, in faint or bold pen, blurred,
compressed, then found and framed by the bot's own preprocessing, so training sees what serving sees."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from bot.errors import DigitBotError
from bot.imaging import ImageLimits, decode_picture, to_mnist_tensor
from model_training.chat_pictures import PAPER_TINTS, PEN_COLOURS, _ink_mask, _jpeg, _lighting, _pick, _place

PAGE_SIZES = ((400, 300), (300, 400), (480, 360), (360, 360))  # small: the bot frames at about this size anyway
LINE_COLOURS = ((170, 180, 225), (150, 150, 160), (190, 215, 200))
LINE_SPACING = (0.06, 0.12)  # of the page's height
DIGIT_PER_LINE = (0.9, 2.0)  # a digit's height in line spacings: within one line or across two
DIGIT_ON_PLAIN_PAGE = (0.08, 0.45)  # of the page's height: from a small digit in a large photo to a close-up
FAINT_CHANCE = 0.35
FAINT_CONTRAST = (0.2, 0.55)  # of the pen's full contrast to the paper
PEN_THINNING = (0.0, 0.6)  # of the ink coverage cut away: 0 keeps the pen, more leaves a hairline
MAX_BLUR = 0.06  # Gaussian blur radius, as a share of the digit's height
JPEG_QUALITY = (35, 92)
# A framing this unlike the digit framed alone caught something else (a ruled line, a speck): its label would lie.
MIN_AGREEMENT = 0.5


def posted_tensors(images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each uint8 (28, 28) digit as a posted photo, framed by bot.imaging: float32 (N, 28, 28, 1) and which were kept.

    A picture the bot would refuse, or frame around something other than the digit, is left out.
    """
    tensors, kept = [], []
    for index, digit in enumerate(images):
        tensor = posted_tensor(digit, np.random.default_rng([seed, index]))
        if tensor is not None:
            tensors.append(tensor)
            kept.append(index)
    if not tensors:
        return np.zeros((0, 28, 28, 1), np.float32), np.zeros(0, np.int64)
    return np.stack(tensors), np.array(kept)


def posted_tensor(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """One digit through a posted photo and the bot's preprocessing, or None where the framing misses the digit."""
    try:
        tensor = to_mnist_tensor(decode_picture(posted_photo(digit, rng), ImageLimits()))
    except DigitBotError:
        return None
    alone = to_mnist_tensor(Image.fromarray(digit))
    return tensor if np.corrcoef(tensor.ravel(), alone.ravel())[0, 1] >= MIN_AGREEMENT else None


def posted_photo(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A JPEG photo of the digit written on a plain, ruled or squared page."""
    width, height = _pick(PAGE_SIZES, rng)
    paper = np.asarray(_pick(PAPER_TINTS, rng), dtype=np.float32)
    canvas = np.empty((height, width, 3), dtype=np.float32)
    canvas[:] = paper
    page = _pick(("plain", "ruled", "squared"), rng)
    if page == "plain":
        digit_size = int(height * rng.uniform(*DIGIT_ON_PLAIN_PAGE))
    else:
        spacing = max(6, int(height * rng.uniform(*LINE_SPACING)))
        _draw_lines(canvas, spacing, squared=page == "squared", rng=rng)
        digit_size = int(spacing * rng.uniform(*DIGIT_PER_LINE))
    digit_size = max(digit_size, 20)
    coverage = _ink_mask(digit, digit_size, rng)
    cut = rng.uniform(*PEN_THINNING)
    coverage = np.clip((coverage - cut) / (1.0 - cut), 0.0, 1.0)
    # An out-of-focus shot softens the pen; blurring the ink alone costs far less than blurring the page.
    blur = ImageFilter.GaussianBlur(digit_size * rng.uniform(0, MAX_BLUR))
    coverage = np.asarray(Image.fromarray((coverage * 255).astype(np.uint8)).filter(blur), dtype=np.float32) / 255
    ink = np.asarray(_pick(PEN_COLOURS, rng), dtype=np.float32)
    if rng.random() < FAINT_CHANCE:
        ink = paper + (ink - paper) * rng.uniform(*FAINT_CONTRAST)
    top, left = int(rng.integers(0, height - digit_size)), int(rng.integers(0, width - digit_size))
    _place(canvas, coverage, tuple(ink), top, left)
    canvas *= _lighting(height, width, rng, strength=float(rng.uniform(0.1, 0.5)))[:, :, np.newaxis]
    canvas += rng.normal(0, rng.uniform(1, 5), size=(height, width, 1)).astype(np.float32)
    return _jpeg(canvas, rng, JPEG_QUALITY)


def _draw_lines(canvas: np.ndarray, spacing: int, *, squared: bool, rng: np.random.Generator) -> None:
    """Pale printed lines across the page, every `spacing` pixels; both ways on squared paper."""
    height, width, _ = canvas.shape
    colour = np.asarray(_pick(LINE_COLOURS, rng), dtype=np.float32)
    thickness = int(rng.integers(1, 3))
    for row in range(int(rng.integers(0, spacing)), height - thickness, spacing):
        canvas[row : row + thickness] = colour
    if squared:
        for column in range(int(rng.integers(0, spacing)), width - thickness, spacing):
            canvas[:, column : column + thickness] = colour
