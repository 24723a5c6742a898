"""Finding each digit of a handwritten number: the ink of one line cut into digits, left to right (broken strokes
joined, underlines dropped, touching digits offered cut apart), each framed the way a single digit is."""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from bot.errors import NoDigitFound, NotOneNumber
from bot.imaging.finding import (
    FLAT_STROKE,
    RULE_PIECE,
    SEARCH_SIDE,
    _Components,
    _join_runs,
    _mask_of,
    _Runs,
    _runs,
    _without_rules,
)
from bot.imaging.framing import _center_by_mass, _frame, _ink_on_page, _mnist_stroke_width, to_mnist_tensor
from bot.imaging.pixels import _shrink, _sliding

MAX_DIGITS = 12
# Pixels of the picture itself: marks shorter than this are no digits of a number, but specks of one faint digit.
FEWEST_PIXELS_TALL = 10
FRAME_SIDE_WIDTH = 0.15  # of its height: a side of a box drawn around the writing is a thin stroke,
FRAME_SIDE_ALIGNMENT = 0.1  # of its height: both sides start and end together,
FRAME_SIDE_HEIGHT = 1.25  # times the tallest mark between them: and they are taller than the writing they enclose
PIECE_SCORE = 0.02  # of the best mark's score: fainter or smaller marks are specks, not strokes
PIECE_SPAN = 0.2  # of the best mark's span
DIGIT_HEIGHT = 0.45  # of the line's height: a mark this tall may be a digit of its own; a shorter one is a piece
TALLEST_DIGIT = 2.0  # line heights: a mark taller than this is not one of the number's digits
LINE_SPACING = 0.5  # line heights: two lines of writing are at least this far apart
BORDER_WEIGHT = 0.1  # marks cut by the picture's edge are rarely the number: its line weighs them this much
LINE_GAP = 2.5  # line heights: a digit further than this from the others is a stray mark, not part of the number
LINE_OVERLAP = 0.3  # of the shorter one's height: neighbours on one line share at least this much of their rows
SAME_COLUMNS = 0.5  # of the narrower one's columns: marks sharing this many are pieces of one digit
STACKED_ROWS = 0.5  # of the shorter one's height: marks sharing fewer rows than this are one above the other
STACKED_GAP = 0.3  # of the taller one's height: pieces one above the other, no further apart, are one digit
STACKED_WIDTHS = 2.0  # pieces of one digit one above the other: neither is more than this many times the other's width
UNDERLINE_LENGTH = 1.3  # line heights: a flat stroke this long is an underline, not a 7's bar or a 5's cap
GLUING_RUN = 0.8  # line heights: in a mark as wide as several digits, rows of ink this long are a line under them
ONE_DIGIT_WIDE = 1.4  # width over height: ink no wider than this may be one digit (a wide 7, a digit in pieces)
TWO_DIGITS_WIDE = 0.9  # width over height: ink narrower than this holds one digit, never two that touch
NARROWEST_PART = 0.12  # of the ink's height: no digit is narrower (a 1 is about this narrow), nor any cut closer
WIDEST_PART = 1.3  # of its height: no digit is wider
MOST_CUTS = 6  # places where touching digits may meet, per stretch of ink
JOINED_GAP = 0.25  # line heights: marks closer than this side by side may be strokes of one digit
SURE_GAP = 0.3  # line heights: digits are this far apart or more; the narrower a gap, the likelier it is in a digit
CUT_BOUNDARY = 0.25  # how likely a column of least ink inside a mark is where two touching digits meet
GAP_BOUNDARY = 0.4  # how likely, at least, a gap between two digit-tall marks, however narrow: nearly as likely two
# digits as one (two digits that nearly touched, each read surely, were read as one digit the model doubted)
LIKELIEST_BOUNDARY = 0.5  # no place is made likelier than not: digits side by side are read apart when the model
# reads them
CLOSE_LOOK_HEIGHT = 40  # pixels on the search image: digits shorter than this are looked at again, closer
TILTS = np.arange(-4.0, 4.01, 0.5)  # degrees a photo may tilt a page's rules
CLOSE_LOOK_RULE_LENGTH = 0.8  # of its width: a line of ink across a close look at a number is a rule, not the number
RULE_SPILL = 0.3  # of its width: a row next to a rule's with this much ink holds some of the rule
CLOSE_LOOK_MARGIN = 0.5  # line heights of the picture kept around the number: no more, as shadows lurk there


@dataclass(frozen=True)
class NumberInk:
    """The number's ink, and the ways to read it as digits. Its places, numbered left to right from 0 (the left
    edge) to `places` (the right edge), are where one digit may end and the next begin: the gaps between marks and,
    in marks wide enough to hold touching digits, their columns of least ink. `segments` maps two places to the ink
    between them framed as one digit, a (28, 28, 1) tensor; the model picks the places whose digits it reads surest.
    Marks side by side may be read as one digit too: an open 0, a 4 whose strokes do not meet. `boundary_odds`
    holds, for each place between the edges, how likely the picture alone makes it that one digit ends there, as
    log odds: high across a wide gap, low across a narrow one or a cut through ink."""

    places: int
    segments: dict[tuple[int, int], np.ndarray]
    boundary_odds: tuple[float, ...]


@dataclass(frozen=True)
class _Group:
    """One digit-sized stretch of the line's marks: its box and ink mask on the search image, where it may be cut,
    and its ink between each two neighbouring cuts (the edges included), as `_cut_apart` shares it out."""

    box: tuple[int, int, int, int]
    mask: np.ndarray
    cuts: list[int]  # columns of the mask
    stretches: list[np.ndarray]  # masks of the box's size, one more than there are cuts

    @classmethod
    def of(cls, box: tuple[int, int, int, int], mask: np.ndarray) -> _Group:
        cuts = _cut_places(mask)
        return cls(box, mask, cuts, _cut_apart(mask, cuts))

    def stretch_at(self, column: int) -> int:
        """The stretch that starts at a place of this group: 0 at its left edge, then one per cut."""
        return 0 if column == 0 else self.cuts.index(column) + 1


@dataclass(frozen=True)
class _Ink:
    """The picture's ink as the finding step sees it, and what framing needs to cut each digit out of the picture."""

    components: _Components
    marks: _Marks | None  # None when nothing on the picture may be a digit
    as_found: _Components  # before underlines were taken away: what `to_mnist_tensor` finds
    search_size: tuple[int, int]
    paper: Image.Image
    noise: float
    ink_is_dark: bool


def to_number_tensors(image: Image.Image) -> NumberInk:
    """The number's ink and the ways to read it. Raises NoDigitFound, or NotOneNumber for several lines of writing or
    more than MAX_DIGITS digits. Read as one digit, the picture is framed exactly as `to_mnist_tensor` frames it."""
    try:
        number = _number_ink(image)
    except NoDigitFound:
        number = None
    if number is None or not _readable(number):
        return NumberInk(1, {(0, 1): to_mnist_tensor(image)}, ())  # what finding a single digit sees, if anything
    return number


def _number_ink(image: Image.Image) -> NumberInk:
    ink = first_look = _find_ink(image)
    if _line_height(ink.marks) * image.height / ink.search_size[1] < FEWEST_PIXELS_TALL:
        return NumberInk(1, {(0, 1): _single_digit(image, ink)}, ())  # specks of one digit, as on MNIST's own files
    labels = _digit_groups(ink.marks)
    if len(labels) == 1 and _digit_shaped(ink.components.box_and_mask(labels[0])[0]):
        return NumberInk(1, {(0, 1): _single_digit(image, ink)}, ())
    closer = _closer_look(image, ink, labels)
    writing = image
    if closer is not None:
        writing, number_box = closer
        ink = _find_ink(writing, SEARCH_SIDE, framed=number_box[1] > 0 and number_box[3] < 1)
        labels = _digit_groups(ink.marks, number_box)
    if len(labels) > MAX_DIGITS:
        raise NotOneNumber(f"{len(labels)} digits, more than {MAX_DIGITS}")
    line_height = _line_height(ink.marks)
    groups = []
    for group_labels in labels:
        box, mask = ink.components.box_and_mask(group_labels)
        groups.append(_Group.of(box, mask))
    return _segments(writing, ink, groups, line_height, lambda: _single_digit(image, first_look))


def _single_digit(image: Image.Image, ink: _Ink) -> np.ndarray:
    """The picture framed as one digit, exactly as `to_mnist_tensor` frames it, from the marks found at first look."""
    digit = ink.as_found.digit()
    if digit is None:
        raise NoDigitFound("nothing on the picture is shaped like a digit")
    framing = _frame(image, ink.search_size, *ink.as_found.box_and_mask(digit), ink.paper, ink.noise, ink.ink_is_dark)
    return _center_by_mass(_mnist_stroke_width(framing))[:, :, np.newaxis]


def _digit_shaped(box: tuple[int, int, int, int]) -> bool:
    """Whether ink in this box may be one digit: no wider than ONE_DIGIT_WIDE times its height."""
    return box[2] - box[0] <= ONE_DIGIT_WIDE * (box[3] - box[1])


def _readable(number: NumberInk) -> bool:
    """Whether some way of reading leads from the first place to the last (framing refuses ink too faint to read)."""
    reached = {0}
    for first, last in sorted(number.segments):
        if first in reached:
            reached.add(last)
    return number.places in reached


def _closer_look(
    image: Image.Image, ink: _Ink, groups: list[np.ndarray]
) -> tuple[Image.Image, tuple[float, ...]] | None:
    """The number's part of the picture, when its digits are too small on the search image to tell apart where they
    nearly touch, and where the number lies in it (left, top, right, bottom, as shares of its width and height);
    None when the digits are large enough already."""
    labels = np.concatenate(groups)
    line_height = _line_height(ink.marks)
    if line_height >= CLOSE_LOOK_HEIGHT:
        return None
    components = ink.components
    height, width = components.shape
    margin = CLOSE_LOOK_MARGIN * line_height
    box = (
        max(0.0, components.left[labels].min() - margin),
        max(0.0, components.top[labels].min() - margin),
        min(float(width), components.right[labels].max() + margin),
        min(float(height), components.bottom[labels].max() + margin),
    )
    scale = image.width / width
    crop = tuple(round(side * scale) for side in box)
    across, down = (crop[2] - crop[0]) / scale, (crop[3] - crop[1]) / scale
    number_box = (
        (components.left[labels].min() - crop[0] / scale) / across,
        (components.top[labels].min() - crop[1] / scale) / down,
        (components.right[labels].max() - crop[0] / scale) / across,
        (components.bottom[labels].max() - crop[1] / scale) / down,
    )
    return image.crop(crop), number_box


def _find_ink(image: Image.Image, side: int | None = None, *, framed: bool = False) -> _Ink:
    """The ink's marks without ruled lines, as `to_mnist_tensor` finds them: on its search image, or on the picture
    scaled to `side` pixels on its longest side, a close look at a number. That shows two or three of a page's
    rules at most, fewer than it takes to tell a ruled page, but a rule there runs across it all; thin rules fade
    away when a photo is shrunk to the search size, so a close look may be the first to see them. A close look
    `framed` with room above and below the number drops the lines running from its top to its bottom (a notebook's
    margin): no digit of the number is that tall."""
    search = _shrink(image, SEARCH_SIDE) if side is None else _fitted(image, side)
    found = _ink_on_page(search)
    runs = _without_rules(found.mask) if side is None else _runs(_without_tilted_rules(found.mask))
    if framed:
        runs = _without_lines_down(runs)
    components = as_found = _Components(runs, found.ink)
    marks = _marks(components)
    underlined = _without_underlines(components, marks)
    if underlined is not None:
        components = _Components(underlined, found.ink)
        marks = _marks(components)
    return _Ink(components, marks, as_found, search.size, found.paper, found.noise, found.ink_is_dark)


def _without_tilted_rules(mask: np.ndarray) -> np.ndarray:
    """A close look at a number without the page's rules, even where the photo tilts them a little or bends them
    over two rows: the mask is sheared by the tilt whose pairs of rows hold the most ink; pairs of rows with ink
    nearly all the way across, and the neighbours a rule spills onto, are a rule's; their long runs are taken away
    (short ones are strokes crossing it), and the mask is sheared back."""
    height, width = mask.shape
    columns = np.arange(width) - width / 2
    shifts = [np.round(np.tan(np.radians(degrees)) * columns).astype(np.intp) for degrees in TILTS]
    rows, ink_columns = np.nonzero(mask)
    shift = max(shifts, key=lambda shift: _fullest_row_pair(rows + shift[ink_columns], height))
    sheared = _sheared(mask, shift)
    pairs = _row_pairs(sheared) >= CLOSE_LOOK_RULE_LENGTH * width
    if not pairs.any():
        return mask
    rule_rows = np.zeros(height, dtype=bool)
    rule_rows[:-1] |= pairs
    rule_rows[1:] |= pairs
    rule_rows |= _beside(rule_rows) & (sheared.sum(axis=1) >= RULE_SPILL * width)
    runs = _runs(sheared)
    long = runs.ends - runs.starts >= RULE_PIECE * width
    kept = _mask_of(runs.subset(~(long & rule_rows[runs.rows])))
    return _sheared(kept, -shift) & mask


def _beside(rows: np.ndarray) -> np.ndarray:
    """The rows just above or below a flagged one."""
    beside = np.zeros_like(rows)
    beside[:-1] |= rows[1:]
    beside[1:] |= rows[:-1]
    return beside


def _row_pairs(mask: np.ndarray) -> np.ndarray:
    """How many columns have ink on each row or the next."""
    return (mask[:-1] | mask[1:]).sum(axis=1)


def _fullest_row_pair(rows: np.ndarray, height: int) -> int:
    """Roughly the most ink on two neighbouring rows, given each ink pixel's row (those outside count for nothing)."""
    inside = rows[(rows >= 0) & (rows < height)]
    counts = np.bincount(inside, minlength=height)
    return int((counts[:-1] + counts[1:]).max(initial=0))


def _sheared(mask: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Each column of the mask moved down by its shift (up where negative); what leaves the mask is lost."""
    height, width = mask.shape
    rows = np.arange(height)[:, np.newaxis] - shift[np.newaxis, :]
    inside = (rows >= 0) & (rows < height)
    return np.where(inside, mask[np.clip(rows, 0, height - 1), np.arange(width)], False)


def _without_lines_down(runs: _Runs) -> _Runs:
    """The runs without the columns of ink that run from the top of the picture to its bottom."""
    mask = _mask_of(runs)
    columns = _runs(mask.T)
    down = (columns.starts == 0) & (columns.ends == mask.shape[0])
    if not down.any():
        return runs
    return _runs(mask & ~_mask_of(columns.subset(down)).T)


def _fitted(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX)


def _without_underlines(components: _Components, marks: _Marks | None) -> _Runs | None:
    """The runs without those of a line drawn under the number and touching its digits, or None when there is none:
    rows of ink longer than the line is tall, inside a mark much wider than the line."""
    if marks is None:
        return None
    line = _line_height(marks)
    runs = components.runs
    widths = components.right - components.left
    in_wide_mark = widths[components.labels] > 2 * UNDERLINE_LENGTH * line
    long = runs.ends - runs.starts > GLUING_RUN * line
    if not (in_wide_mark & long).any():
        return None
    return runs.subset(~(in_wide_mark & long))


@dataclass(frozen=True)
class _Marks:
    """The marks that may be (part of) a digit, pieces one above the other joined into one (a digit cut by a ruled
    line or by a pen that skipped, a 5's cap): each mark's component labels, its box on the search image and score."""

    members: list[list[int]]
    top: np.ndarray
    bottom: np.ndarray
    left: np.ndarray
    right: np.ndarray
    score: np.ndarray
    flat: np.ndarray
    touches_border: np.ndarray
    columns: np.ndarray  # (components, width) bool: the columns each component has ink in
    shape: tuple[int, int]  # of the search image

    @property
    def heights(self) -> np.ndarray:
        return self.bottom - self.top

    def without(self, dropped: np.ndarray) -> _Marks:
        kept = ~dropped
        return _Marks(
            members=[members for members, keep in zip(self.members, kept, strict=True) if keep],
            top=self.top[kept],
            bottom=self.bottom[kept],
            left=self.left[kept],
            right=self.right[kept],
            score=self.score[kept],
            flat=self.flat[kept],
            touches_border=self.touches_border[kept],
            columns=self.columns,
            shape=self.shape,
        )

    @property
    def widths(self) -> np.ndarray:
        return self.right - self.left


def _marks(components: _Components) -> _Marks | None:
    """The picture's marks that are neither clutter nor specks, stacked pieces joined; None if there is none."""
    score = np.where(components.is_clutter, 0.0, components.score)
    if score.max(initial=0.0) <= 0:
        return None
    best = int(np.argmax(score * np.where(components.flat, 0.05, 1.0)))
    labels = np.flatnonzero(
        (score > 0) & (score >= PIECE_SCORE * score[best]) & (components.span >= PIECE_SPAN * components.span[best])
    )
    columns = _ink_columns(components)
    top, bottom = components.top[labels], components.bottom[labels]
    left, right = components.left[labels], components.right[labels]
    heights, widths = bottom - top, right - left
    height, width = components.shape
    inside = (top > 0) & (left > 0) & (bottom < height) & (right < width)
    ink_columns = columns[labels].astype(np.int32)
    shared_columns = ink_columns @ ink_columns.T
    narrower = np.minimum.outer(ink_columns.sum(axis=1), ink_columns.sum(axis=1))
    shared_rows = np.minimum.outer(bottom, bottom) - np.maximum.outer(top, top)
    stacked = (
        (shared_columns >= SAME_COLUMNS * np.maximum(narrower, 1))
        & (shared_rows <= STACKED_ROWS * np.minimum.outer(heights, heights))
        & (-shared_rows <= STACKED_GAP * np.maximum.outer(heights, heights))
        # a line under the number is below every digit: it joins none, being wider than each
        & (np.minimum.outer(widths, widths) >= np.maximum.outer(widths, widths) / STACKED_WIDTHS)
        & np.logical_and.outer(inside, inside)  # a shadow along the border is no piece of a digit
    )
    joined = _connected(stacked.astype(np.int8))
    members = [labels[joined == mark].tolist() for mark in range(int(joined.max()) + 1)]

    def per_mark(values: np.ndarray, pick: np.ufunc) -> np.ndarray:
        return np.array([pick.reduce(values[group]) for group in members])

    tops, bottoms = per_mark(components.top, np.minimum), per_mark(components.bottom, np.maximum)
    lefts, rights = per_mark(components.left, np.minimum), per_mark(components.right, np.maximum)
    found = _Marks(
        members=members,
        top=tops,
        bottom=bottoms,
        left=lefts,
        right=rights,
        score=per_mark(score, np.add),
        flat=(rights - lefts) > FLAT_STROKE * np.maximum(bottoms - tops, 1),
        touches_border=(tops == 0) | (lefts == 0) | (bottoms == height) | (rights == width),
        columns=columns,
        shape=components.shape,
    )
    sides = _frame_sides(found)
    return found.without(sides) if sides.any() else found


def _line_height(marks: _Marks | None) -> float:
    """How tall the number's digits are: the median height of the marks about as tall as the most digit-like one."""
    if marks is None:
        return 0.0
    best = int(np.argmax(marks.score * np.where(marks.flat, 0.05, 1.0)))
    tall = ~marks.flat & (marks.heights >= DIGIT_HEIGHT * marks.heights[best])
    return float(np.median(marks.heights[tall])) if tall.any() else float(marks.heights[best])


def _digit_groups(marks: _Marks | None, number_box: tuple[float, ...] | None = None) -> list[np.ndarray]:
    """The component labels of each digit, left to right: the heaviest line of digit-sized marks, with the smaller
    ones (a 7's bar, a dot of ink that broke off) joined to the digit they sit on. Given where the number was found
    at a first look (shares of the picture's width and height), the marks whose middle lies outside are left out."""
    if marks is None:
        raise NoDigitFound("nothing on the picture is shaped like a digit")
    line_height = _line_height(marks)
    heights = marks.heights
    tall = ~marks.flat & (heights >= DIGIT_HEIGHT * line_height) & (heights <= TALLEST_DIGIT * line_height)
    if number_box is not None:
        tall &= _within(marks, number_box)
    on_line = _heaviest_line(marks, tall, line_height)
    _refuse_other_lines(marks, tall & ~on_line, on_line, line_height)
    groups = [[int(mark)] for mark in np.flatnonzero(on_line)]
    underline = marks.flat & (marks.widths > UNDERLINE_LENGTH * line_height)
    for mark in np.flatnonzero(~on_line & ~underline):
        host = _host(marks, groups, int(mark), line_height)
        if host is not None:
            groups[host].append(int(mark))
    groups.sort(key=lambda group: float(marks.left[group[0]] + marks.right[group[0]]))
    return [np.array(sorted(label for mark in group for label in marks.members[mark])) for group in groups]


def _frame_sides(marks: _Marks) -> np.ndarray:
    """The two sides of a box drawn around the writing (a canvas's border too thin to stay joined at search size):
    thin strokes of one height, aligned, taller than every mark between them, which they enclose."""
    sides = np.zeros(marks.score.size, dtype=bool)
    thin = np.flatnonzero(~marks.flat & (marks.widths <= FRAME_SIDE_WIDTH * marks.heights))
    top, bottom, heights = marks.top[thin], marks.bottom[thin], marks.heights[thin]
    misalignment = np.maximum(np.abs(np.subtract.outer(top, top)), np.abs(np.subtract.outer(bottom, bottom)))
    aligned = np.triu(misalignment <= FRAME_SIDE_ALIGNMENT * np.maximum.outer(heights, heights), k=1)
    for one, other in thin[np.argwhere(aligned)]:  # few pairs: most marks are not thin, fewer still aligned
        first, last = (one, other) if marks.left[one] <= marks.left[other] else (other, one)
        inner = (
            (marks.left >= marks.right[first])
            & (marks.right <= marks.left[last])
            & (marks.top >= max(marks.top[first], marks.top[last]))
            & (marks.bottom <= min(marks.bottom[first], marks.bottom[last]))
        )
        if inner.any() and marks.heights[inner].max() * FRAME_SIDE_HEIGHT <= min(marks.heights[[first, last]]):
            sides[[first, last]] = True
    return sides


def _within(marks: _Marks, box: tuple[float, ...]) -> np.ndarray:
    height, width = marks.shape
    middle_across, middle_down = (marks.left + marks.right) / (2 * width), (marks.top + marks.bottom) / (2 * height)
    return (middle_across >= box[0]) & (middle_across <= box[2]) & (middle_down >= box[1]) & (middle_down <= box[3])


def _heaviest_line(marks: _Marks, tall: np.ndarray, line_height: float) -> np.ndarray:
    """The tall marks that chain up, neighbour by neighbour, into the line of most ink: a number written aslant is
    one line too, and a shadow in a corner is not the number."""
    chosen = np.flatnonzero(tall)
    if chosen.size == 0:
        chosen = np.array([int(np.argmax(marks.score))])
    top, bottom = marks.top[chosen], marks.bottom[chosen]
    left, right = marks.left[chosen], marks.right[chosen]
    heights = bottom - top
    shared_rows = np.minimum.outer(bottom, bottom) - np.maximum.outer(top, top)
    gap = np.maximum(np.subtract.outer(left, right), np.subtract.outer(left, right).T)
    rise = np.abs(np.subtract.outer(top + bottom, top + bottom)) / 2
    in_a_row = shared_rows >= LINE_OVERLAP * np.minimum.outer(heights, heights)
    aslant = (gap >= -0.1 * line_height) & (gap <= 0.5 * line_height) & (rise <= line_height)
    linked = ((in_a_row & (gap <= LINE_GAP * line_height)) | aslant).astype(np.int8)
    lines = _connected(linked)
    weights = np.bincount(lines, marks.score[chosen] * np.where(marks.touches_border[chosen], BORDER_WEIGHT, 1.0))
    on_line = np.zeros(marks.score.size, dtype=bool)
    on_line[chosen[lines == int(np.argmax(weights))]] = True
    return on_line


def _connected(linked: np.ndarray) -> np.ndarray:
    """Which group each node of a graph (a symmetric 0/1 matrix) belongs to, numbered from 0."""
    reach = linked | np.eye(len(linked), dtype=np.int8)
    while True:
        wider = (reach @ reach > 0).astype(np.int8)
        if (wider == reach).all():
            break
        reach = wider
    return np.unique(reach.argmax(axis=1), return_inverse=True)[1]


def _refuse_other_lines(marks: _Marks, others: np.ndarray, on_line: np.ndarray, line_height: float) -> None:
    """NotOneNumber when another line of digit-sized writing, as strong as the number's, stands above or below it."""
    another_line = (
        others
        & ~marks.touches_border
        & ((marks.bottom <= marks.top[on_line].min()) | (marks.top >= marks.bottom[on_line].max()))
        & (marks.right > marks.left[on_line].min() - line_height)
        & (marks.left < marks.right[on_line].max() + line_height)
        & (marks.heights >= 0.6 * line_height)
        & (marks.heights <= 1.6 * line_height)
        & (marks.score >= 0.3 * float(np.median(marks.score[on_line])))
    )
    if np.count_nonzero(another_line) < 2:
        return
    # Two lines of digits are each wider than one digit and lie apart; the pieces of one digit, stacked, do not.
    line, other = _box_of(marks, on_line), _box_of(marks, another_line)
    apart = max(other[1] - line[3], line[1] - other[3]) >= LINE_SPACING * line_height
    if apart and not _digit_shaped(line) and not _digit_shaped(other):
        raise NotOneNumber("writing on several lines")


def _box_of(marks: _Marks, chosen: np.ndarray) -> tuple[int, int, int, int]:
    return (
        int(marks.left[chosen].min()),
        int(marks.top[chosen].min()),
        int(marks.right[chosen].max()),
        int(marks.bottom[chosen].max()),
    )


def _ink_columns(components: _Components) -> np.ndarray:
    """(components, width) bool: the columns each component has ink in."""
    runs = components.runs
    edges = np.zeros((components.area.size, components.shape[1] + 1), dtype=np.int32)
    np.add.at(edges, (components.labels, runs.starts), 1)
    np.add.at(edges, (components.labels, runs.ends), -1)
    return np.cumsum(edges, axis=1)[:, :-1] > 0


def _host(marks: _Marks, groups: list[list[int]], mark: int, line_height: float) -> int | None:
    """The digit a smaller mark belongs to: the one sharing most of its columns, if the mark is near its rows."""
    own = _mark_columns(marks, [mark])
    shares = [np.count_nonzero(own & _mark_columns(marks, group)) / max(np.count_nonzero(own), 1) for group in groups]
    host = int(np.argmax(shares))
    reach = 0.3 * line_height
    near = (
        marks.bottom[mark] > marks.top[groups[host]].min() - reach
        and marks.top[mark] < marks.bottom[groups[host]].max() + reach
    )
    return host if shares[host] >= SAME_COLUMNS and near else None


def _mark_columns(marks: _Marks, group: list[int]) -> np.ndarray:
    return marks.columns[[label for mark in group for label in marks.members[mark]]].any(axis=0)


def _segments(
    image: Image.Image,
    ink: _Ink,
    groups: list[_Group],
    line_height: float,
    as_one_digit: Callable[[], np.ndarray],
) -> NumberInk:
    """Every stretch of the line between two places that may hold one digit, framed: each group whole, the parts
    between its cuts, and neighbours close enough to be one digit's strokes, if no wider than a digit. All of the
    line, when it may be one digit (in pieces), is framed by `as_one_digit`: as a single digit always was."""
    places = [(index, column) for index, group in enumerate(groups) for column in (0, *group.cuts)]
    places.append((len(groups), 0))
    gaps = [_gap(earlier, later) / line_height for earlier, later in itertools.pairwise(groups)]
    left, top = min(group.box[0] for group in groups), min(group.box[1] for group in groups)
    right, bottom = max(group.box[2] for group in groups), max(group.box[3] for group in groups)
    digit_shaped = _digit_shaped((left, top, right, bottom))
    segments = {}
    for first, last in itertools.combinations(range(len(places)), 2):
        (start_group, start), (end_group, end) = places[first], places[last]
        whole_group = start == 0 and end == 0 and end_group == start_group + 1
        parts = _parts(groups, start_group, start, end_group, end)
        if not parts:
            continue
        left, right = min(box[0] for box, _ in parts), max(box[2] for box, _ in parts)
        top, bottom = min(box[1] for box, _ in parts), max(box[3] for box, _ in parts)
        # A digit taller than the line's others (a 4 whose stem reaches below) may be as much wider.
        height = min(max(line_height, bottom - top), TALLEST_DIGIT * line_height)
        joined_gaps = gaps[start_group : end_group if end == 0 else end_group + 1][: len(parts) - 1]
        fits = NARROWEST_PART * line_height <= right - left <= WIDEST_PART * height and all(
            gap <= JOINED_GAP for gap in joined_gaps
        )
        everything = (first, last) == (0, len(places) - 1)
        if whole_group or fits or (everything and digit_shaped):
            with contextlib.suppress(NoDigitFound):  # too faint to frame: not a way to read the number
                segments[first, last] = as_one_digit() if everything else _framed(image, ink, *_joined(parts))
    odds = [
        _log_odds(CUT_BOUNDARY) if column else _log_odds(max(gaps[index - 1] / SURE_GAP, GAP_BOUNDARY))
        for index, column in places[1:-1]
    ]
    return NumberInk(len(places) - 1, segments, tuple(odds))


def _log_odds(probability: float) -> float:
    probability = min(max(probability, CUT_BOUNDARY), LIKELIEST_BOUNDARY)
    return math.log(probability / (1.0 - probability))


def _gap(earlier: _Group, later: _Group) -> float:
    """Search pixels between two groups' ink where it comes closest, from the ends of each row's ink: across the rows
    they share (a slant makes their boxes overlap however far apart the digits are), and up or down between pieces
    of one digit one above the other (a 4 whose stem broke off beside its arm)."""
    top, bottom = min(earlier.box[1], later.box[1]), max(earlier.box[3], later.box[3])
    ends = _row_extents(earlier, top, bottom)[1]
    starts = _row_extents(later, top, bottom)[0]
    rows = np.arange(top, bottom, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # rows without ink on one side: inf - inf, masked below
        across = np.maximum(starts[np.newaxis, :] - ends[:, np.newaxis], 0.0)
    down = np.abs(rows[np.newaxis, :] - rows[:, np.newaxis])
    distances = np.where(np.isfinite(ends)[:, np.newaxis] & np.isfinite(starts), np.hypot(across, down), np.inf)
    closest = float(distances.min(initial=np.inf))
    return closest if np.isfinite(closest) else float(later.box[0] - earlier.box[2])


def _row_extents(group: _Group, top: int, bottom: int) -> tuple[np.ndarray, np.ndarray]:
    """The first and one-past-last ink column of each row from `top` to `bottom`, on the search image (inf: none)."""
    rows = np.zeros((bottom - top, group.mask.shape[1]), dtype=bool)
    rows[group.box[1] - top : group.box[3] - top] = group.mask
    columns = np.arange(rows.shape[1], dtype=np.float64) + group.box[0]
    starts = np.where(rows, columns, np.inf).min(axis=1)
    ends = np.where(rows, columns + 1, -np.inf).max(axis=1)
    return starts, np.where(np.isfinite(ends), ends, np.inf)


def _parts(
    groups: list[_Group], start_group: int, start: int, end_group: int, end: int
) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """The boxes and masks of the ink between two places: the first group from its column `start`, the last up to
    its column `end`, the groups between whole."""
    parts = []
    for index in range(start_group, min(end_group + 1, len(groups))):
        group = groups[index]
        first = group.stretch_at(start) if index == start_group else 0
        last = group.stretch_at(end) if index == end_group else len(group.stretches)
        if last > first:
            part = _cropped(group.box, np.logical_or.reduce(group.stretches[first:last]))
            if part is not None:
                parts.append(part)
    return parts


def _joined(parts: list[tuple[tuple[int, int, int, int], np.ndarray]]) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """One box and mask holding every part."""
    if len(parts) == 1:
        return parts[0]
    left, top = min(box[0] for box, _ in parts), min(box[1] for box, _ in parts)
    right, bottom = max(box[2] for box, _ in parts), max(box[3] for box, _ in parts)
    mask = np.zeros((bottom - top, right - left), dtype=bool)
    for box, part in parts:
        mask[box[1] - top : box[3] - top, box[0] - left : box[2] - left] |= part
    return (left, top, right, bottom), mask


def _cut_apart(mask: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    """The ink between each two neighbouring cuts (the edges included). Taking the cut columns out splits the ink into
    pieces; each goes wholly to the stretch holding most of it, so a stroke reaching past a cut (a 1's base under
    the 7 it touches) stays with its digit. A cut column's own ink goes to both sides."""
    if not cuts:
        return [mask]
    apart = mask.copy()
    apart[:, cuts] = False
    runs = _runs(apart)
    pieces = _join_runs(runs.rows, runs.starts, runs.ends, mask.shape[1] + 2)
    stretch = np.searchsorted(cuts, runs.starts, side="right")  # a run lies wholly between two cuts
    shares = np.zeros((int(pieces.max(initial=-1)) + 1, len(cuts) + 1))
    np.add.at(shares, (pieces, stretch), runs.ends - runs.starts)
    owner = shares.argmax(axis=1)[pieces]
    stretches = [_mask_of(runs.subset(owner == index)) for index in range(len(cuts) + 1)]
    for index, column in enumerate(cuts):
        stretches[index][:, column] |= mask[:, column]
        stretches[index + 1][:, column] |= mask[:, column]
    return stretches


def _cut_places(mask: np.ndarray) -> list[int]:
    """Columns where touching digits may meet: the least inked columns that are the least inked around them, at
    most MOST_CUTS, none near the edges, none close together; none in ink too narrow to hold two digits."""
    height, width = mask.shape
    if width < TWO_DIGITS_WIDE * height:
        return []
    profile = mask.sum(axis=0).astype(np.float32)
    reach = max(1, round(NARROWEST_PART * height))
    lowest_around = _sliding(profile[np.newaxis, :], 2 * reach + 1, np.minimum)[0]
    inside = np.arange(width)
    candidates = np.flatnonzero((profile <= lowest_around) & (inside >= reach) & (inside <= width - reach))
    chosen: list[int] = []
    for column in candidates[np.lexsort((np.abs(candidates - width / 2), profile[candidates]))]:
        if len(chosen) < MOST_CUTS and all(abs(column - other) > reach for other in chosen):
            chosen.append(int(column))
    return sorted(chosen)


def _cropped(box: tuple[int, int, int, int], mask: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The box and mask cut to the mask's ink with a pixel of margin, as a group's own (framing keeps the ink near
    the mask, which the box must leave room for); None if it has none."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    top, left = max(0, int(rows[0]) - 1), max(0, int(columns[0]) - 1)
    bottom, right = min(mask.shape[0], int(rows[-1]) + 2), min(mask.shape[1], int(columns[-1]) + 2)
    return (box[0] + left, box[1] + top, box[0] + right, box[1] + bottom), mask[top:bottom, left:right]


def _framed(image: Image.Image, ink: _Ink, box: tuple[int, int, int, int], mask: np.ndarray) -> np.ndarray:
    framing = _frame(image, ink.search_size, box, mask, ink.paper, ink.noise, ink.ink_is_dark)
    return _center_by_mass(_mnist_stroke_width(framing))[:, :, np.newaxis]
