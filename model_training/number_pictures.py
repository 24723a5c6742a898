"""Renders a number written with MNIST *test* digits as the kind of picture people post in a chat: the digits spaced
or touching, slanted, underlined, on ruled paper, a sticky note, a chalkboard or a canvas. Deterministic for a given
numpy Generator, so tests and benchmarks see the same pictures every run."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from model_training.chat_pictures import (
    BOARD_COLOURS,
    NOTE_COLOURS,
    PAPER_TINTS,
    PEN_COLOURS,
    _add_specks,
    _desk_edges,
    _jpeg,
    _landscape_or_portrait,
    _lighting,
    _pick,
    _place,
    _png,
    _rules,
)
from model_training.writing_styles import crossed_seven

MNIST_SIDE = 28
INK_LEVEL = 40  # of 255: a column of an MNIST digit with less ink than this is empty
GAP = (3, 9)  # pixels between two digits, at MNIST's scale (a digit is about 20 pixels tall, its strokes 2 to 3 wide)
TOUCHING_OVERLAP = (0, 2)  # pixels a touching pair reaches into each other, at MNIST's scale: their ink meets
TOUCHING_SHARE = 0.2  # of numbers written with one pair of digits touching
SLANT = 0.3  # the most a number leans, as a shear (0.3: about 17 degrees)


@dataclass(frozen=True)
class Writing:
    """How a number is written: which of its pairs touch, its slant, a line under it, a bar across each 7, a gap
    cut through each digit's strokes (a pen that skipped)."""

    touching: tuple[int, ...] = ()  # pair i is digits i and i + 1
    slant: float = 0.0
    underline: bool = False
    crossed_sevens: bool = False
    broken_strokes: bool = False


def number_strip(
    digits: Sequence[np.ndarray], labels: Sequence[int], writing: Writing, rng: np.random.Generator
) -> np.ndarray:
    """MNIST digits (uint8 28×28, white on black) side by side as one line: float32 (28, W) ink in [0, 255]."""
    pieces = [_digit_columns(_styled(digit, label, writing, rng)) for digit, label in zip(digits, labels, strict=True)]
    width = sum(piece.shape[1] for piece in pieces) + GAP[1] * len(pieces)
    strip = np.zeros((MNIST_SIDE, width), dtype=np.float32)
    left = 0
    for index, piece in enumerate(pieces):
        if index:
            touching = index - 1 in writing.touching
            left += -int(rng.integers(*TOUCHING_OVERLAP)) if touching else int(rng.integers(*GAP))
        rise = int(rng.integers(-1, 2))
        shifted = np.roll(piece, rise, axis=0)
        area = strip[:, left : left + piece.shape[1]]
        area[:] = np.maximum(area, shifted)
        left += piece.shape[1]
    strip = strip[:, : left + 1]
    if writing.slant:
        strip = _sheared(strip, writing.slant)
    return strip


def _styled(digit: np.ndarray, label: int, writing: Writing, rng: np.random.Generator) -> np.ndarray:
    if writing.crossed_sevens and label == 7:
        digit = np.asarray(crossed_seven(digit, rng).resize((MNIST_SIDE, MNIST_SIDE), Image.Resampling.BOX))
    digit = digit.astype(np.float32)
    if writing.broken_strokes:
        rows = np.flatnonzero(digit.max(axis=1) > INK_LEVEL)
        gap = int(rng.integers(rows[0] + 3, max(rows[0] + 4, rows[-1] - 3)))
        digit[gap : gap + 2] = 0.0  # a pen that skipped: the digit in two pieces, one above the other
    return digit


def _digit_columns(digit: np.ndarray) -> np.ndarray:
    columns = np.flatnonzero(digit.max(axis=0) > INK_LEVEL)
    return digit[:, columns[0] : columns[-1] + 1]


def _sheared(strip: np.ndarray, slant: float) -> np.ndarray:
    """The strip leaning right (slant > 0) or left: rows higher up move further along."""
    height, width = strip.shape
    extra = int(np.ceil(abs(slant) * height))
    offset = -slant * height if slant > 0 else 0.0
    image = Image.fromarray(strip, "F").transform(
        (width + extra, height), Image.Transform.AFFINE, (1, slant, offset, 0, 1, 0), Image.Resampling.BILINEAR
    )
    return np.asarray(image, dtype=np.float32)


def _coverage(strip: np.ndarray, height: int, rng: np.random.Generator, *, underline: bool) -> np.ndarray:
    """The strip as ink coverage in [0, 1], its digits `height` pixels tall, slightly turned; underlined if asked."""
    width = max(1, round(strip.shape[1] * height / MNIST_SIDE))
    image = Image.fromarray(strip, "F").resize((width, height), Image.Resampling.BICUBIC)
    if underline:
        image = _underlined(image, rng)
    image = image.rotate(float(rng.uniform(-4, 4)), Image.Resampling.BICUBIC, expand=True)
    return np.clip((np.asarray(image, dtype=np.float32) / 255.0 - 0.3) / 0.35, 0.0, 1.0)


def _underlined(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A line drawn under the number, a little below its lowest ink, a little longer than it, not quite level."""
    ink = np.asarray(image) > INK_LEVEL
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    height = image.height
    pen = max(2, round(height * rng.uniform(0.04, 0.07)))
    below = rows[-1] + round(height * rng.uniform(0.06, 0.14))
    canvas = Image.new("F", (image.width, below + 2 * pen), 0.0)
    canvas.paste(image, (0, 0))
    tilt = height * rng.uniform(-0.04, 0.04)
    reach = round(height * rng.uniform(0.0, 0.1))
    ImageDraw.Draw(canvas).line(
        [(max(0, columns[0] - reach), below - tilt), (min(image.width - 1, columns[-1] + reach), below + tilt)],
        fill=255.0,
        width=pen,
    )
    return canvas


def _number_height(strip: np.ndarray, canvas: tuple[int, int], rng: np.random.Generator, widest: float) -> int:
    """Digits tall enough to read, with the whole number at most `widest` of the canvas's width."""
    width, height = canvas
    most = min(0.3 * height, widest * width * MNIST_SIDE / strip.shape[1])
    return max(12, int(most * rng.uniform(0.5, 1.0)))


def _written(
    canvas: np.ndarray,
    strip: np.ndarray,
    writing: Writing,
    rng: np.random.Generator,
    ink: tuple[int, int, int],
    widest: float = 0.85,
) -> None:
    """The number written somewhere near the middle of the canvas, float32 (H, W, 3), in place."""
    height, width, _ = canvas.shape
    coverage = _coverage(strip, _number_height(strip, (width, height), rng, widest), rng, underline=writing.underline)
    coverage = coverage[: height - 2, : width - 2]
    top = int(rng.integers(0, height - coverage.shape[0] + 1) * 0.5 + (height - coverage.shape[0]) * 0.25)
    left = int(rng.integers(0, width - coverage.shape[1] + 1) * 0.5 + (width - coverage.shape[1]) * 0.25)
    _place(canvas, coverage, ink, top, left)


def _photographed(canvas: np.ndarray, rng: np.random.Generator, strength: tuple[float, float]) -> np.ndarray:
    height, width, _ = canvas.shape
    canvas *= _lighting(height, width, rng, strength=float(rng.uniform(*strength)))[:, :, np.newaxis]
    canvas += rng.normal(0, 3, size=(height, width, 1)).astype(np.float32)
    return canvas


def _page(size: tuple[int, int], colour: Sequence[float]) -> np.ndarray:
    width, height = size
    canvas = np.empty((height, width, 3), dtype=np.float32)
    canvas[:] = np.asarray(colour, dtype=np.float32)
    return canvas


def paper_photo(strip: np.ndarray, writing: Writing, rng: np.random.Generator) -> bytes:
    canvas = _page(_landscape_or_portrait(1280, 960, rng), _pick(PAPER_TINTS, rng))
    if rng.random() < 0.4:
        _desk_edges(canvas, rng)
    _written(canvas, strip, writing, rng, _pick(PEN_COLOURS, rng), widest=0.7)
    _add_specks(canvas, rng)
    return _jpeg(_photographed(canvas, rng, (0.2, 0.6)), rng)


def notebook(strip: np.ndarray, writing: Writing, rng: np.random.Generator) -> bytes:
    canvas = _page(_pick(((1080, 1080), (1280, 960)), rng), (248, 248, 250))
    _rules(canvas, rng)
    _written(canvas, strip, writing, rng, _pick(PEN_COLOURS, rng), widest=0.7)
    return _jpeg(_photographed(canvas, rng, (0.2, 0.6)), rng)


def chalkboard(strip: np.ndarray, writing: Writing, rng: np.random.Generator) -> bytes:
    canvas = _page((1280, 960), _pick(BOARD_COLOURS, rng))
    smudges = Image.fromarray(rng.uniform(0, 25, size=(6, 8)).astype(np.float32), "F")
    canvas += np.asarray(smudges.resize((1280, 960), Image.Resampling.BICUBIC))[:, :, np.newaxis]
    _written(canvas, strip, writing, rng, (225, 228, 220))
    return _jpeg(_photographed(canvas, rng, (0.1, 0.4)), rng)


def sticky_note(strip: np.ndarray, writing: Writing, rng: np.random.Generator) -> bytes:
    canvas = _page((1080, 1080), rng.uniform(90, 200, size=3))
    note = int(1080 * rng.uniform(0.7, 0.9))
    top, left = (1080 - note) // 2, (1080 - note) // 2
    canvas[top : top + note, left : left + note] = np.asarray(_pick(NOTE_COLOURS, rng), dtype=np.float32)
    _written(canvas[top : top + note, left : left + note], strip, writing, rng, (25, 25, 30), widest=0.8)
    return _jpeg(_photographed(canvas, rng, (0.1, 0.4)), rng)


def drawing_png(strip: np.ndarray, writing: Writing, rng: np.random.Generator) -> bytes:
    canvas = _page((800, 400), (255, 255, 255))
    _written(canvas, strip, writing, rng, (0, 0, 0), widest=0.9)
    return _png(Image.fromarray(canvas.astype(np.uint8)))


def dark_drawing(strip: np.ndarray, writing: Writing, rng: np.random.Generator) -> bytes:
    canvas = _page((560, 280), (0, 0, 0))
    _written(canvas, strip, writing, rng, (255, 255, 255), widest=0.9)
    return _png(Image.fromarray(canvas.astype(np.uint8)))


def transparent_png(strip: np.ndarray, writing: Writing, rng: np.random.Generator) -> bytes:
    """Black ink on a transparent page, as drawing apps export it."""
    alpha = _page((600, 300), (0, 0, 0))
    _written(alpha, strip, writing, rng, (255, 255, 255), widest=0.9)
    rgba = np.zeros((300, 600, 4), dtype=np.uint8)
    rgba[:, :, 3] = alpha[:, :, 0].astype(np.uint8)
    return _png(Image.fromarray(rgba, "RGBA"))


def big_photo(strip: np.ndarray, writing: Writing, rng: np.random.Generator) -> bytes:
    """A 12 MP shot: rendered at a quarter of the size and enlarged, as the camera's detail adds nothing here."""
    canvas = _page((1008, 756), _pick(PAPER_TINTS, rng))
    _written(canvas, strip, writing, rng, _pick(PEN_COLOURS, rng), widest=0.7)
    small = Image.fromarray(np.clip(_photographed(canvas, rng, (0.2, 0.6)), 0, 255).astype(np.uint8))
    large = small.resize((small.width * 4, small.height * 4), Image.Resampling.BILINEAR)
    return _jpeg(np.asarray(large, dtype=np.float32), rng)


RENDERERS: dict[str, Callable[[np.ndarray, Writing, np.random.Generator], bytes]] = {
    renderer.__name__: renderer
    for renderer in (
        paper_photo,
        notebook,
        chalkboard,
        sticky_note,
        drawing_png,
        dark_drawing,
        transparent_png,
        big_photo,
    )
}
STYLES = tuple(RENDERERS)


def number_picture(
    digits: Sequence[np.ndarray], labels: Sequence[int], style: str, writing: Writing, rng: np.random.Generator
) -> bytes:
    """The number written with `digits` (MNIST's uint8 28×28, white on black) in `style`: encoded PNG or JPEG bytes."""
    return RENDERERS[style](number_strip(digits, labels, writing, rng), writing, rng)


def random_writing(length: int, rng: np.random.Generator) -> Writing:
    """A mix as people write: sometimes one pair touching, often slanted, sometimes underlined, crossed 7s or a pen
    that skipped."""
    touching = (int(rng.integers(length - 1)),) if length > 1 and rng.random() < TOUCHING_SHARE else ()
    return Writing(
        touching=touching,
        slant=float(rng.uniform(-SLANT, SLANT)) if rng.random() < 0.6 else 0.0,
        underline=bool(rng.random() < 0.2),
        crossed_sevens=bool(rng.random() < 0.3),
        broken_strokes=bool(rng.random() < 0.1),
    )


def generated_numbers(
    images: np.ndarray, labels: np.ndarray, count: int, length: int = 4, seed: int = 0
) -> list[tuple[str, str, bytes]]:
    """(style, digit string, picture) for `count` numbers of `length` digits drawn from `images`, the styles taking
    turns. Each picture has its own generator, so a shorter run renders exactly the first pictures of a longer one."""
    examples = []
    for index, style in zip(range(count), itertools.cycle(STYLES), strict=False):
        rng = np.random.default_rng([seed, index])
        chosen = rng.choice(len(images), size=length, replace=False)
        picture = number_picture(images[chosen], labels[chosen].tolist(), style, random_writing(length, rng), rng)
        examples.append((style, "".join(str(label) for label in labels[chosen]), picture))
    return examples
