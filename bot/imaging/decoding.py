"""Step 1, decoding: picture bytes → an upright greyscale image, refusing files too big or too costly to read.
Pillow errors become typed ones; EXIF turns, odd modes and transparency are settled here."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageMode, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile
from PIL.TiffImagePlugin import TiffImageFile

from bot.errors import BrokenImage, DigitBotError, ImageTooLarge, NotAnImage
from bot.imaging.pixels import _quantiles, _shrink

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG includes the MPO files of many phones
DECODED_SIDE = 1024  # longest side kept after decoding: enough to frame a small digit far from the centre
DRAFT_SIDE = 320  # a JPEG's shorter side is decoded at 1/2, 1/4 or 1/8 scale, down to no less than this
ORIENTATION_TAG = 0x0112
ORIENTATION_TRANSPOSES = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}
MIN_INK_CONTRAST = 20.0  # grey levels: less than this between ink and paper is a blank page
DRAFT_FORMATS = ("JPEG", "MPO")  # decoded at 1/2, 1/4 or 1/8 size straight from the compressed data
# The most memory one decode may take, estimated from the header: what the largest picture we already read takes
# (a 16 MP RGB PNG; Pillow keeps 4 bytes a pixel). Measured just within it, every costly kind peaks at +63-68 MB of
# RSS; progressive JPEGs, which cannot be drafted smaller, take 75-100 ms (4:2:0 colour up to 22 MP, greyscale up
# to 33 MP), where a 50 MP one took 150 MB and 200 ms. See benchmarks/hostile_pictures.py.
DECODE_BUDGET_BYTES = 64 * 1024 * 1024
JPEG_BLOCK_BYTES = 64 * 2  # one 8×8 block of 16-bit DCT coefficients
# What a decoder holds besides the picture itself, per pixel: libwebp keeps the frame on two canvases of its own
# and hands Pillow a third copy (a 16 MP WebP took 250 MB).
DECODER_BYTES_PER_PIXEL = {"WEBP": 12}
TIFF_BITS_PER_SAMPLE, TIFF_ROWS_PER_STRIP, TIFF_TILE_WIDTH, TIFF_TILE_LENGTH = 258, 278, 322, 323


@dataclass(frozen=True)
class ImageLimits:
    """The most we read: bigger files are refused before any pixel is decoded."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 50_000_000
    # Only JPEG decodes at reduced size; other formats exist whole in memory while read, and take time in proportion.
    max_full_size_pixels: int = 16_000_000
    max_decode_bytes: int = DECODE_BUDGET_BYTES


def decode_picture(data: bytes, limits: ImageLimits) -> Image.Image:
    """Greyscale ("L") picture upright, transparency flattened, longest side at most DECODED_SIDE.

    Raises NotAnImage, ImageTooLarge or BrokenImage; never a Pillow error.
    """
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"the file is over {limits.max_bytes} bytes", limit_bytes=limits.max_bytes)
    if not data:
        raise NotAnImage("the file is empty")
    # Closed on the way out, so that neither the picture returned nor an error lets the file's bytes live on.
    with io.BytesIO(data) as file:
        try:
            image = Image.open(file, formats=ACCEPTED_FORMATS)
            _refuse_costly(image, data, limits)
            orientation = _orientation(image)
            if image.format in DRAFT_FORMATS:
                # Decodes at 1/2, 1/4 or 1/8 scale straight from the DCT: a 12 MP photo never exists at full size.
                image.draft("L", (DRAFT_SIDE, DRAFT_SIDE))
            image.load()  # only the first frame: nothing here asks for n_frames or seeks further
            simple_mode = _simple_mode(image)
            gray = _to_gray(_shrink(image if image.mode == simple_mode else image.convert(simple_mode), DECODED_SIDE))
        except DigitBotError:
            raise
        except UnidentifiedImageError as error:
            raise NotAnImage("this is not a PNG, JPEG, WebP, GIF, BMP or TIFF picture") from error
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageTooLarge(str(error), limit_pixels=limits.max_pixels) from error
        except Exception as error:  # Pillow reports corrupt data with many exception types
            raise BrokenImage(f"the picture is damaged ({type(error).__name__})") from error
    for transpose in ORIENTATION_TRANSPOSES.get(orientation, ()):
        gray = gray.transpose(transpose)
    return gray


def _refuse_costly(image: Image.Image, data: bytes, limits: ImageLimits) -> None:
    """ImageTooLarge for a picture over the pixel limits, or one whose decode would take more than the memory budget;
    the limit it names is the size that this kind of picture may have."""
    width, height = image.size
    pixel_limit = limits.max_pixels
    if image.format not in DRAFT_FORMATS:
        pixel_limit = min(pixel_limit, limits.max_full_size_pixels)
    if width * height > pixel_limit:
        raise ImageTooLarge(f"the picture is over {pixel_limit} pixels", limit_pixels=pixel_limit)
    if width == 0 or height == 0:
        raise BrokenImage("the picture has no pixels")
    cost = _decode_bytes(image, data)
    if cost > limits.max_decode_bytes:
        raise ImageTooLarge(
            f"reading this {width}x{height} {image.format} {image.mode} picture would take about "
            f"{cost / 2**20:.0f} MB, over the {limits.max_decode_bytes / 2**20:.0f} MB budget",
            limit_pixels=width * height * limits.max_decode_bytes // cost,
        )


def _decode_bytes(image: Image.Image, data: bytes) -> int:
    """The memory decoding takes at its peak, from the header alone: what the decoder itself holds, the picture as
    decoded, and the full-size copies on the way to a simple mode (an upper bound: they are added, not overlapped)."""
    if isinstance(image, JpegImageFile):
        return _jpeg_coefficient_bytes(image, data)  # the rest is drafted small: a 50 MP photo takes ~1 MB
    width, height = image.size
    simple_mode = _simple_mode(image)
    per_pixel = DECODER_BYTES_PER_PIXEL.get(image.format or "", 0) + _bytes_per_pixel(image.mode)
    if simple_mode != image.mode:
        per_pixel += _bytes_per_pixel(simple_mode)
    if simple_mode == "RGBA":
        per_pixel += _bytes_per_pixel("RGBa")  # Image.reduce premultiplies the alpha in a copy
    strip = _tiff_strip_bytes(image) if isinstance(image, TiffImageFile) else 0
    return width * height * per_pixel + strip


def _jpeg_coefficient_bytes(image: JpegImageFile, data: bytes) -> int:
    """A JPEG whose scans each carry part of the picture (progressive, or one component per scan) keeps all its DCT
    coefficients in libjpeg until the last scan, at full size whatever scale it is drafted at; else none are kept."""
    if not image.info.get("progressive") and _first_scan_components(data) >= image.layers:
        return 0
    width, height = image.size
    most_across = max(across for _, across, _, _ in image.layer)
    most_down = max(down for _, _, down, _ in image.layer)
    blocks = sum(
        -(-width * across // (8 * most_across)) * -(-height * down // (8 * most_down))
        for _, across, down, _ in image.layer
    )
    return blocks * JPEG_BLOCK_BYTES


def _first_scan_components(data: bytes) -> int:
    """How many components a JPEG's first scan carries, from its SOS marker (0 if none is found)."""
    position = 2
    while 0 <= (position := data.find(b"\xff", position)) < len(data) - 4:
        if data[position + 1] in (0x00, 0xFF):
            position += 1  # fill bytes, and stray bytes between markers: Pillow and libjpeg skip them too
        elif data[position + 1] == 0xDA:
            return data[position + 4]
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return 0


def _tiff_strip_bytes(image: TiffImageFile) -> int:
    """libtiff inflates a whole strip or tile at a time into a buffer of its own, and one strip may hold every row."""
    tags = image.tag_v2
    width, height = image.size
    if TIFF_TILE_WIDTH in tags:
        width, rows = tags[TIFF_TILE_WIDTH], tags[TIFF_TILE_LENGTH]
    else:
        rows = min(tags.get(TIFF_ROWS_PER_STRIP, height), height)
    bits = sum(tags.get(TIFF_BITS_PER_SAMPLE, (1,)))
    return width * rows * -(-bits // 8)


def _bytes_per_pixel(mode: str) -> int:
    """Pillow stores one-band modes packed, and every pixel of a multi-band mode in 4 bytes (RGB too)."""
    if Image.getmodebands(mode) > 1:
        return 4
    return np.dtype(ImageMode.getmode(mode).typestr).itemsize


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 = upright); a damaged EXIF block only costs the turn, not the picture."""
    try:
        orientation = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # Pillow raises many kinds of error on damaged EXIF data
        return 1
    return orientation if isinstance(orientation, int) else 1


def _simple_mode(image: Image.Image) -> str:
    """The one of L, RGB, RGBA, I or F that the rest of decoding knows, for this picture."""
    if "transparency" in image.info or image.mode in ("LA", "La", "PA", "RGBa"):
        return "RGBA"
    if image.mode.startswith("I;16"):
        return "I"
    if image.mode in ("L", "RGB", "RGBA", "I", "F"):
        return image.mode
    return "L" if image.mode == "1" else "RGB"


def _to_gray(image: Image.Image) -> Image.Image:
    """L, RGB, RGBA, I or F → "L", stretching high-bit-depth pictures and flattening transparency."""
    if image.mode in ("I", "F"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.astype(np.uint8))
    if image.mode == "RGBA":
        return _flatten_transparency(image)
    return image if image.mode == "L" else image.convert("L")


def _flatten_transparency(image: Image.Image) -> Image.Image:
    """RGBA → "L" on a page that shows the drawing, whatever its colour and whatever colour the hidden pixels hold."""
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    if alpha.min() == 1.0:
        return image.convert("L")
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    visible = alpha > 0.5
    if not visible.any():
        return Image.new("L", image.size, 255)
    darkest, middle, lightest = _quantiles(gray[visible], 0.02, 0.5, 0.98)
    one_colour = lightest - darkest < MIN_INK_CONTRAST
    if one_colour:
        gray = np.full_like(gray, middle)  # drawing apps: the drawing is in the alpha channel alone
    # When the visible part is the writing, lay it on a page of the opposite tone; when it is the page, fill its holes.
    writing_only = one_colour or visible.mean() < 0.5
    page = (255.0 if middle < 128 else 0.0) if writing_only else middle
    return Image.fromarray((gray * alpha + page * (1.0 - alpha)).astype(np.uint8))
