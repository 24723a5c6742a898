"""Shared fixtures: the MNIST file from ../shared/data and the shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import DEFAULT_MODEL_PATH
from model_training.data import MNIST_NPZ


@pytest.fixture(scope="session")
def mnist_npz() -> Path:
    if not MNIST_NPZ.is_file():
        pytest.fail(f"MNIST is not at {MNIST_NPZ}: set MNIST_NPZ or DIGIT_BOT_SHARED_DATA")
    return MNIST_NPZ


@pytest.fixture(scope="session")
def mnist_test_split(mnist_npz):
    import numpy as np

    with np.load(mnist_npz) as npz:
        return npz["x_test"], npz["y_test"]


@pytest.fixture(scope="session")
def shipped_model_path() -> Path:
    return DEFAULT_MODEL_PATH


@pytest.fixture(scope="session")
def recognizer(shipped_model_path):
    from bot.recognizer import Recognizer

    return Recognizer(shipped_model_path)
