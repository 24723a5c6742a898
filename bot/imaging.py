"""Picture bytes → the 28×28 MNIST-style tensor the model reads: safe decoding, then finding and framing the digit.

Everything runs on small images with Pillow's C filters and numpy, so a 12 MP photo costs a few milliseconds.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError

from bot.errors import BrokenImage, DigitBotError, ImageTooLarge, NoDigitFound, NotAnImage

ACCEPTED_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "TIFF")  # MPO: what many phones call their JPEGs
DECODED_SIDE = 1024  # longest side kept after decoding: enough to frame a small digit far from the centre
SEARCH_SIDE = 256  # longest side of the image the digit is searched on
BACKGROUND_SIDE = 32  # longest side of the image the paper's light is estimated on
BACKGROUND_KERNEL = 7  # wider than any pen stroke at BACKGROUND_SIDE, narrower than a shadow's gradient
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
MIN_SIGNAL_TO_NOISE = 5.0
INK_THRESHOLD = 0.35  # of the ink's contrast: faint notebook rules and shadows stay below it
MNIST_BOX = 20
MNIST_SIDE = 28
FRAMING_SIDE = 4 * MNIST_BOX  # the digit is thickened or thinned at this size, then averaged down to MNIST_BOX


@dataclass(frozen=True)
class ImageLimits:
    """The most we read: bigger files are refused before any pixel is decoded."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 50_000_000


def decode_picture(data: bytes, limits: ImageLimits) -> Image.Image:
    """Greyscale ("L") picture upright, transparency flattened, longest side at most DECODED_SIDE.

    Raises NotAnImage, ImageTooLarge or BrokenImage; never a Pillow error.
    """
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"the file is over {limits.max_bytes} bytes", limit_bytes=limits.max_bytes)
    if not data:
        raise NotAnImage("the file is empty")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        width, height = image.size
        if width * height > limits.max_pixels:
            raise ImageTooLarge(f"the picture is over {limits.max_pixels} pixels", limit_pixels=limits.max_pixels)
        if width == 0 or height == 0:
            raise BrokenImage("the picture has no pixels")
        orientation = image.getexif().get(ORIENTATION_TAG, 1)
        if image.format in ("JPEG", "MPO"):
            # Decodes at 1/2, 1/4 or 1/8 scale straight from the DCT: a 12 MP photo never exists at full size.
            image.draft("L", (DECODED_SIDE // 2, DECODED_SIDE // 2))
        image.load()
        gray = _to_gray(_shrink(_simple_mode(image), DECODED_SIDE))
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


def _shrink(image: Image.Image, longest_side: int) -> Image.Image:
    factor = -(-max(image.size) // longest_side)
    return image.reduce(factor) if factor > 1 else image


def _simple_mode(image: Image.Image) -> Image.Image:
    """One of L, RGB, RGBA, I or F: the modes the rest of decoding knows."""
    if "transparency" in image.info or image.mode in ("LA", "La", "PA", "RGBa"):
        return image.convert("RGBA")
    if image.mode.startswith("I;16"):
        return image.convert("I")
    if image.mode in ("L", "RGB", "RGBA", "I", "F"):
        return image
    return image.convert("L" if image.mode == "1" else "RGB")


def _to_gray(image: Image.Image) -> Image.Image:
    """L, RGB, RGBA, I or F → "L", stretching high-bit-depth pictures and flattening transparency."""
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.astype(np.uint8))
    if image.mode == "RGBA":
        return _flatten_transparency(image)
    return image if image.mode == "L" else image.convert("L")


def _flatten_transparency(image: Image.Image) -> Image.Image:
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    visible = alpha > 0.5
    if alpha.min() == 1.0:
        return Image.fromarray(gray.astype(np.uint8))
    if not visible.any():
        return Image.new("L", image.size, 255)
    darkest, lightest = np.percentile(gray[visible], [2, 98])
    if lightest - darkest < MIN_INK_CONTRAST:
        # Drawn in one colour on a transparent page: the drawing is in the alpha channel alone.
        gray = np.full_like(gray, (darkest + lightest) / 2)
    if lightest - darkest < MIN_INK_CONTRAST or visible.mean() < 0.5:
        # The visible part is the writing: lay it on a page of the opposite brightness, so any ink colour shows.
        page = 255.0 if np.median(gray[visible]) < 128 else 0.0
    else:
        page = float(np.median(gray[visible]))  # the page itself is drawn: its holes are more page
    return Image.fromarray((gray * alpha + page * (1.0 - alpha)).astype(np.uint8))


def to_mnist_tensor(image: Image.Image) -> np.ndarray:
    """float32 (28, 28, 1) in [0, 1], white ink on black, framed the way MNIST was: raises NoDigitFound."""
    search = _shrink_to(image, SEARCH_SIDE)
    background, ink_is_dark = _estimate_paper(search)
    ink = _ink(search, background, ink_is_dark)
    contrast, noise = _ink_contrast(ink)
    if contrast < MIN_INK_CONTRAST or contrast < MIN_SIGNAL_TO_NOISE * noise:
        raise NoDigitFound("nothing on the picture stands out from the page")
    mask = ink > max(INK_THRESHOLD * contrast, 3.0 * noise)
    components = _Components(mask, ink)
    digit = components.digit()
    if digit is None:
        raise NoDigitFound("nothing on the picture is shaped like a digit")
    digit_mask = components.mask_of(digit)
    digit_contrast = float(np.percentile(ink[digit_mask], 90))
    framing = _frame(image, search, background, ink_is_dark, digit_mask, digit_contrast, noise)
    return _center_by_mass(framing)[:, :, np.newaxis]


def _shrink_to(image: Image.Image, longest_side: int) -> Image.Image:
    scale = longest_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX)


def _estimate_paper(search: Image.Image) -> tuple[Image.Image, bool]:
    """The page without the writing (light and shadows included) at BACKGROUND_SIDE, and whether the ink is darker.

    The page covers most of a picture, so its tone is the median and the ink lies on the far side of it.
    A closing (max then min) then erases dark strokes from the page, an opening light ones.
    """
    pixels = np.asarray(search)
    darkest, page, lightest = np.percentile(pixels, [1, 50, 99])
    ink_is_dark = bool(page - darkest >= lightest - page)
    small = _shrink_to(search, BACKGROUND_SIDE)
    kernel = ImageFilter.MaxFilter if ink_is_dark else ImageFilter.MinFilter
    inverse = ImageFilter.MinFilter if ink_is_dark else ImageFilter.MaxFilter
    size = min(BACKGROUND_KERNEL, 2 * (min(small.size) // 4) + 1)
    paper = small.filter(kernel(size)).filter(inverse(size)).filter(ImageFilter.BoxBlur(1))
    return paper, ink_is_dark


def _stretch(background: Image.Image, like: Image.Image) -> Image.Image:
    return background.resize(like.size, Image.Resampling.BILINEAR)


def _strongest(values: np.ndarray) -> float:
    """A high value that a few noisy pixels cannot fake, yet a small digit still reaches."""
    count = max(8, values.size // 2000)
    return float(np.partition(values.ravel(), -count)[-count])


def _ink(search: Image.Image, background: Image.Image, ink_is_dark: bool) -> np.ndarray:
    difference = np.asarray(_stretch(background, search), dtype=np.float32) - np.asarray(search, dtype=np.float32)
    return np.maximum(difference if ink_is_dark else -difference, 0.0)


def _ink_contrast(ink: np.ndarray) -> tuple[float, float]:
    """The ink's strength over the page, and the page's noise (from the median absolute deviation)."""
    noise = 1.4826 * float(np.median(ink))
    return _strongest(ink), noise


class _Components:
    """8-connected blobs of a mask, found as horizontal runs joined across rows (no per-pixel Python)."""

    def __init__(self, mask: np.ndarray, ink: np.ndarray) -> None:
        self.shape = mask.shape
        height, width = mask.shape
        padded = np.zeros((height, width + 2), dtype=np.int8)
        padded[:, 1:-1] = mask
        steps = np.diff(padded, axis=1)
        self.rows, self.starts = np.nonzero(steps == 1)
        self.ends = np.nonzero(steps == -1)[1]  # exclusive
        self.labels = _join_runs(self.rows, self.starts, self.ends, width + 2)
        count = int(self.labels.max()) + 1 if self.labels.size else 0
        lengths = self.ends - self.starts
        row_sums = np.zeros((height, width + 1), dtype=np.float64)
        np.cumsum(ink, axis=1, out=row_sums[:, 1:])
        run_mass = row_sums[self.rows, self.ends] - row_sums[self.rows, self.starts]
        self.area = np.bincount(self.labels, lengths, minlength=count)
        self.mass = np.bincount(self.labels, run_mass, minlength=count)
        self.top = np.full(count, height)
        self.bottom = np.zeros(count, dtype=np.intp)
        self.left = np.full(count, width)
        self.right = np.zeros(count, dtype=np.intp)
        np.minimum.at(self.top, self.labels, self.rows)
        np.maximum.at(self.bottom, self.labels, self.rows + 1)
        np.minimum.at(self.left, self.labels, self.starts)
        np.maximum.at(self.right, self.labels, self.ends)

    def digit(self) -> np.ndarray | None:
        """Labels of the components that make the digit: the most ink-like one and its close neighbours."""
        if not self.area.size:
            return None
        height, width = self.shape
        box_height = self.bottom - self.top
        box_width = self.right - self.left
        span = np.maximum(box_height, box_width)
        touches_border = (self.top == 0) | (self.left == 0) | (self.bottom == height) | (self.right == width)
        thickness = self.area / np.maximum(span, 1)
        is_rule = ((box_width > 0.6 * width) & (box_height < 0.1 * height)) | (
            (box_height > 0.6 * height) & (box_width < 0.1 * width) & touches_border
        )
        is_rule &= thickness < 0.03 * max(height, width)
        score = self.mass * np.where(touches_border, 0.25, 1.0) * np.where(is_rule, 0.05, 1.0)
        score *= np.minimum(1.0, span / (0.04 * max(height, width))) ** 2  # specks
        best = int(np.argmax(score))
        if score[best] <= 0:
            return None
        chosen = np.zeros(self.area.size, dtype=bool)
        chosen[best] = True
        mergeable = (score >= 0.02 * score[best]) & ~is_rule
        for _ in range(4):
            top, bottom = self.top[chosen].min(), self.bottom[chosen].max()
            left, right = self.left[chosen].min(), self.right[chosen].max()
            reach = 0.25 * max(bottom - top, right - left)
            near = (
                (self.top < bottom + reach)
                & (self.bottom > top - reach)
                & (self.left < right + reach)
                & (self.right > left - reach)
            )
            joined = chosen | (near & mergeable)
            if (joined == chosen).all():
                break
            chosen = joined
        return np.flatnonzero(chosen)

    def mask_of(self, labels: np.ndarray) -> np.ndarray:
        height, width = self.shape
        selected = np.isin(self.labels, labels)
        edges = np.zeros((height, width + 1), dtype=np.int32)
        np.add.at(edges, (self.rows[selected], self.starts[selected]), 1)
        np.add.at(edges, (self.rows[selected], self.ends[selected]), -1)
        return np.cumsum(edges, axis=1)[:, :width] > 0


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
    search: Image.Image,
    background: Image.Image,
    ink_is_dark: bool,
    digit_mask: np.ndarray,
    contrast: float,
    noise: float,
) -> np.ndarray:
    """The digit cut from the decoded picture at FRAMING_SIDE scale: ink in [0, 1], everything else exactly 0."""
    rows = np.flatnonzero(digit_mask.any(axis=1))
    columns = np.flatnonzero(digit_mask.any(axis=0))
    search_box = (
        max(0, columns[0] - 1),
        max(0, rows[0] - 1),
        min(search.width, columns[-1] + 2),
        min(search.height, rows[-1] + 2),
    )
    box = _scale_box(search_box, image.width / search.width)
    zoom = FRAMING_SIDE / max(box[2] - box[0], box[3] - box[1])
    size = (max(1, round((box[2] - box[0]) * zoom)), max(1, round((box[3] - box[1]) * zoom)))
    sampling = Image.Resampling.BOX if zoom < 1 else Image.Resampling.BILINEAR
    pixels = np.asarray(image.resize(size, sampling, box=box), dtype=np.float32)
    paper_box = _scale_box(search_box, background.width / search.width)
    paper = np.asarray(background.resize(size, Image.Resampling.BILINEAR, box=paper_box), dtype=np.float32)
    ink = np.maximum(paper - pixels if ink_is_dark else pixels - paper, 0.0) / max(contrast, 1.0)
    faint = min(0.6, max(0.7 * INK_THRESHOLD, 3.0 * noise / max(contrast, 1.0)))
    ink = np.clip((ink - faint) / (0.8 - faint), 0.0, 1.0)
    # Other writing that reaches into the digit's box (a rule, a neighbour) is not part of it.
    near_digit = Image.fromarray(digit_mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3))
    keep = np.asarray(near_digit.resize(size, Image.Resampling.BILINEAR, box=search_box), dtype=np.float32) / 255.0
    return ink * np.minimum(keep * 2.0, 1.0)


def _scale_box(box: tuple[int, int, int, int], scale: float) -> tuple[float, float, float, float]:
    return (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)


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
    top = int(np.clip(round(MNIST_SIDE / 2 - 0.5 - center_row), 0, MNIST_SIDE - small.shape[0]))
    left = int(np.clip(round(MNIST_SIDE / 2 - 0.5 - center_column), 0, MNIST_SIDE - small.shape[1]))
    tensor = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    tensor[top : top + small.shape[0], left : left + small.shape[1]] = small
    return tensor
