"""Hostile pictures: a file cheap to send but costly to decode is refused from its header, what we do read stays
within the decode budget (peak memory measured in a fresh process), and a refused picture's bytes are freed at once."""

from __future__ import annotations

import gc
import io
import struct
import subprocess
import sys
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import GifImagePlugin, Image, ImageDraw, TiffImagePlugin, WebPImagePlugin
from PIL.JpegImagePlugin import JpegImageFile

from bot.errors import DigitBotError, ImageTooLarge
from bot.imaging import ImageLimits, decode_picture
from bot.replies import error_reply

REPORTED_SIZE = (8000, 6250)  # the 50 MP progressive JPEG of the report: 300 KB, 150 MB and 200 ms to read
SMALL_BUDGET = ImageLimits(max_decode_bytes=4 * 1024 * 1024)
MEMORY_SLACK_MB = 24  # beyond the budget: the interpreter's own allocations and the work at DECODED_SIDE
FRAMES = 40


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def page_with_a_stroke(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A mostly flat page, as cheap to compress as a hostile file is: one thick dark stroke on white."""
    width, height = size
    image = Image.new("RGB", size, "white")
    stroke = [(width * 0.4, height * 0.3), (width * 0.6, height * 0.3), (width * 0.45, height * 0.75)]
    ImageDraw.Draw(image).line(stroke, fill=(20, 20, 90), width=max(3, width // 60))
    return image if mode == "RGB" else image.convert(mode)


def jpeg_segments(jpeg: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Its marker segments up to the first scan's header, and that scan's entropy-coded data."""
    position, segments = 2, []
    while True:
        marker = jpeg[position + 1]
        (length,) = struct.unpack(">H", jpeg[position + 2 : position + 4])
        segments.append((marker, jpeg[position : position + 2 + length]))
        position += 2 + length
        if marker == 0xDA:
            return segments, jpeg[position : jpeg.rindex(b"\xff\xd9")]


def jpeg_with_a_scan_per_component(image: Image.Image) -> bytes:
    """A sequential (not progressive) colour JPEG whose Y, Cb and Cr come in three scans, built from three greyscale
    JPEGs sharing one set of tables: libjpeg must hold all its coefficients until the last scan."""
    planes = [encoded(plane, "JPEG", quality=85) for plane in image.convert("YCbCr").split()]
    segments, _ = jpeg_segments(planes[0])
    tables = b"".join(segment for marker, segment in segments if marker in (0xDB, 0xC4))
    width, height = image.size
    components = b"".join(bytes([component, 0x11, 0]) for component in (1, 2, 3))
    frame = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + components
    scans = b"".join(
        b"\xff\xda" + struct.pack(">HB", 8, 1) + bytes([component, 0x00, 0, 63, 0]) + jpeg_segments(plane)[1]
        for component, plane in zip((1, 2, 3), planes, strict=True)
    )
    return b"\xff\xd8" + tables + frame + scans + b"\xff\xd9"


def palette_with_transparency(size: tuple[int, int]) -> Image.Image:
    image = page_with_a_stroke(size, "P")
    image.info["transparency"] = 0
    return image


def sixteen_bit(size: tuple[int, int]) -> Image.Image:
    return Image.fromarray(np.asarray(page_with_a_stroke(size, "L")).astype(np.uint16) * 257)


# Kinds of picture whose decode costs more than its pixels suggest, each as (size → bytes, size it is refused at).
COSTLY: dict[str, tuple[Callable[[tuple[int, int]], bytes], tuple[int, int]]] = {
    "progressive JPEG, 4:2:0 colour": (
        lambda size: encoded(page_with_a_stroke(size), "JPEG", progressive=True, quality=85),
        REPORTED_SIZE,
    ),
    "progressive JPEG, 4:4:4 colour": (
        lambda size: encoded(page_with_a_stroke(size), "JPEG", progressive=True, quality=85, subsampling=0),
        REPORTED_SIZE,
    ),
    "progressive JPEG, greyscale": (
        lambda size: encoded(page_with_a_stroke(size, "L"), "JPEG", progressive=True, quality=85),
        REPORTED_SIZE,
    ),
    "progressive JPEG, CMYK": (
        lambda size: encoded(page_with_a_stroke(size, "CMYK"), "JPEG", progressive=True, quality=85),
        (4000, 3000),
    ),
    "sequential JPEG with a scan per colour": (
        lambda size: jpeg_with_a_scan_per_component(page_with_a_stroke(size)),
        REPORTED_SIZE,
    ),
    "WebP": (lambda size: encoded(page_with_a_stroke(size), "WEBP", quality=80), (4000, 4000)),
    "PNG with a transparent palette colour": (
        lambda size: encoded(palette_with_transparency(size), "PNG"),
        (4000, 4000),
    ),
    "PNG RGBA": (lambda size: encoded(page_with_a_stroke(size, "RGBA"), "PNG"), (4000, 4000)),
    "PNG 16-bit greyscale": (lambda size: encoded(sixteen_bit(size), "PNG"), (4000, 4000)),
    "TIFF CMYK": (lambda size: encoded(page_with_a_stroke(size, "CMYK"), "TIFF", compression="tiff_lzw"), (4000, 4000)),
    "TIFF in one deflated strip": (
        lambda size: encoded(page_with_a_stroke(size), "TIFF", compression="tiff_adobe_deflate", strip_size=2**31),
        (4000, 4000),
    ),
}


def scaled(size: tuple[int, int], pixels: int) -> tuple[int, int]:
    """`size` scaled to hold about `pixels` pixels, the same shape."""
    factor = (pixels / (size[0] * size[1])) ** 0.5
    return int(size[0] * factor), int(size[1] * factor)


def refused_limit(data: bytes, limits: ImageLimits) -> int:
    with pytest.raises(ImageTooLarge) as refused:
        decode_picture(data, limits)
    assert refused.value.limit_pixels is not None
    return refused.value.limit_pixels


@pytest.fixture(scope="module")
def seven(mnist_test_split) -> Image.Image:
    """MNIST's first test digit, black on white and 2000 px wide: big enough to be drafted, small enough to read."""
    images, labels = mnist_test_split
    assert labels[0] == 7
    page = Image.new("L", (2000, 1500), 255)
    page.paste(Image.fromarray(255 - images[0]).resize((1200, 1200), Image.Resampling.BICUBIC), (400, 150))
    return page


def test_the_reported_progressive_jpeg_is_refused_from_its_header(monkeypatch):
    data = COSTLY["progressive JPEG, 4:2:0 colour"][0](REPORTED_SIZE)
    assert len(data) < 400_000
    monkeypatch.setattr(JpegImageFile, "load", lambda self: pytest.fail("decoded a picture refused from its header"))
    with pytest.raises(ImageTooLarge) as refused:
        decode_picture(data, ImageLimits())
    assert 20_000_000 < refused.value.limit_pixels < 25_000_000  # 64 MiB of 3 bytes a pixel
    assert "up to 22 megapixels" in error_reply(refused.value).text


def test_a_baseline_jpeg_of_as_many_pixels_is_still_read_at_reduced_size():
    data = encoded(page_with_a_stroke(REPORTED_SIZE), "JPEG", quality=85)
    assert max(decode_picture(data, ImageLimits()).size) <= 1000


@pytest.mark.parametrize(
    "options",
    [{}, {"subsampling": 0}, {"mode": "L"}, {"scan_per_component": True}],
    ids=["4:2:0 colour", "4:4:4 colour", "greyscale", "a scan per component"],
)
def test_jpegs_that_hold_all_their_coefficients_read_as_their_digit_within_the_budget(options, seven, recognizer):
    picture = seven.convert(options.pop("mode", "RGB"))
    if options.pop("scan_per_component", False):
        data = jpeg_with_a_scan_per_component(picture)
    else:
        data = encoded(picture, "JPEG", progressive=True, quality=85, **options)
    assert recognizer.read(data).digit == 7


@pytest.mark.parametrize("kind", COSTLY)
def test_a_costly_picture_is_refused_and_the_size_it_names_is_read(kind):
    make, size = COSTLY[kind]
    limit = refused_limit(make(scaled(size, 3_000_000)), SMALL_BUDGET)
    decode_picture(make(scaled(size, int(limit * 0.9))), SMALL_BUDGET)


def test_each_kind_of_picture_costs_what_it_holds():
    """Over one budget, the kinds that hold more per pixel may have fewer pixels."""
    size = (2000, 1500)
    limits = {kind: refused_limit(make(size), SMALL_BUDGET) for kind, (make, _) in COSTLY.items()}
    assert limits["progressive JPEG, 4:4:4 colour"] < limits["progressive JPEG, 4:2:0 colour"]
    assert limits["progressive JPEG, 4:2:0 colour"] < limits["progressive JPEG, greyscale"]
    assert limits["sequential JPEG with a scan per colour"] == limits["progressive JPEG, 4:4:4 colour"]
    one_strip_rgb = refused_limit(COSTLY["TIFF in one deflated strip"][0](size), SMALL_BUDGET)
    many_strips_rgb = refused_limit(encoded(page_with_a_stroke(size), "TIFF", compression="tiff_lzw"), SMALL_BUDGET)
    assert one_strip_rgb < many_strips_rgb


PEAK_MEMORY = """
import re, sys
from bot.imaging import ImageLimits, decode_picture

def peak_kb():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))

data = open(sys.argv[1], "rb").read()
decode_picture(open(sys.argv[2], "rb").read(), ImageLimits())  # the first decode allocates Pillow's own tables
before = peak_kb()
decode_picture(data, ImageLimits())
print((peak_kb() - before) / 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from Linux's /proc")
@pytest.mark.parametrize("kind", COSTLY)
def test_a_picture_just_within_the_budget_takes_no_more_memory_than_the_budget(kind, tmp_path):
    make, size = COSTLY[kind]
    limit = refused_limit(make(size), ImageLimits())
    (tmp_path / "picture").write_bytes(make(scaled(size, int(limit * 0.97))))
    (tmp_path / "warm-up").write_bytes(encoded(page_with_a_stroke((64, 48)), "PNG"))
    command = [sys.executable, "-c", PEAK_MEMORY, str(tmp_path / "picture"), str(tmp_path / "warm-up")]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    assert float(result.stdout) < ImageLimits().max_decode_bytes / 2**20 + MEMORY_SLACK_MB


@pytest.mark.parametrize(
    ("image_format", "plugin"),
    [
        ("GIF", GifImagePlugin.GifImageFile),
        ("WEBP", WebPImagePlugin.WebPImageFile),
        ("TIFF", TiffImagePlugin.TiffImageFile),
    ],
)
def test_only_the_first_frame_of_a_many_frame_picture_is_read(image_format, plugin, seven, recognizer, monkeypatch):
    rest = [Image.new("L", (400, 300), 50 + 5 * frame) for frame in range(1, FRAMES)]  # alike frames are merged
    data = encoded(seven.resize((400, 300)), image_format, save_all=True, append_images=rest)
    assert Image.open(io.BytesIO(data)).n_frames == FRAMES
    frames_read = []
    seek = plugin._seek

    def recording_seek(self, frame: int, *args: object) -> None:
        frames_read.append(frame)
        seek(self, frame, *args)

    monkeypatch.setattr(plugin, "_seek", recording_seek)
    assert recognizer.read(data).digit == 7
    assert set(frames_read) <= {0}  # a seek, or GIF and TIFF counting their frames, would walk the others


@pytest.fixture
def no_garbage_collection():
    """Only reference counting frees anything: what a cycle keeps alive stays alive, as until a full collection."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


REFUSED: dict[str, Callable[[], bytes]] = {
    "over the byte limit": lambda: bytes(ImageLimits().max_bytes + 1),
    "not a picture": lambda: b"Dear bot, here is my digit: 7\n" * 40,
    "a broken PNG header": lambda: b"\x89PNG\r\n\x1a\n" + bytes(100),
    "a PNG cut off in its pixels (Pillow raises inside load)": lambda: truncated(
        encoded(page_with_a_stroke((300, 200)), "PNG")
    ),
    "a JPEG cut off in its scan": lambda: truncated(encoded(page_with_a_stroke((300, 200)), "JPEG")),
    "over the decode budget": lambda: COSTLY["WebP"][0]((4000, 4000)),
    "a blank page (no digit)": lambda: encoded(Image.new("L", (300, 200), 255), "PNG"),
}


@pytest.mark.parametrize("picture", REFUSED)
def test_a_refused_picture_kept_as_a_result_holds_no_frames(picture, recognizer, no_garbage_collection):
    data = REFUSED[picture]()
    references = sys.getrefcount(data)
    results = recognizer.read_many([data])
    error = weakref.ref(results[0])
    assert isinstance(results[0], DigitBotError)
    assert results[0].__traceback__ is None and results[0].__cause__ is None and results[0].__context__ is None
    del results
    assert error() is None
    assert sys.getrefcount(data) == references  # no frame, file or picture still refers to the bytes


@pytest.mark.parametrize("picture", REFUSED)
def test_a_refused_picture_raised_by_read_is_freed_with_its_error(picture, recognizer, no_garbage_collection):
    data = REFUSED[picture]()
    references = sys.getrefcount(data)
    try:
        recognizer.read(data)
    except DigitBotError as raised:
        error = weakref.ref(raised)
    else:
        pytest.fail("the picture was read")
    assert error() is None
    assert sys.getrefcount(data) == references


def test_a_decoded_picture_does_not_hold_the_file_bytes():
    data = encoded(page_with_a_stroke((300, 200), "L"), "PNG")  # read as is: no conversion makes a new picture
    references = sys.getrefcount(data)
    picture = decode_picture(data, ImageLimits())
    assert sys.getrefcount(data) == references
    assert picture.size == (300, 200)
