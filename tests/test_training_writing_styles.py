"""Writing styles MNIST lacks: European 1s and crossed 7s keep their strokes and labels, and a 7 stays a 7;
posted photos of training digits are framed like the bot frames them, the same for the same seed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from model_training.posted_digits import posted_photo, posted_tensors
from model_training.writing_styles import (
    INK_LEVEL,
    SCALE,
    SKIP_ROWS,
    crossed_seven,
    european_one,
    european_variants,
    skipped_strokes,
)


@pytest.fixture(scope="module")
def ones_and_sevens(mnist_npz):
    with np.load(mnist_npz) as npz:
        images, labels = npz["x_train"][:2000], npz["y_train"][:2000]
    return images[labels == 1][:20], images[labels == 7][:20]


def _enlarged_ink(digit: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(digit).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BICUBIC)) > INK_LEVEL


def _drawn(original: np.ndarray, drawing: Image.Image) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Rows and columns of the ink added to the enlarged original, and where the original's ink lies."""
    before, after = _enlarged_ink(original), np.asarray(drawing) > INK_LEVEL
    assert drawing.size == (28 * SCALE, 28 * SCALE)
    assert after[before].all()  # every stroke of the original is kept
    added_rows, added_columns = np.nonzero(after & ~before)
    return added_rows, added_columns, np.nonzero(before)


def test_a_flagged_one_gains_ink_up_and_left_of_its_stem(ones_and_sevens):
    ones, _ = ones_and_sevens
    for seed, one in enumerate(ones):
        added_rows, added_columns, (rows, columns) = _drawn(one, european_one(one, np.random.default_rng(seed)))
        flag = added_rows < np.median(rows)  # a base may be added at the foot as well
        assert flag.sum() > 0, seed
        top_of_stem = columns[rows == rows.min()].mean()
        assert added_columns[flag].min() < top_of_stem - SCALE, seed  # the flag reaches left


def test_a_crossed_seven_gains_a_bar_across_its_middle_not_its_top(ones_and_sevens):
    _, sevens = ones_and_sevens
    for seed, seven in enumerate(sevens):
        added_rows, _, (rows, _) = _drawn(seven, crossed_seven(seven, np.random.default_rng(seed)))
        top, height = rows.min(), np.ptp(rows)
        assert added_rows.size, seed
        assert top + 0.3 * height <= np.median(added_rows) <= top + 0.75 * height, seed


def test_variants_are_model_inputs_framed_like_mnist(ones_and_sevens):
    ones, sevens = ones_and_sevens
    images, labels = np.concatenate([ones[:3], sevens[:3]]), np.array([1, 1, 1, 7, 7, 7])
    tensors, _ = european_variants(images, labels, share=1.0, seed=0)
    assert tensors.shape == (6, 28, 28, 1) and tensors.dtype == np.float32
    for variant in tensors:
        assert variant.min() >= 0.0 and variant.max() <= 1.0
        rows, columns = np.nonzero(variant[:, :, 0])
        assert max(np.ptp(rows), np.ptp(columns)) < 21  # MNIST's 20x20 box


def test_variants_are_labelled_with_the_digit_they_came_from(ones_and_sevens):
    ones, sevens = ones_and_sevens
    images = np.concatenate([ones, sevens, np.zeros((5, 28, 28), np.uint8)])
    labels = np.array([1] * len(ones) + [7] * len(sevens) + [3] * 5)
    tensors, variant_labels = european_variants(images, labels, share=0.5, seed=4)
    assert tensors.shape == (20, 28, 28, 1)
    assert sorted(variant_labels.tolist()) == [1] * 10 + [7] * 10


def test_variants_are_the_same_for_the_same_seed(ones_and_sevens):
    ones, sevens = ones_and_sevens
    images, labels = np.concatenate([ones, sevens]), np.array([1] * len(ones) + [7] * len(sevens))
    first, second = european_variants(images, labels, 0.3, seed=9), european_variants(images, labels, 0.3, seed=9)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], european_variants(images, labels, 0.3, seed=10)[0])


def test_posted_photos_are_jpegs_framed_by_the_bot_the_same_for_the_same_seed(ones_and_sevens):
    ones, sevens = ones_and_sevens
    images = np.concatenate([ones[:10], sevens[:10]])
    assert posted_photo(images[0], np.random.default_rng(1)).startswith(b"\xff\xd8")
    tensors, kept = posted_tensors(images, seed=5)
    assert tensors.shape == (len(kept), 28, 28, 1) and len(kept) >= 0.6 * len(images)
    assert kept.tolist() == sorted(set(kept.tolist()))  # the labels follow by index
    np.testing.assert_array_equal(tensors, posted_tensors(images, seed=5)[0])


def test_a_skipped_stroke_is_a_gap_across_the_digit_which_keeps_its_label(ones_and_sevens):
    ones, sevens = ones_and_sevens
    images = np.concatenate([ones, sevens])
    labels = np.array([1] * len(ones) + [7] * len(sevens))
    tensors, kept_labels = skipped_strokes(images, labels, share=0.5, seed=3)
    assert tensors.shape == (20, 28, 28, 1) and tensors.dtype == np.float32 and kept_labels.shape == (20,)
    originals = {image.tobytes(): label for image, label in zip(images, labels, strict=True)}
    for tensor, label in zip(tensors[..., 0], kept_labels, strict=True):
        ink_rows = np.flatnonzero(tensor.max(axis=1) > 0)
        empty_inside = [row for row in range(ink_rows[0], ink_rows[-1]) if tensor[row].max() == 0]
        assert len(empty_inside) >= SKIP_ROWS  # the digit is in two pieces, one above the other
        matches = [
            original_label
            for original, original_label in originals.items()
            if np.all(
                np.isclose(np.frombuffer(original, np.uint8).reshape(28, 28) / 255.0, tensor, atol=1e-6) | (tensor == 0)
            )
        ]
        assert label in matches  # only ink taken away, from a digit of that label
