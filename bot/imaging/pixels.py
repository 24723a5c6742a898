"""The small numpy and Pillow tools every step shares: shrinking, quantiles and max/min filters."""

from __future__ import annotations

import numpy as np
from PIL import Image


def _shrink(image: Image.Image, longest_side: int) -> Image.Image:
    """Averages whole blocks of pixels (fast, and sharp enough) until the longest side is at most `longest_side`."""
    factor = -(-max(image.size) // longest_side)
    return image.reduce(factor) if factor > 1 else image


def _sliding(values: np.ndarray, size: int, pick: np.ufunc) -> np.ndarray:
    """A size×size max or min filter (pick = np.maximum / np.minimum) in log2(size) vectorised steps per axis."""
    for axis in (0, 1):
        reach = size // 2
        edge_padded = np.clip(np.arange(-reach, values.shape[axis] + reach), 0, values.shape[axis] - 1)
        covered, result = 1, np.take(values, edge_padded, axis=axis)
        while covered * 2 <= size:
            result = pick(_take(result, 0, -covered, axis), _take(result, covered, None, axis))
            covered *= 2
        if covered < size:
            rest = size - covered
            result = pick(_take(result, 0, -rest, axis), _take(result, rest, None, axis))
        values = result
    return values


def _take(values: np.ndarray, start: int, stop: int | None, axis: int) -> np.ndarray:
    return values[start:stop] if axis == 0 else values[:, start:stop]


def _quantiles(values: np.ndarray, *fractions: float) -> list[float]:
    """Nearest-rank quantiles: np.percentile's bookkeeping costs more than the sorting on arrays this small."""
    ranks = [round(fraction * (values.size - 1)) for fraction in fractions]
    ordered = np.partition(values.ravel(), ranks)
    return [float(ordered[rank]) for rank in ranks]


def _strongest(values: np.ndarray) -> float:
    """A high value that a few noisy pixels cannot fake, yet a small digit still reaches."""
    count = max(8, values.size // 5000)
    highest = float(values.max()) if values.size else 0.0
    # Only the highest values are sorted: if enough reach half the highest, the answer is among them.
    for floor in (0.5 * highest, 0.0):
        candidates = values[values > floor]
        if candidates.size >= count:
            return float(np.partition(candidates, -count)[-count])
    return 0.0
