"""Renders a 28×28 MNIST digit as the kind of picture people post in a chat: photos of paper, canvases, 12 MP shots.
Deterministic for a given numpy Generator, so tests and benchmarks see the same pictures every run."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image, ImageFilter

T = TypeVar("T")
ORIENTATION_TAG = 0x0112
# EXIF orientation → how the stored pixels are turned so that a viewer applying the tag shows them upright.
STORED_TURN = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
PEN_COLOURS = ((20, 30, 120), (25, 25, 30), (120, 20, 25), (60, 60, 70), (10, 60, 40))
PAPER_TINTS = ((245, 243, 238), (235, 238, 245), (250, 240, 242), (232, 235, 228))
NOTE_COLOURS = ((250, 230, 120), (250, 190, 210), (190, 240, 170), (170, 215, 250))
BOARD_COLOURS = ((25, 55, 40), (30, 35, 38), (20, 40, 60))


def render_chat_picture(digit: np.ndarray, style: str, rng: np.random.Generator) -> bytes:
    """`digit`: uint8 (28, 28), white on black as in MNIST. Returns the encoded picture's bytes (PNG or JPEG)."""
    return RENDERERS[style](digit, rng)


def _ink_mask(digit: np.ndarray, height: int, rng: np.random.Generator, *, weight: int = 0) -> np.ndarray:
    """The digit as ink coverage in [0, 1], `height` pixels tall, slightly turned; `weight` pixels bolder."""
    mask = Image.fromarray(digit).resize((height, height), Image.Resampling.BICUBIC)
    mask = mask.rotate(float(rng.uniform(-12, 12)), Image.Resampling.BICUBIC)
    if weight:
        mask = mask.filter(ImageFilter.MaxFilter(2 * weight + 1))
    coverage = np.asarray(mask, dtype=np.float32) / 255.0
    return np.clip((coverage - 0.3) / 0.35, 0.0, 1.0)


def _lighting(height: int, width: int, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Uneven light: a smooth random field times a gradient from one side, 1.0 at its brightest."""
    coarse = rng.uniform(1 - strength / 3, 1.0, size=(3, 3)).astype(np.float32)
    field = np.asarray(Image.fromarray(coarse, "F").resize((width, height), Image.Resampling.BICUBIC))
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (
        np.cos(angle) * np.linspace(-0.5, 0.5, width)[np.newaxis, :]
        + np.sin(angle) * np.linspace(-0.5, 0.5, height)[:, np.newaxis]
    )
    return (field * (1 - strength / 2 * (ramp + 0.5))).astype(np.float32)


def _place(canvas: np.ndarray, coverage: np.ndarray, ink: tuple[int, int, int], top: int, left: int) -> None:
    height, width = coverage.shape
    area = canvas[top : top + height, left : left + width]
    alpha = coverage[:, :, np.newaxis]
    area[:] = area * (1 - alpha) + np.asarray(ink, dtype=np.float32) * alpha


def _spot(canvas_shape: tuple[int, int], size: int, rng: np.random.Generator, *, central: bool) -> tuple[int, int]:
    height, width = canvas_shape
    if central:
        return (
            int(rng.integers((height - size) // 4, 3 * (height - size) // 4 + 1)),
            int(rng.integers((width - size) // 4, 3 * (width - size) // 4 + 1)),
        )
    return int(rng.integers(0, height - size)), int(rng.integers(0, width - size))


def _photo(
    digit: np.ndarray,
    rng: np.random.Generator,
    *,
    size: tuple[int, int],
    paper: tuple[int, int, int],
    ink: tuple[int, int, int],
    digit_fraction: tuple[float, float],
    central: bool = True,
    decorate: Callable[[np.ndarray, np.random.Generator], None] | None = None,
) -> np.ndarray:
    """A phone photo of a digit on a page: uneven light, a little blur and sensor noise. float32 (H, W, 3)."""
    width, height = size
    canvas = np.empty((height, width, 3), dtype=np.float32)
    canvas[:] = np.asarray(paper, dtype=np.float32)
    if decorate:
        decorate(canvas, rng)
    digit_size = int(min(size) * rng.uniform(*digit_fraction))
    top, left = _spot((height, width), digit_size, rng, central=central)
    _place(canvas, _ink_mask(digit, digit_size, rng, weight=int(rng.integers(0, 3))), ink, top, left)
    _add_specks(canvas, rng)
    canvas *= _lighting(height, width, rng, strength=float(rng.uniform(0.2, 0.6)))[:, :, np.newaxis]
    canvas += rng.normal(0, 3, size=(height, width, 1)).astype(np.float32)
    return canvas


def _add_specks(canvas: np.ndarray, rng: np.random.Generator) -> None:
    height, width, _ = canvas.shape
    for _ in range(int(rng.integers(0, 6))):
        radius = int(rng.integers(1, max(2, min(height, width) // 300) + 1))
        row, column = int(rng.integers(radius, height - radius)), int(rng.integers(radius, width - radius))
        canvas[row - radius : row + radius, column - radius : column + radius] *= 0.6


def _rules(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Notebook paper: pale ruled lines across the page and sometimes a red margin."""
    height, width, _ = canvas.shape
    spacing = int(rng.integers(height // 30, height // 18))
    colour = np.asarray((170, 180, 225) if rng.random() < 0.7 else (150, 150, 160), dtype=np.float32)
    thickness = max(1, height // 500)
    for row in range(int(rng.integers(0, spacing)), height - thickness, spacing):
        canvas[row : row + thickness] = colour
    if rng.random() < 0.5:
        column = int(rng.integers(width // 12, width // 6))
        canvas[:, column : column + thickness + 1] = (220, 120, 120)


def _desk_edges(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """The page does not fill the shot: a strip of dark desk shows along one or two edges."""
    height, width, _ = canvas.shape
    desk = np.asarray(rng.uniform(40, 110, size=3), dtype=np.float32)
    if rng.random() < 0.6:
        canvas[: int(height * rng.uniform(0.03, 0.1))] = desk
    if rng.random() < 0.6:
        canvas[:, width - int(width * rng.uniform(0.03, 0.1)) :] = desk


def _jpeg(canvas: np.ndarray, rng: np.random.Generator, qualities: tuple[int, int] = (75, 93), **save: object) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    image.save(buffer, "JPEG", quality=int(rng.integers(*qualities)), **save)
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _pick(options: tuple[T, ...], rng: np.random.Generator) -> T:
    return options[int(rng.integers(len(options)))]


def _landscape_or_portrait(long_side: int, short_side: int, rng: np.random.Generator) -> tuple[int, int]:
    return (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)


def _pen_on_paper(digit: np.ndarray, rng: np.random.Generator, sides: tuple[int, int], **options: Any) -> np.ndarray:
    """A photo of a pen-written digit on a sheet of slightly tinted paper, taken either way up."""
    return _photo(
        digit,
        rng,
        size=_landscape_or_portrait(*sides, rng),
        paper=_pick(PAPER_TINTS, rng),
        ink=_pick(PEN_COLOURS, rng),
        **options,
    )


def paper_photo(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    decorate = _desk_edges if rng.random() < 0.4 else None
    return _jpeg(_pen_on_paper(digit, rng, (1280, 960), digit_fraction=(0.15, 0.4), decorate=decorate), rng)


def notebook(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    canvas = _photo(
        digit,
        rng,
        size=_pick(((1080, 1080), (960, 1280)), rng),
        paper=(248, 248, 250),
        ink=_pick(PEN_COLOURS, rng),
        digit_fraction=(0.15, 0.35),
        decorate=_rules,
    )
    return _jpeg(canvas, rng)


def chalkboard(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    width, height = 1280, 960
    board = np.asarray(_pick(BOARD_COLOURS, rng), dtype=np.float32)
    canvas = np.empty((height, width, 3), dtype=np.float32)
    canvas[:] = board
    smudges = np.asarray(
        Image.fromarray(rng.uniform(0, 25, size=(6, 8)).astype(np.float32), "F").resize(
            (width, height), Image.Resampling.BICUBIC
        )
    )
    canvas += smudges[:, :, np.newaxis]
    digit_size = int(height * rng.uniform(0.15, 0.4))
    coverage = _ink_mask(digit, digit_size, rng, weight=int(rng.integers(0, 3)))
    coverage *= rng.uniform(0.6, 1.0, size=coverage.shape).astype(np.float32)  # chalk leaves gaps
    top, left = _spot((height, width), digit_size, rng, central=True)
    _place(canvas, coverage, (225, 228, 220), top, left)
    canvas *= _lighting(height, width, rng, strength=float(rng.uniform(0.1, 0.4)))[:, :, np.newaxis]
    canvas += rng.normal(0, 3, size=(height, width, 1)).astype(np.float32)
    return _jpeg(canvas, rng)


def _canvas_drawing(digit: np.ndarray, rng: np.random.Generator, side: int) -> np.ndarray:
    """A digit drawn with a round brush on a square canvas, as coverage in [0, 1]."""
    coverage = np.zeros((side, side), dtype=np.float32)
    digit_size = int(side * rng.uniform(0.6, 0.9))
    top, left = _spot((side, side), digit_size, rng, central=True)
    coverage[top : top + digit_size, left : left + digit_size] = _ink_mask(
        digit, digit_size, rng, weight=int(rng.integers(1, 4)) * side // 256
    )
    return coverage


def drawing_png(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    ink = 255.0 * (1.0 - _canvas_drawing(digit, rng, 512))
    return _png(Image.fromarray(ink.astype(np.uint8)).convert("RGB"))


def dark_drawing(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    ink = 255.0 * _canvas_drawing(digit, rng, 280)
    return _png(Image.fromarray(ink.astype(np.uint8)).convert("RGB"))


def _transparent_png(digit: np.ndarray, rng: np.random.Generator, ink: int) -> bytes:
    alpha = (255.0 * _canvas_drawing(digit, rng, 280)).astype(np.uint8)
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[:, :, :3] = ink
    rgba[:, :, 3] = alpha
    return _png(Image.fromarray(rgba, "RGBA"))


def transparent_png(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Black ink on a transparent page, as drawing apps export it."""
    return _transparent_png(digit, rng, ink=0)


def transparent_white_png(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    return _transparent_png(digit, rng, ink=255)


def exif_rotated(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A phone photo stored sideways with the EXIF tag that tells viewers how to turn it."""
    canvas = _pen_on_paper(digit, rng, (1280, 960), digit_fraction=(0.15, 0.4))
    orientation = _pick(tuple(STORED_TURN), rng)
    stored = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).transpose(STORED_TURN[orientation])
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return _jpeg(np.asarray(stored, dtype=np.float32), rng, exif=exif)


def sticky_note(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    side = 1080
    canvas = np.empty((side, side, 3), dtype=np.float32)
    canvas[:] = rng.uniform(90, 200, size=3).astype(np.float32)  # the desk under the note
    note = int(side * rng.uniform(0.6, 0.85))
    top, left = _spot((side, side), note, rng, central=True)
    canvas[top : top + note, left : left + note] = np.asarray(_pick(NOTE_COLOURS, rng), dtype=np.float32)
    digit_size = int(note * rng.uniform(0.45, 0.7))
    digit_top = top + int(rng.integers(0, note - digit_size))
    digit_left = left + int(rng.integers(0, note - digit_size))
    _place(canvas, _ink_mask(digit, digit_size, rng, weight=2), (25, 25, 30), digit_top, digit_left)
    canvas *= _lighting(side, side, rng, strength=float(rng.uniform(0.1, 0.4)))[:, :, np.newaxis]
    canvas += rng.normal(0, 3, size=(side, side, 1)).astype(np.float32)
    return _jpeg(canvas, rng)


def small_offcentre(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    canvas = _pen_on_paper(digit, rng, (1600, 1200), digit_fraction=(0.06, 0.1), central=False)
    return _jpeg(canvas, rng)


def big_photo(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A 12 MP shot: rendered at a quarter of the size and enlarged, as the camera's detail adds nothing here."""
    canvas = _pen_on_paper(digit, rng, (1008, 756), digit_fraction=(0.1, 0.35))
    small = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    large = small.resize((small.width * 4, small.height * 4), Image.Resampling.BILINEAR)
    return _jpeg(np.asarray(large, dtype=np.float32), rng)


def canvas_screenshot(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A screenshot of a drawing app: a grey window with a framed white canvas holding a black digit."""
    width, height = 800, 600
    window = np.full((height, width), rng.uniform(150, 215), dtype=np.float32)
    side = int(rng.integers(300, 480))
    top, left = _spot((height, width), side, rng, central=True)
    window[top - 3 : top + side + 3, left - 3 : left + side + 3] = 40.0
    window[top : top + side, left : left + side] = 255.0 * (1.0 - _canvas_drawing(digit, rng, side))
    return _png(Image.fromarray(window.astype(np.uint8)).convert("RGB"))


RENDERERS: dict[str, Callable[[np.ndarray, np.random.Generator], bytes]] = {
    renderer.__name__: renderer
    for renderer in (
        paper_photo,
        notebook,
        chalkboard,
        drawing_png,
        transparent_png,
        transparent_white_png,
        dark_drawing,
        exif_rotated,
        sticky_note,
        small_offcentre,
        big_photo,
        canvas_screenshot,
    )
}
STYLES = tuple(RENDERERS)


def plain_png(digit: np.ndarray, *, inverted: bool = False) -> bytes:
    """The 28×28 digit itself as a PNG file, as is (white on black) or inverted (black on white)."""
    return _png(Image.fromarray(255 - digit if inverted else digit))


def rendered_examples(
    images: np.ndarray, labels: np.ndarray, count: int, seed: int = 0
) -> list[tuple[str, int, bytes]]:
    """(style, label, picture) for the first `count` digits, the styles taking turns.

    Each picture has its own generator, so a shorter run renders exactly the first pictures of a longer one.
    """
    return [
        (style, int(labels[index]), render_chat_picture(images[index], style, np.random.default_rng([seed, index])))
        for index, style in zip(range(count), itertools.cycle(STYLES), strict=False)
    ]


def real_photo_labels(folder: Path) -> list[tuple[Path, int, str]]:
    """(file, label, kind) for each picture listed in the folder's labels.tsv."""
    with (folder / "labels.tsv").open(newline="") as table:
        return [(folder / row["file"], int(row["label"]), row["kind"]) for row in csv.DictReader(table, delimiter="\t")]
