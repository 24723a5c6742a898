"""bot.imaging: every kind of picture people post reads as its digit, and every bad file fails with a typed error."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from bot.errors import BrokenImage, DigitBotError, ImageTooLarge, NoDigitFound, NotAnImage
from bot.imaging import ImageLimits, decode_picture, to_mnist_tensor
from model_training.chat_pictures import STYLES, render_chat_picture

DIGITS_PER_STYLE = 5
ORIENTATION_TAG = 0x0112


@pytest.fixture(scope="module")
def seven(mnist_test_split) -> np.ndarray:
    """The first MNIST test digit, a 7: not symmetric, so a wrong turn or flip shows."""
    images, labels = mnist_test_split
    assert labels[0] == 7
    return images[0]


def drawing(digit: np.ndarray, size: int = 112) -> Image.Image:
    """Black ink on a white page, "L", the digit scaled up with a margin around it."""
    page = Image.new("L", (size, size), 255)
    page.paste(Image.fromarray(255 - digit).resize((size * 3 // 4, size * 3 // 4), Image.Resampling.BICUBIC))
    return page


def encoded(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def read(data: bytes, limits: ImageLimits | None = None) -> np.ndarray:
    return to_mnist_tensor(decode_picture(data, limits or ImageLimits()))


@pytest.mark.parametrize("style", STYLES)
def test_each_chat_picture_style_reads_as_its_digit(style, recognizer, mnist_test_split):
    images, labels = mnist_test_split
    indices = range(STYLES.index(style) * DIGITS_PER_STYLE, (STYLES.index(style) + 1) * DIGITS_PER_STYLE)
    pictures = [render_chat_picture(images[index], style, np.random.default_rng(index)) for index in indices]
    read_digits = [recognizer.read(picture).digit for picture in pictures]
    assert sum(digit == labels[index] for digit, index in zip(read_digits, indices, strict=True)) >= 4, read_digits


def ink_with_alpha(image: Image.Image, ink: int, hidden: int) -> Image.Image:
    """RGBA: a single ink colour whose coverage is the alpha channel; fully transparent pixels hold `hidden`."""
    coverage = 255 - np.asarray(image)
    rgba = np.empty((*coverage.shape, 4), dtype=np.uint8)
    rgba[:, :, :3] = np.where(coverage[:, :, np.newaxis] > 0, ink, hidden)
    rgba[:, :, 3] = coverage
    return Image.fromarray(rgba, "RGBA")


def palette_with_transparent_page(image: Image.Image) -> Image.Image:
    palette = image.convert("RGB").quantize(16)
    palette.info["transparency"] = palette.getpixel((0, 0))
    return palette


def sixteen_bit(image: Image.Image) -> Image.Image:
    return Image.fromarray(np.asarray(image).astype(np.uint16) * 257)


SAVED_AS: dict[str, Callable[[Image.Image], bytes]] = {
    "PNG L": lambda image: encoded(image, "PNG"),
    "PNG RGB": lambda image: encoded(image.convert("RGB"), "PNG"),
    "PNG 1-bit": lambda image: encoded(image.convert("1"), "PNG"),
    "PNG I;16": lambda image: encoded(sixteen_bit(image), "PNG"),
    "PNG LA": lambda image: encoded(image.convert("LA"), "PNG"),
    "PNG RGBA black ink on transparent": lambda image: encoded(ink_with_alpha(image, 0, 0), "PNG"),
    "PNG palette with transparent page": lambda image: encoded(palette_with_transparent_page(image), "PNG"),
    "JPEG": lambda image: encoded(image.convert("RGB"), "JPEG", quality=85),
    "JPEG CMYK": lambda image: encoded(image.convert("CMYK"), "JPEG", quality=85),
    "WebP": lambda image: encoded(image.convert("RGB"), "WEBP", quality=85),
    "WebP RGBA": lambda image: encoded(ink_with_alpha(image, 0, 255), "WEBP", lossless=True),
    "GIF": lambda image: encoded(image, "GIF"),
    "BMP": lambda image: encoded(image.convert("RGB"), "BMP"),
    "BMP 1-bit": lambda image: encoded(image.convert("1"), "BMP"),
    "TIFF": lambda image: encoded(image.convert("RGB"), "TIFF"),
    "TIFF CMYK": lambda image: encoded(image.convert("CMYK"), "TIFF"),
    "TIFF I;16": lambda image: encoded(sixteen_bit(image), "TIFF"),
    "TIFF 32-bit integer": lambda image: encoded(Image.fromarray(np.asarray(image).astype(np.int32) * 1000), "TIFF"),
    "TIFF float": lambda image: encoded(Image.fromarray(np.asarray(image, dtype=np.float32) / 255), "TIFF"),
}


@pytest.mark.parametrize("saved_as", SAVED_AS)
def test_each_format_and_mode_reads_as_the_digit(saved_as, seven, recognizer):
    assert recognizer.read(SAVED_AS[saved_as](drawing(seven))).digit == 7


def test_an_animated_gif_is_read_from_its_first_frame(seven, recognizer, mnist_test_split):
    images, labels = mnist_test_split
    assert labels[1] == 2
    frames = [drawing(seven), drawing(images[1])]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert recognizer.read(data).digit == 7


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_turns_the_picture_upright(orientation, seven):
    upright = drawing(seven).crop((0, 0, 112, 90))  # not square: a missed quarter turn changes the size
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    # Stored so that a viewer following the tag shows `upright`; Pillow's own exif_transpose is the reference.
    stored = encoded(upright, "PNG", exif=exif)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(stored)))
    assert np.array_equal(np.asarray(decode_picture(stored, ImageLimits())), np.asarray(expected))


@pytest.mark.parametrize(("ink", "hidden"), [(0, 0), (0, 255), (255, 0), (255, 255)])
def test_transparent_drawings_read_like_the_opaque_drawing(ink, hidden, seven):
    opaque = read(encoded(drawing(seven), "PNG"))
    transparent = read(encoded(ink_with_alpha(drawing(seven), ink, hidden), "PNG"))
    assert np.abs(transparent - opaque).max() < 0.05


def test_the_tensor_looks_like_mnist(seven):
    tensor = read(encoded(drawing(seven), "PNG"))
    assert tensor.shape == (28, 28, 1) and tensor.dtype == np.float32
    assert tensor.max() == 1.0 and (tensor == 0).mean() > 0.6  # ink saturates, the page is exactly 0
    rows, columns = np.nonzero(tensor[:, :, 0])
    assert max(np.ptp(rows), np.ptp(columns)) + 1 == 20  # fitted to MNIST's 20-pixel box
    mass = tensor[:, :, 0] / tensor.sum()
    assert abs((mass.sum(axis=1) * np.arange(28)).sum() - 14) <= 0.5  # centred by its centre of mass
    assert abs((mass.sum(axis=0) * np.arange(28)).sum() - 14) <= 0.5


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size, with a few bytes of pixels behind it."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", zlib.compress(bytes(64))) + png_chunk(b"IEND", b"")


def uniform(colour: tuple[int, int, int], size: tuple[int, int] = (300, 200)) -> Image.Image:
    return Image.new("RGB", size, colour)


def blank_paper_photo() -> bytes:
    rng = np.random.default_rng(0)
    light = np.linspace(150, 240, 640, dtype=np.float32)[np.newaxis, :, np.newaxis]
    paper = light * np.asarray([1.0, 0.98, 0.95], dtype=np.float32) + rng.normal(0, 3, size=(480, 640, 1))
    return encoded(Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)), "JPEG", quality=85)


def noise_only() -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
    return encoded(Image.fromarray(noise), "PNG")


def sample_png() -> bytes:
    return encoded(drawing(np.full((28, 28), 255, dtype=np.uint8)).convert("RGB"), "PNG")


def sample_jpeg() -> bytes:
    return encoded(drawing(np.eye(28, dtype=np.uint8) * 255).convert("RGB"), "JPEG")


SMALL_LIMITS = ImageLimits(max_bytes=2000, max_pixels=1_000_000)
PIXEL_LIMIT = ImageLimits(max_pixels=1_000_000)
BAD_PICTURES: dict[str, tuple[Callable[[], bytes], ImageLimits, type[DigitBotError]]] = {
    "zero bytes": (lambda: b"", ImageLimits(), NotAnImage),
    "a text file": (lambda: b"Dear bot, here is my digit: 7\n" * 40, ImageLimits(), NotAnImage),
    "a format we do not read (PPM)": (lambda: encoded(uniform((0, 0, 0)), "PPM"), ImageLimits(), NotAnImage),
    "a truncated PNG": (lambda: sample_png()[: len(sample_png()) // 2], ImageLimits(), BrokenImage),
    "a truncated JPEG": (lambda: sample_jpeg()[: len(sample_jpeg()) // 2], ImageLimits(), BrokenImage),
    "a header claiming 100000x100000": (lambda: png_header_only(100_000, 100_000), ImageLimits(), ImageTooLarge),
    "a decompression bomb": (lambda: encoded(Image.new("1", (2000, 2000)), "PNG"), PIXEL_LIMIT, ImageTooLarge),
    "too many bytes": (noise_only, SMALL_LIMITS, ImageTooLarge),
    "a blank white page": (lambda: encoded(uniform((255, 255, 255)), "PNG"), ImageLimits(), NoDigitFound),
    "a flat colour": (lambda: encoded(uniform((200, 30, 60)), "JPEG"), ImageLimits(), NoDigitFound),
    "a photo of blank paper": (blank_paper_photo, ImageLimits(), NoDigitFound),
    "noise only": (noise_only, ImageLimits(), NoDigitFound),
}


@pytest.mark.parametrize("picture", BAD_PICTURES)
def test_bad_pictures_raise_their_typed_error(picture):
    make, limits, error = BAD_PICTURES[picture]
    with pytest.raises(error):
        read(make(), limits)


def test_too_large_errors_name_the_limit():
    with pytest.raises(ImageTooLarge) as too_many_bytes:
        decode_picture(noise_only(), SMALL_LIMITS)
    assert too_many_bytes.value.limit_bytes == SMALL_LIMITS.max_bytes
    with pytest.raises(ImageTooLarge) as too_many_pixels:
        decode_picture(png_header_only(3000, 3000), PIXEL_LIMIT)
    assert too_many_pixels.value.limit_pixels == PIXEL_LIMIT.max_pixels


def test_only_jpegs_may_have_more_pixels_than_a_full_size_decode_allows():
    limits = ImageLimits(max_pixels=50_000_000, max_full_size_pixels=1_000_000)
    with pytest.raises(ImageTooLarge) as too_large:
        decode_picture(png_header_only(2000, 1000), limits)
    assert too_large.value.limit_pixels == limits.max_full_size_pixels
    big_jpeg = encoded(Image.new("L", (2000, 1000), 255), "JPEG")
    assert max(decode_picture(big_jpeg, limits).size) <= 1000  # decoded at reduced size, so not refused


def read_or_refuse(data: bytes) -> None:
    """Whatever the bytes: a valid MNIST-style tensor, or a DigitBotError (anything else fails the test)."""
    try:
        tensor = read(data)
    except DigitBotError:
        return
    assert tensor.shape == (28, 28, 1) and tensor.dtype == np.float32
    assert tensor.min() >= 0.0 and tensor.max() <= 1.0


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAGIC_NUMBERS = (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\x00", b"RIFF\x00\x00\x00\x00WEBP")


@FUZZ
@given(magic=st.sampled_from(MAGIC_NUMBERS), rest=st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_typed_errors(magic, rest):
    read_or_refuse(magic + rest)


VALID_PICTURES = {
    "PNG": sample_png(),
    "JPEG": sample_jpeg(),
    "GIF": encoded(drawing(np.eye(28, dtype=np.uint8) * 255), "GIF"),
    "TIFF": encoded(drawing(np.eye(28, dtype=np.uint8) * 255), "TIFF", compression="tiff_lzw"),
    "WebP": encoded(drawing(np.eye(28, dtype=np.uint8) * 255), "WEBP"),
}


@FUZZ
@given(
    original=st.sampled_from(sorted(VALID_PICTURES)),
    changes=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=12),
    keep=st.floats(0.05, 1.0),
)
def test_mutated_pictures_raise_only_typed_errors(original, changes, keep):
    data = bytearray(VALID_PICTURES[original])
    for where, value in changes:
        data[int(where * len(data))] = value
    read_or_refuse(bytes(data[: max(1, int(keep * len(data)))]))
