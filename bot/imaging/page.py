"""Step 2, the page and the ink: the paper's light and shadows without the writing, and whether the ink is
darker or lighter than the page."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from bot.imaging.finding import SEARCH_SIDE, _Components, _runs
from bot.imaging.pixels import _quantiles, _shrink, _sliding, _strongest

BACKGROUND_SIDE = 64  # longest side of the image the paper's light is estimated on
POLARITY_SIDE = 16  # longest side of the image the page's local tone is estimated on
POLARITY_KERNEL = 7  # a median this wide (over 40%) is the page even around a marker's thick strokes
CLEAR_POLARITY = 2.0  # marks this much stronger one way than the other settle the ink's tone at once
BACKGROUND_KERNEL = 11  # wider than a marker's stroke at BACKGROUND_SIDE, narrower than a shadow's gradient
INK_THRESHOLD = 0.35  # of the ink's contrast: faint notebook rules and shadows stay below it
FLAT_TOLERANCE = 2.0  # grey levels: a page this even is a digital drawing, not a photo


def _estimate_paper(search: Image.Image, pixels: np.ndarray) -> tuple[Image.Image, bool]:
    """The page without the writing (light and shadows included) as a small "F" image, and whether the ink is dark.

    Returned as if the ink were dark: for light ink (chalk, white on black) both the page and later the pixels are
    inverted. A digital drawing's page is one flat tone, the median. On a photo, a closing (max then min) wider
    than a stroke erases dark writing, an opening light writing.
    """
    sample = pixels[::3, ::3]
    page = _quantiles(sample, 0.5)[0]
    if np.mean(np.abs(sample - page) <= FLAT_TOLERANCE) >= 0.5:
        ink_is_dark = _ink_is_dark(_shrink(search, SEARCH_SIDE // 2), page)
        return Image.new("F", (1, 1), page if ink_is_dark else 255.0 - page), ink_is_dark
    # Around any mark the page is the majority, so on a photo a local median is the page whatever the ink's tone.
    # It is compared at full search size: a small digit written with a fine pen fades into the page's light on less.
    local_page = _shrink(search, POLARITY_SIDE).filter(ImageFilter.MedianFilter(POLARITY_KERNEL))
    # Near a note's or a desk's edge the median is the page on one side or the other: it is unsure by as much as
    # it changes within its reach, and a mark counts by how much further it strays.
    levels = np.asarray(local_page, dtype=np.float32)
    unsure = _sliding(levels, POLARITY_KERNEL, np.maximum) - _sliding(levels, POLARITY_KERNEL, np.minimum)
    ink_is_dark = _ink_is_dark(
        search,
        np.asarray(local_page.resize(search.size, Image.Resampling.BILINEAR)),
        np.asarray(Image.fromarray(unsure, "F").resize(search.size, Image.Resampling.BILINEAR)),
    )
    small = np.asarray(_shrink(Image.fromarray(pixels, "F"), BACKGROUND_SIDE), dtype=np.float32)
    if not ink_is_dark:
        small = 255.0 - small
    size = min(BACKGROUND_KERNEL, 2 * (min(small.shape) // 4) + 1)
    return Image.fromarray(_sliding(_sliding(small, size, np.maximum), size, np.minimum), "F"), ink_is_dark


def _ink_is_dark(image: Image.Image, page: np.ndarray | float, unsure: np.ndarray | float = 0.0) -> bool:
    """Shadows, gradients, page edges and canvases stray from the page both ways: the ink's tone is the one that
    strays much further, or else the one that shows the more digit-like mark. Only what strays further than the
    page is `unsure` counts."""
    difference = page - np.asarray(image, dtype=np.float32)
    darker, lighter = difference - unsure, -difference - unsure
    dark_strength, light_strength = _strongest(darker), _strongest(lighter)
    if max(dark_strength, light_strength) > CLEAR_POLARITY * min(dark_strength, light_strength):
        return dark_strength > light_strength
    threshold = INK_THRESHOLD * max(dark_strength, light_strength)
    dark_marks = _Components(_runs(darker > threshold), np.maximum(darker, 0.0))
    light_marks = _Components(_runs(lighter > threshold), np.maximum(lighter, 0.0))
    return dark_marks.best_mark >= light_marks.best_mark


def _paper_levels(
    paper: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float] | None = None
) -> np.ndarray | float:
    """The page's grey levels over `box` of the paper image, stretched to `size`; a flat page stays one number."""
    if paper.size == (1, 1):
        return float(paper.getpixel((0, 0)))
    return np.asarray(paper.resize(size, Image.Resampling.BILINEAR, box=box))
