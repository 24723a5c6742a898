"""Step 3, finding the digit: the ink's marks as runs and 8-connected components, without ruled lines,
the page's edges, frames or specks; the most digit-like marks are the digit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEARCH_SIDE = 256  # longest side of the image the digit is searched on
RULE_LENGTH = 0.35  # of the picture's width: longer runs on several thin bands of rows are ruled lines
RULE_THICKNESS = 0.015  # of the picture's height
RULED_LINES = 3
MARGIN_LENGTH = 0.6  # of the picture's height: a ruled page's margin runs down most of it, far longer than a digit
MARGIN_LINES = 2
RULE_PIECE = 0.06  # of the picture's width: a run this long on a rule's rows is a piece of it, not a stroke across it
FLAT_STROKE = 3.0  # a mark this many times wider than tall is a bar or a piece of a rule, never a digit alone
FRAME_CANDIDATES = 16
BORDER_BAND = 0.15  # of the picture's longest side: a mark lying within it along the border is the desk's edge
FRAME_BAND = 0.2  # of a mark's own box, each way: a frame's or a ring's ink lies within it along the box's edges


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
    """The mask's runs without notebook rules, nor the lines of squared paper (rules turned a quarter), nor a ruled
    page's margin line.

    Both are found on the whole mask: the lines of one direction cut those of the other into short pieces.
    """
    runs = _runs(mask)
    across = _ruled_lines(runs)
    if not across.any():
        return runs  # a page without rules has no squares either: most pictures skip the second look
    columns = _runs(mask.T)
    down = _ruled_lines(columns)
    if not down.any():
        down = _margin_lines(columns)
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


def _margin_lines(columns: _Runs) -> np.ndarray:
    """Which runs of a ruled page's columns are its margin: one or two thin lines down most of the picture, longer
    than any digit written between its rules."""
    long = columns.ends - columns.starts >= MARGIN_LENGTH * columns.shape[1]
    line_columns = np.unique(columns.rows[long])
    if line_columns.size == 0:
        return long
    band_starts = np.flatnonzero(np.diff(line_columns, prepend=-2) > 1)
    band_sizes = np.diff(band_starts, append=line_columns.size)
    if band_starts.size > MARGIN_LINES or band_sizes.max() > max(2, RULE_THICKNESS * columns.shape[0]):
        return np.zeros_like(long)
    return long


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
        in_band = _length_near_edges(runs, (0, height, 0, width), band, band)
        along_border = np.bincount(self.labels, in_band, minlength=count) > 0.8 * self.area
        labels = self.labels
        own_box = (self.top[labels], self.bottom[labels], self.left[labels], self.right[labels])
        in_own_band = _length_near_edges(runs, own_box, FRAME_BAND * box_height[labels], FRAME_BAND * box_width[labels])
        # A frame's or a ring's ink runs along the edges of its box; a digit's crosses it.
        self.along_own_edges = np.bincount(labels, in_own_band, minlength=count) > 0.8 * self.area
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

    @property
    def best_mark(self) -> tuple[bool, float]:
        """Whether the most digit-like mark is other than clutter, and its score: clutter, however heavy (a strip
        of desk, a blank canvas), ranks below any mark that is not."""
        plain = self.score[~self.is_clutter & (self.score > 0)]
        if plain.size:
            return True, float(plain.max())
        return False, float(self.score.max()) if self.score.size else 0.0

    def best(self) -> int:
        """The label of the most digit-like component: a flat bar counts for little, clutter only if nothing else
        scores."""
        rank = self.score * np.where(self.flat, 0.05, 1.0)
        if self.best_mark[0]:
            rank = np.where(self.is_clutter, 0.0, rank)
        return int(np.argmax(rank))

    def digit(self) -> np.ndarray | None:
        """Labels of the components that make the digit: the most digit-like one and its close neighbours."""
        if self.best_score <= 0:
            return None
        best = self.best()
        chosen = np.zeros(self.area.size, dtype=bool)
        chosen[best] = True
        # Pieces of one digit (a 5's detached bar, a broken 4) are close, and longer than a sixth of it; a speck
        # beside it is smaller.
        mergeable = (self.score >= 0.02 * self.score[best]) & (self.span >= 0.15 * self.span[best]) & ~self.is_clutter
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
        """Frames and boxes drawn around the digit: components whose ink runs along their box's edges and whose box
        holds another one of real weight (a piece of a broken digit inside the rest of it does not make a frame)."""
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
        encloses[heaviest] = inside.any(axis=1) & self.along_own_edges[heaviest]
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


def _length_near_edges(
    runs: _Runs,
    box: tuple[np.ndarray | int, np.ndarray | int, np.ndarray | int, np.ndarray | int],
    row_band: np.ndarray | float,
    column_band: np.ndarray | float,
) -> np.ndarray:
    """How much of each run lies within `row_band` rows of the top or bottom of `box` (top, bottom, left, right),
    or `column_band` columns of its left or right side; box and bands are one for all runs or one per run."""
    top, bottom, left, right = box
    length = runs.ends - runs.starts
    across_sides = np.clip(np.minimum(runs.ends, left + column_band) - runs.starts, 0, None) + np.clip(
        runs.ends - np.maximum(runs.starts, right - column_band), 0, None
    )
    near_top_or_bottom = (runs.rows < top + row_band) | (runs.rows >= bottom - row_band)
    return np.where(near_top_or_bottom, length, np.minimum(across_sides, length))


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
