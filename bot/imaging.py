"""Picture bytes → the 28×28 MNIST-style tensor the model reads: safe decoding, then finding and framing the digit.
Everything runs on small images with Pillow's C filters and numpy, so a 12 MP photo costs a few milliseconds."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageMode, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile
from PIL.TiffImagePlugin import TiffImageFile

from bot.errors import BrokenImage, DigitBotError, ImageTooLarge, NoDigitFound, NotAnImage

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG includes the MPO files of many phones
DECODED_SIDE = 1024  # longest side kept after decoding: enough to frame a small digit far from the centre
DRAFT_SIDE = 320  # a JPEG's shorter side is decoded at 1/2, 1/4 or 1/8 scale, down to no less than this
SEARCH_SIDE = 256  # longest side of the image the digit is searched on
BACKGROUND_SIDE = 64  # longest side of the image the paper's light is estimated on
POLARITY_SIDE = 16  # longest side of the image the page's local tone is estimated on
POLARITY_KERNEL = 7  # a median this wide (over 40%) is the page even around a marker's thick strokes
CLEAR_POLARITY = 2.0  # marks this much stronger one way than the other settle the ink's tone at once
BACKGROUND_KERNEL = 11  # wider than a marker's stroke at BACKGROUND_SIDE, narrower than a shadow's gradient
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
MIN_SIGNAL_TO_NOISE = 5.0  # ink must stand this many noise deviations above the page: noise alone is no digit
INK_THRESHOLD = 0.35  # of the ink's contrast: faint notebook rules and shadows stay below it
RULE_LENGTH = 0.35  # of the picture's width: longer runs on several thin bands of rows are ruled lines
RULE_THICKNESS = 0.015  # of the picture's height
RULED_LINES = 3
RULE_PIECE = 0.06  # of the picture's width: a run this long on a rule's rows is a piece of it, not a stroke across it
FLAT_STROKE = 3.0  # a mark this many times wider than tall is a bar or a piece of a rule, never a digit alone
FRAME_CANDIDATES = 16
BORDER_BAND = 0.15  # of the picture's longest side: a mark lying within it along the border is the desk's edge
FLAT_TOLERANCE = 2.0  # grey levels: a page this even is a digital drawing, not a photo
FAINT_INK = 0.3  # of the digit's contrast: fainter pixels in its box are page
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
MNIST_BOX = 20
MNIST_SIDE = 28
FRAMING_SIDE = 4 * MNIST_BOX  # the digit is cut out and thickened at this size, then averaged down to MNIST_BOX
THINNEST_MNIST_STROKE = 7.0  # pixels at FRAMING_SIDE: MNIST's 10th percentile
TYPICAL_MNIST_STROKE = 10.0  # MNIST's median


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


def _shrink(image: Image.Image, longest_side: int) -> Image.Image:
    """Averages whole blocks of pixels (fast, and sharp enough) until the longest side is at most `longest_side`."""
    factor = -(-max(image.size) // longest_side)
    return image.reduce(factor) if factor > 1 else image


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


def to_mnist_tensor(image: Image.Image) -> np.ndarray:
    """float32 (28, 28, 1) in [0, 1], white ink on black, framed the way MNIST was: raises NoDigitFound."""
    search = _shrink(image, SEARCH_SIDE)
    pixels = np.asarray(search, dtype=np.float32)
    paper, ink_is_dark = _estimate_paper(search, pixels)
    if not ink_is_dark:
        pixels = 255.0 - pixels  # from here on the ink is the dark side
    difference = _paper_levels(paper, search.size) - pixels
    sample = difference[::4, ::4]
    noise = 1.4826 * _quantiles(np.abs(sample - _quantiles(sample, 0.5)[0]), 0.5)[0]
    ink = np.maximum(difference, 0.0)
    contrast = _strongest(ink)
    if contrast < MIN_INK_CONTRAST or contrast < MIN_SIGNAL_TO_NOISE * noise:
        raise NoDigitFound("nothing on the picture stands out from the page")
    components = _Components(_without_rules(ink > max(INK_THRESHOLD * contrast, 3.0 * noise)), ink)
    digit = components.digit()
    if digit is None:
        raise NoDigitFound("nothing on the picture is shaped like a digit")
    framing = _frame(image, search.size, *components.box_and_mask(digit), paper, noise, ink_is_dark)
    return _center_by_mass(_mnist_stroke_width(framing))[:, :, np.newaxis]


def _estimate_paper(search: Image.Image, pixels: np.ndarray) -> tuple[Image.Image, bool]:
    """The page without the writing (light and shadows included) as a small "F" image, and whether the ink is dark.

    Returned as if the ink were dark: for light ink (chalk, white on black) both the page and later the pixels are
    inverted. A digital drawing's page is one flat tone, the median. On a photo, a closing (max then min) wider
    than a stroke erases dark writing, an opening light writing.
    """
    half = _shrink(search, SEARCH_SIDE // 2)
    sample = pixels[::3, ::3]
    page = _quantiles(sample, 0.5)[0]
    if np.mean(np.abs(sample - page) <= FLAT_TOLERANCE) >= 0.5:
        ink_is_dark = _ink_is_dark(half, page)
        return Image.new("F", (1, 1), page if ink_is_dark else 255.0 - page), ink_is_dark
    # Around any mark the page is the majority, so on a photo a local median is the page whatever the ink's tone.
    local_page = _shrink(search, POLARITY_SIDE).filter(ImageFilter.MedianFilter(POLARITY_KERNEL))
    ink_is_dark = _ink_is_dark(half, np.asarray(local_page.resize(half.size, Image.Resampling.BILINEAR)))
    small = np.asarray(_shrink(Image.fromarray(pixels, "F"), BACKGROUND_SIDE), dtype=np.float32)
    if not ink_is_dark:
        small = 255.0 - small
    size = min(BACKGROUND_KERNEL, 2 * (min(small.shape) // 4) + 1)
    return Image.fromarray(_sliding(_sliding(small, size, np.maximum), size, np.minimum), "F"), ink_is_dark


def _ink_is_dark(image: Image.Image, page: np.ndarray | float) -> bool:
    """Shadows, gradients, page edges and canvases stray from the page both ways: the ink's tone is the one that
    strays much further, or else the one that shows the more digit-like mark."""
    darker = page - np.asarray(image, dtype=np.float32)
    dark_strength, light_strength = _strongest(darker), _strongest(-darker)
    if max(dark_strength, light_strength) > CLEAR_POLARITY * min(dark_strength, light_strength):
        return dark_strength > light_strength
    threshold = INK_THRESHOLD * max(dark_strength, light_strength)
    dark_marks = _Components(_runs(darker > threshold), np.maximum(darker, 0.0))
    light_marks = _Components(_runs(-darker > threshold), np.maximum(-darker, 0.0))
    return dark_marks.best_score >= light_marks.best_score


def _paper_levels(
    paper: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float] | None = None
) -> np.ndarray | float:
    """The page's grey levels over `box` of the paper image, stretched to `size`; a flat page stays one number."""
    if paper.size == (1, 1):
        return float(paper.getpixel((0, 0)))
    return np.asarray(paper.resize(size, Image.Resampling.BILINEAR, box=box))


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
    positive = values[values > 0]  # np.partition is slow on the many equal zeros of a clean page
    return float(np.partition(positive, -count)[-count]) if positive.size >= count else 0.0


def _runs(mask: np.ndarray) -> _Runs:
    height, width = mask.shape
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    rows, columns = np.nonzero(np.diff(padded, axis=1))  # a run's start and end alternate along each row
    return _Runs(rows[0::2], columns[0::2], columns[1::2], mask.shape)


@dataclass(frozen=True)
class _Runs:
    """A mask as horizontal runs of set pixels, in row order: run i covers row rows[i], columns starts[i]:ends[i]."""

    rows: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    shape: tuple[int, int]

    def subset(self, keep: np.ndarray) -> _Runs:
        return _Runs(self.rows[keep], self.starts[keep], self.ends[keep], self.shape)


def _without_rules(mask: np.ndarray) -> _Runs:
    """The mask's runs without notebook rules, nor the lines of squared paper (rules turned a quarter).

    Both are found on the whole mask: the lines of one direction cut those of the other into short pieces.
    """
    runs = _runs(mask)
    across = _ruled_lines(runs)
    if not across.any():
        return runs  # a page without rules has no squares either: most pictures skip the second look
    columns = _runs(mask.T)
    down = _ruled_lines(columns)
    if not down.any():
        return runs.subset(~across)
    return _runs(_mask_of(runs.subset(~across)) & ~_mask_of(columns.subset(down)).T)


def _mask_of(runs: _Runs) -> np.ndarray:
    edges = np.zeros((runs.shape[0], runs.shape[1] + 1), dtype=np.int32)
    np.add.at(edges, (runs.rows, runs.starts), 1)
    np.add.at(edges, (runs.rows, runs.ends), -1)
    return np.cumsum(edges, axis=1)[:, :-1] > 0


def _ruled_lines(runs: _Runs) -> np.ndarray:
    """Which runs are rules: long runs on several thin bands of rows (a digit's bar is one band, a frame two)."""
    long = runs.ends - runs.starts >= RULE_LENGTH * runs.shape[1]
    rule_rows = np.unique(runs.rows[long])
    no_rules = np.zeros(runs.rows.size, dtype=bool)
    if rule_rows.size < 2:
        return no_rules
    band_starts = np.flatnonzero(np.diff(rule_rows, prepend=-2) > 1)
    band_sizes = np.diff(band_starts, append=rule_rows.size)
    thin = band_sizes <= max(2, RULE_THICKNESS * runs.shape[0])
    if np.count_nonzero(thin) < RULED_LINES:
        return no_rules
    thin_rows = np.zeros(runs.shape[0], dtype=bool)
    thin_rows[rule_rows[np.repeat(thin, band_sizes)]] = True
    # A rule fading in and out leaves pieces: on its rows only short runs, strokes crossing it, stay.
    piece = runs.ends - runs.starts >= RULE_PIECE * runs.shape[1]
    return piece & thin_rows[runs.rows]


class _Components:
    """8-connected blobs of a mask, found by joining its runs across rows (no per-pixel Python)."""

    def __init__(self, runs: _Runs, ink: np.ndarray) -> None:
        self.runs = runs
        self.shape = runs.shape
        height, width = runs.shape
        self.labels = _join_runs(runs.rows, runs.starts, runs.ends, width + 2)
        count = int(self.labels.max()) + 1 if self.labels.size else 0
        bounds = np.empty(2 * runs.rows.size, dtype=np.intp)
        bounds[0::2] = runs.rows * width + runs.starts
        bounds[1::2] = runs.rows * width + runs.ends
        # reduceat sums from each bound to the next: the even ones are the runs, the odd ones the gaps between them
        run_mass = np.add.reduceat(ink.ravel(), bounds[:-1])[0::2] if bounds.size else np.zeros(0)
        self.area = np.bincount(self.labels, runs.ends - runs.starts, minlength=count)
        self.mass = np.bincount(self.labels, run_mass, minlength=count)
        self.top = np.full(count, height)
        self.bottom = np.zeros(count, dtype=np.intp)
        self.left = np.full(count, width)
        self.right = np.zeros(count, dtype=np.intp)
        np.minimum.at(self.top, self.labels, runs.rows)
        np.maximum.at(self.bottom, self.labels, runs.rows + 1)
        np.minimum.at(self.left, self.labels, runs.starts)
        np.maximum.at(self.right, self.labels, runs.ends)
        box_height = self.bottom - self.top
        box_width = self.right - self.left
        self.span = np.maximum(box_height, box_width)
        touches_border = (self.top == 0) | (self.left == 0) | (self.bottom == height) | (self.right == width)
        band = round(BORDER_BAND * max(height, width))
        in_band = np.where(
            (runs.rows < band) | (runs.rows >= height - band),
            runs.ends - runs.starts,
            np.clip(np.minimum(runs.ends, band) - runs.starts, 0, None)
            + np.clip(runs.ends - np.maximum(runs.starts, width - band), 0, None),
        )
        along_border = np.bincount(self.labels, in_band, minlength=count) > 0.8 * self.area
        thin = self.area / np.maximum(self.span, 1) < 0.03 * max(height, width)
        wide_and_flat = (box_width > 0.5 * width) & (box_height < 0.15 * height)
        long = self.span > 0.3 * max(height, width)
        # The desk or the page's edge along the border, ruled lines, a pasted box and (below) frames are not the digit.
        filled_box = (self.area > 0.7 * box_height * box_width) & (
            np.minimum(box_height, box_width) > 0.3 * max(height, width)
        )
        self.is_clutter = long & ((touches_border & (along_border | thin)) | (wide_and_flat & thin)) | filled_box
        self.is_clutter |= self._encloses_others()  # a frame or box drawn around the digit
        # How digit-like each component is: its ink, less if it touches the border or is clutter or a speck.
        self.score = self.mass * np.where(touches_border, 0.5, 1.0) * np.where(self.is_clutter, 0.05, 1.0)
        self.score *= np.minimum(1.0, self.span / (0.04 * max(height, width))) ** 2
        self.flat = box_width > FLAT_STROKE * np.maximum(box_height, 1)

    @property
    def best_score(self) -> float:
        return float(self.score.max()) if self.score.size else 0.0

    def digit(self) -> np.ndarray | None:
        """Labels of the components that make the digit: the most digit-like one and its close neighbours."""
        if self.best_score <= 0:
            return None
        best = int(np.argmax(self.score * np.where(self.flat, 0.05, 1.0)))
        chosen = np.zeros(self.area.size, dtype=bool)
        chosen[best] = True
        # Pieces of one digit (a 5's detached bar, a broken 4) are big and close; a speck beside it is small.
        mergeable = (self.score >= 0.02 * self.score[best]) & (self.span >= 0.2 * self.span[best]) & ~self.is_clutter
        for _ in range(4):
            top, bottom = self.top[chosen].min(), self.bottom[chosen].max()
            left, right = self.left[chosen].min(), self.right[chosen].max()
            reach = 0.5 * max(bottom - top, right - left)
            near = (
                (self.top < bottom + reach)
                & (self.bottom > top - reach)
                & (self.left < right + reach)
                & (self.right > left - reach)
            )
            # A bar joins a digit (a 5's, a 7's), a rule's piece reaching beyond it does not.
            fits = ~self.flat | (self.right - self.left <= 1.5 * max(bottom - top, right - left))
            joined = chosen | (near & mergeable & fits)
            if (joined == chosen).all():
                break
            chosen = joined
        return np.flatnonzero(chosen)

    def _encloses_others(self) -> np.ndarray:
        """Frames and boxes drawn around the digit: components whose box holds another one of real weight."""
        heaviest = np.argsort(self.mass)[::-1][:FRAME_CANDIDATES]
        top, bottom = self.top[heaviest], self.bottom[heaviest]
        left, right = self.left[heaviest], self.right[heaviest]
        inside = (
            (top[:, None] < top[None, :])
            & (bottom[:, None] > bottom[None, :])
            & (left[:, None] < left[None, :])
            & (right[:, None] > right[None, :])
            & (self.mass[heaviest][None, :] >= 0.1 * self.mass[heaviest][:, None])
        )
        encloses = np.zeros(self.area.size, dtype=bool)
        encloses[heaviest] = inside.any(axis=1)
        return encloses

    def box_and_mask(self, labels: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """The components' box (left, top, right, bottom) with a pixel of margin, and their mask inside it."""
        height, width = self.shape
        left, top = max(0, int(self.left[labels].min()) - 1), max(0, int(self.top[labels].min()) - 1)
        right, bottom = min(width, int(self.right[labels].max()) + 1), min(height, int(self.bottom[labels].max()) + 1)
        selected = np.isin(self.labels, labels)
        rows = self.runs.rows[selected] - top
        edges = np.zeros((bottom - top, right - left + 1), dtype=np.int32)
        np.add.at(edges, (rows, self.runs.starts[selected] - left), 1)
        np.add.at(edges, (rows, self.runs.ends[selected] - left), -1)
        return (left, top, right, bottom), np.cumsum(edges, axis=1)[:, :-1] > 0


def _join_runs(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, row_stride: int) -> np.ndarray:
    """Component label of each run: runs on neighbouring rows that touch (diagonals too) share a label."""
    count = rows.size
    if count == 0:
        return np.zeros(0, dtype=np.intp)
    start_keys = rows * row_stride + starts
    end_keys = rows * row_stride + ends
    below = (rows + 1) * row_stride
    first = np.searchsorted(end_keys, below + starts - 1, side="right")
    last = np.searchsorted(start_keys, below + ends + 1, side="left")
    pairs = np.maximum(last - first, 0)
    upper = np.repeat(np.arange(count), pairs)
    offsets = np.arange(pairs.sum()) - np.repeat(np.cumsum(pairs) - pairs, pairs)
    lower = np.repeat(first, pairs) + offsets
    parent = np.arange(count)
    while True:
        root_a, root_b = parent[upper], parent[lower]
        differ = root_a != root_b
        if not differ.any():
            break
        np.minimum.at(parent, np.maximum(root_a, root_b)[differ], np.minimum(root_a, root_b)[differ])
        while True:  # pointer jumping: every run points at its root again
            jumped = parent[parent]
            if (jumped == parent).all():
                break
            parent = jumped
    return np.unique(parent, return_inverse=True)[1]


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
