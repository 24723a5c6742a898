"""The model runners: LiteRT on the .tflite file, TensorFlow on the .keras twin when LiteRT is missing."""

from __future__ import annotations

import numpy as np
import pytest

from bot.runtime import KerasRunner, LiteRTRunner, load_runner


def test_a_tflite_path_runs_in_litert_and_a_keras_path_in_tensorflow(shipped_model_path):
    assert isinstance(load_runner(shipped_model_path), LiteRTRunner)
    assert isinstance(load_runner(shipped_model_path.with_suffix(".keras")), KerasRunner)


def test_both_runtimes_give_the_same_probabilities(shipped_model_path, mnist_test_split):
    images, _ = mnist_test_split
    batch = (images[:64, :, :, None] / 255.0).astype(np.float32)
    litert = load_runner(shipped_model_path).predict(batch)
    tensorflow = load_runner(shipped_model_path.with_suffix(".keras")).predict(batch)
    np.testing.assert_allclose(litert, tensorflow, atol=1e-4)


def test_litert_takes_any_batch_size_in_turn(shipped_model_path, mnist_test_split):
    images, _ = mnist_test_split
    runner = LiteRTRunner(shipped_model_path)
    batch = (images[:5, :, :, None] / 255.0).astype(np.float32)
    one_by_one = np.concatenate([runner.predict(batch[index : index + 1]) for index in range(5)])
    np.testing.assert_allclose(runner.predict(batch), one_by_one, atol=1e-6)


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_runner(tmp_path / "digits.tflite")
