"""Two digits framed as one, taught as no digit: shaped like what reading a number offers the model."""

import numpy as np
import pytest

from model_training.digit_pairs import digit_pairs


@pytest.fixture(scope="module")
def training_digits(mnist_npz):
    with np.load(mnist_npz) as npz:
        return npz["x_train"][:200]


def test_pairs_are_framed_like_digits_and_wider_than_one(training_digits):
    pairs = digit_pairs(training_digits, 40, seed=3)
    assert pairs.shape == (40, 28, 28, 1) and pairs.dtype == np.float32
    assert pairs.min() >= 0.0 and pairs.max() <= 1.0
    ink = pairs[..., 0] > 0.3
    widths = np.array([np.ptp(np.flatnonzero(tile.any(axis=0))) + 1 for tile in ink])
    heights = np.array([np.ptp(np.flatnonzero(tile.any(axis=1))) + 1 for tile in ink])
    # Framed in MNIST's 20×20 box by its longest side, as the bot frames a stretch of ink: two digits side by side
    # are wider than tall, as a single digit rarely is.
    assert np.median(widths) >= 18 and np.median(heights / widths) < 0.8


def test_pairs_are_the_same_for_a_seed_and_differ_between_seeds(training_digits):
    digits = training_digits
    assert np.array_equal(digit_pairs(digits, 8, seed=1), digit_pairs(digits, 8, seed=1))
    assert not np.array_equal(digit_pairs(digits, 8, seed=1), digit_pairs(digits, 8, seed=2))
