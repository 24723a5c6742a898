"""Step 4, framing: the digit found cut from the decoded picture, its strokes thickened to MNIST's width, fitted
in a 20×20 box and centred by mass in 28×28: the tensor the model reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from bot.errors import NoDigitFound
from bot.imaging.decoding import MIN_INK_CONTRAST
from bot.imaging.finding import SEARCH_SIDE, _Components, _without_rules
from bot.imaging.page import INK_THRESHOLD, _estimate_paper, _paper_levels
from bot.imaging.pixels import _quantiles, _shrink, _sliding, _strongest

NOISE_PER_QUARTILE = 3.14  # standard deviations per lower quartile of a normal noise's distances from its mean
MIN_SIGNAL_TO_NOISE = 5.0  # ink must stand this many noise deviations above the page: noise alone is no digit
FAINT_INK = 0.3  # of the digit's contrast: fainter pixels in its box are page
MNIST_BOX = 20
MNIST_SIDE = 28
FRAMING_SIDE = 4 * MNIST_BOX  # the digit is cut out and thickened at this size, then averaged down to MNIST_BOX
THINNEST_MNIST_STROKE = 7.0  # pixels at FRAMING_SIDE: MNIST's 10th percentile
TYPICAL_MNIST_STROKE = 10.0  # MNIST's median


@dataclass(frozen=True)
class _InkOnPage:
    """What the search image holds: the page (as `_estimate_paper` gives it), the ink's tone, how far each pixel
    strays darker than the page (ink dark side up), the page's noise, and the mask of what counts as ink."""

    paper: Image.Image
    ink_is_dark: bool
    ink: np.ndarray
    noise: float
    mask: np.ndarray


def to_mnist_tensor(image: Image.Image) -> np.ndarray:
    """float32 (28, 28, 1) in [0, 1], white ink on black, framed the way MNIST was: raises NoDigitFound."""
    search = _shrink(image, SEARCH_SIDE)
    found = _ink_on_page(search)
    components = _Components(_without_rules(found.mask), found.ink)
    digit = components.digit()
    if digit is None:
        raise NoDigitFound("nothing on the picture is shaped like a digit")
    box, mask = components.box_and_mask(digit)
    framing = _frame(image, search.size, box, mask, found.paper, found.noise, found.ink_is_dark)
    return _center_by_mass(_mnist_stroke_width(framing))[:, :, np.newaxis]


def _ink_on_page(search: Image.Image) -> _InkOnPage:
    """The page and the ink on the search image; raises NoDigitFound if nothing stands out from the page's noise."""
    pixels = np.asarray(search, dtype=np.float32)
    paper, ink_is_dark = _estimate_paper(search, pixels)
    if not ink_is_dark:
        pixels = 255.0 - pixels  # from here on the ink is the dark side
    difference = _paper_levels(paper, search.size) - pixels
    noise = _page_noise(difference)
    ink = np.maximum(difference, 0.0)
    contrast = _strongest(ink)
    if contrast < MIN_INK_CONTRAST or contrast < MIN_SIGNAL_TO_NOISE * noise:
        raise NoDigitFound("nothing on the picture stands out from the page")
    return _InkOnPage(paper, ink_is_dark, ink, noise, ink > max(INK_THRESHOLD * contrast, 3.0 * noise))


def _page_noise(difference: np.ndarray) -> float:
    """The page's noise, as a standard deviation, from how far the picture strays from the page estimated.

    The quartile, not the median, of those distances: where the ink and a second tone (a drawing app's white canvas
    on its grey window) together cover near half the picture, the median distance is theirs, not the noise's.
    """
    sample = difference[::4, ::4]
    return NOISE_PER_QUARTILE * _quantiles(np.abs(sample - _quantiles(sample, 0.5)[0]), 0.25)[0]


def _frame(
    image: Image.Image,
    search_size: tuple[int, int],
    search_box: tuple[int, int, int, int],
    digit_mask: np.ndarray,
    paper: Image.Image,
    noise: float,
    ink_is_dark: bool,
) -> np.ndarray:
    """The digit cut from the decoded picture, FRAMING_SIDE pixels on its longest side: ink in [0, 1], the rest 0."""
    box = _scale_box(search_box, image.size, search_size)
    zoom = FRAMING_SIDE / max(box[2] - box[0], box[3] - box[1])
    size = (max(1, round((box[2] - box[0]) * zoom)), max(1, round((box[3] - box[1]) * zoom)))
    sampling = Image.Resampling.BOX if zoom < 1 else Image.Resampling.BILINEAR
    pixels = np.asarray(image.resize(size, sampling, box=box), dtype=np.float32)
    if not ink_is_dark:
        pixels = 255.0 - pixels
    difference = _paper_levels(paper, size, _scale_box(search_box, paper.size, search_size)) - pixels
    # Other writing that reaches into the digit's box (a rule, a neighbour) is not part of it.
    near_digit = Image.fromarray(_sliding(digit_mask.astype(np.float32), 3, np.maximum), "F")
    keep = np.minimum(2.0 * np.asarray(near_digit.resize(size, Image.Resampling.BILINEAR)), 1.0)
    strokes = difference[keep > 0.5]
    contrast = _quantiles(strokes, 0.95)[0] if strokes.size else 0.0
    faint = max(FAINT_INK * contrast, 3.0 * noise)
    if contrast <= faint:
        raise NoDigitFound("the writing is too faint to read")
    return np.clip((difference - faint) / (0.8 * contrast - faint), 0.0, 1.0) * keep


def _scale_box(
    box: tuple[int, int, int, int], to_size: tuple[int, int], from_size: tuple[int, int]
) -> tuple[float, float, float, float]:
    across, down = to_size[0] / from_size[0], to_size[1] / from_size[1]
    return (box[0] * across, box[1] * down, box[2] * across, box[3] * down)


def _mnist_stroke_width(framing: np.ndarray) -> np.ndarray:
    """Thickens a pen's hairline to MNIST's usual stroke width at the framing size."""
    strokes = framing > 0.5
    padded = np.pad(strokes, 1)
    inside = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & strokes
    edge = np.count_nonzero(strokes & ~inside)
    if edge == 0:
        return framing
    width = 2.0 * np.count_nonzero(strokes) / edge  # area over half the outline
    if width >= THINNEST_MNIST_STROKE:
        return framing  # thinning a marker's strokes would break them: MNIST has bold digits too
    return _sliding(framing, 2 * round((TYPICAL_MNIST_STROKE - width) / 2) + 1, np.maximum)


def _center_by_mass(framing: np.ndarray) -> np.ndarray:
    """Crop to the ink, fit it in MNIST_BOX keeping its aspect ratio, and put its centre of mass at the centre."""
    rows = np.flatnonzero(framing.max(axis=1) > 0)
    columns = np.flatnonzero(framing.max(axis=0) > 0)
    if rows.size == 0:
        raise NoDigitFound("the writing is too faint to read")
    digit = framing[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    height, width = digit.shape
    fit = MNIST_BOX / max(height, width)
    size = (max(1, round(width * fit)), max(1, round(height * fit)))
    small = np.asarray(Image.fromarray(digit, "F").resize(size, Image.Resampling.BOX), dtype=np.float32)
    small = np.clip(small / max(float(small.max()), 1e-6), 0.0, 1.0)
    total = float(small.sum())
    center_row = float((small.sum(axis=1) * np.arange(small.shape[0])).sum()) / total
    center_column = float((small.sum(axis=0) * np.arange(small.shape[1])).sum()) / total
    top = int(np.clip(round(MNIST_SIDE / 2 - center_row), 0, MNIST_SIDE - small.shape[0]))
    left = int(np.clip(round(MNIST_SIDE / 2 - center_column), 0, MNIST_SIDE - small.shape[1]))
    tensor = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    tensor[top : top + small.shape[0], left : left + small.shape[1]] = small
    return tensor
