"""bot.imaging on the chat pictures it used to frame wrong: a strip of desk along two edges heavier than a thin digit,
a drawing app's white canvas on a grey window, small digits in a fine pen under uneven light, a bold digit on a
sticky note lighter than the desk. Each kind is drawn here or rendered by model_training.chat_pictures, never taken
from the real photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from bot.imaging import ImageLimits, decode_picture, to_mnist_tensor
from bot.imaging.finding import SEARCH_SIDE
from bot.imaging.page import _estimate_paper
from bot.imaging.pixels import _shrink
from model_training.chat_pictures import plain_png, render_chat_picture

LIGHT_INK_STYLES = ("chalkboard", "dark_drawing", "transparent_white_png")
RENDERS_PER_STYLE = 12


def first_of(mnist_test_split, label: int) -> np.ndarray:
    images, labels = mnist_test_split
    return images[int(np.flatnonzero(labels == label)[0])]


def ink_coverage(digit: np.ndarray, height: int, bolder: int = 0) -> np.ndarray:
    """The MNIST digit as ink coverage in [0, 1], `height` pixels tall, `bolder` pixels bolder all round."""
    image = Image.fromarray(digit).resize((height, height), Image.Resampling.BICUBIC)
    if bolder:
        image = image.filter(ImageFilter.MaxFilter(2 * bolder + 1))
    coverage = np.asarray(image, np.float32) / 255
    return np.clip((coverage - 0.3) / 0.35, 0.0, 1.0)


def paint(page: np.ndarray, coverage: np.ndarray, ink: float, top: int, left: int) -> None:
    height, width = coverage.shape
    area = page[top : top + height, left : left + width]
    area[:] = area * (1 - coverage) + ink * coverage


def jpeg(page: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png(page: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def read_digit(recognizer, picture: bytes) -> int:
    """The digit the model reads in what framing made of the picture (the single-digit path, bytes to tensor)."""
    tensor = to_mnist_tensor(decode_picture(picture, ImageLimits()))
    return int(recognizer.predict_tensors(tensor[np.newaxis]).argmax())


def ink_is_dark(picture: bytes) -> bool:
    search = _shrink(decode_picture(picture, ImageLimits()), SEARCH_SIDE)
    return _estimate_paper(search, np.asarray(search, dtype=np.float32))[1]


def test_a_strip_of_desk_along_two_edges_is_not_read_as_a_seven(recognizer, mnist_test_split):
    """The desk's L weighs far more than a thin 1, and looks like a 7: being clutter, it must lose to any real mark."""
    page = np.full((1280, 960), 232.0, dtype=np.float32)
    page *= np.linspace(1.0, 0.85, 960)[np.newaxis, :]  # light falling off across the page, as in a photo
    page[:110] = 60.0
    page[:, -90:] = 60.0
    paint(page, ink_coverage(first_of(mnist_test_split, 1), 200), 40.0, 600, 380)
    assert read_digit(recognizer, jpeg(page)) == 1


@pytest.mark.parametrize("window", [140.0, 160.0])
def test_a_thin_digit_on_a_drawing_apps_canvas_is_dark_ink(window, recognizer, mnist_test_split):
    """A grey window around a white canvas: the canvas is lighter than the window's grey, yet it is page, not ink."""
    page = np.full((600, 800), window, dtype=np.float32)
    page[117:483, 217:583] = 40.0  # the canvas's frame
    page[120:480, 220:580] = 255.0
    paint(page, ink_coverage(first_of(mnist_test_split, 1), 240), 0.0, 180, 280)
    picture = png(page)
    assert ink_is_dark(picture)
    assert read_digit(recognizer, picture) == 1


@pytest.mark.parametrize(
    ("style", "seed", "first", "index"), [("exif_rotated", 5, 5000, 1543), ("transparent_png", 9, 7400, 2272)]
)
def test_a_digit_broken_into_pieces_inside_its_own_box_is_not_a_frame(
    style, seed, first, index, recognizer, mnist_test_split
):
    """MNIST digits written in pieces, one lying inside the box of the rest: they are one digit, not a frame."""
    images, labels = mnist_test_split
    picture = render_chat_picture(images[first + index], style, np.random.default_rng([seed, index]))
    assert read_digit(recognizer, picture) == labels[first + index]


def test_a_short_detached_stroke_joins_its_digit(recognizer, mnist_test_split):
    """MNIST test digit 9691, an 8 whose top is a short stroke apart from the rest, saved as a PNG: framed whole."""
    images, labels = mnist_test_split
    assert read_digit(recognizer, plain_png(images[9691])) == labels[9691] == 8


@pytest.mark.parametrize("shape", ["box", "ring"])
def test_a_frame_drawn_around_the_digit_is_not_the_digit(shape, recognizer, mnist_test_split):
    page = np.full((400, 400), 245.0, dtype=np.float32)
    rows, columns = np.mgrid[0:400, 0:400]
    if shape == "box":
        frame = (np.abs(rows - 200) <= 165) & (np.abs(columns - 200) <= 165)
        frame &= ~((np.abs(rows - 200) <= 158) & (np.abs(columns - 200) <= 158))
    else:
        frame = np.abs(np.hypot(rows - 200, columns - 200) - 170) <= 4
    page[frame] = 30.0
    paint(page, ink_coverage(first_of(mnist_test_split, 7), 180), 30.0, 110, 110)
    assert read_digit(recognizer, png(page)) == 7


@pytest.mark.parametrize("index", [491, 599])
def test_a_bold_digit_on_a_canvas_near_half_the_screenshot_is_found(index, recognizer, mnist_test_split):
    """Renders (seed 9, MNIST test digits from 7400) whose grey window is about half the picture, the canvas and the
    ink the rest: the page's noise must come from the window, not from how far the canvas strays from it."""
    images, labels = mnist_test_split
    picture = render_chat_picture(images[7400 + index], "canvas_screenshot", np.random.default_rng([9, index]))
    assert read_digit(recognizer, picture) == labels[7400 + index]


@pytest.mark.parametrize(("label", "corner"), [(3, (0.05, 0.3)), (2, (0.3, 0.3)), (9, (0.25, 0.05))])
def test_a_bold_digit_on_a_sticky_note_is_dark_ink(label, corner, recognizer, mnist_test_split):
    """Beside a desk darker than the note, the note's edges stray lighter from a coarse page almost as far as a
    marker's strokes stray darker: they are the page changing, not ink."""
    page = np.full((1080, 1080), 120.0, dtype=np.float32)
    page *= np.linspace(1.0, 0.8, 1080)[:, np.newaxis]
    page[200:900, 180:880] = 215.0 * np.linspace(1.0, 0.85, 700)[:, np.newaxis]
    top, left = (200 + round(700 * corner[0]), 180 + round(700 * corner[1]))
    paint(page, ink_coverage(first_of(mnist_test_split, label), 450, bolder=4), 30.0, top, left)
    picture = jpeg(page)
    assert ink_is_dark(picture)
    assert read_digit(recognizer, picture) == label


def test_small_digits_in_a_fine_pen_under_uneven_light_are_dark_ink(mnist_test_split):
    """Under uneven light the page strays from its median as far as a small digit's fine strokes do, unless the
    strokes are looked at closely enough."""
    images, _ = mnist_test_split
    pictures = [
        render_chat_picture(images[index], "small_offcentre", np.random.default_rng([1, index])) for index in range(40)
    ]
    assert [index for index, picture in enumerate(pictures) if not ink_is_dark(picture)] == []


@pytest.mark.parametrize(
    "style",
    ["paper_photo", "notebook", "exif_rotated", "big_photo", "sticky_note", "canvas_screenshot", *LIGHT_INK_STYLES],
)
def test_the_ink_tone_of_each_style(style, mnist_test_split):
    images, _ = mnist_test_split
    pictures = [
        render_chat_picture(images[index], style, np.random.default_rng([2, index]))
        for index in range(RENDERS_PER_STYLE)
    ]
    tones = [ink_is_dark(picture) for picture in pictures]
    assert tones == [style not in LIGHT_INK_STYLES] * RENDERS_PER_STYLE


@pytest.mark.parametrize(
    ("style", "indices"),
    [
        ("small_offcentre", [21, 633, 885, 1401, 1437, 1977, 2013, 2049, 2121]),
        ("sticky_note", [200, 632, 752, 1016, 1532]),
    ],
)
def test_renders_whose_ink_was_taken_for_page_read_right(style, indices, recognizer, mnist_test_split):
    """Renders of the accuracy benchmark (seed 0) that framing lost, the ink taken for page: now read as their digit."""
    images, labels = mnist_test_split
    pictures = [render_chat_picture(images[index], style, np.random.default_rng([0, index])) for index in indices]
    read = [read_digit(recognizer, picture) for picture in pictures]
    assert sum(digit == labels[index] for digit, index in zip(read, indices, strict=True)) >= len(indices) - 1, read
