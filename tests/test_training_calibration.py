"""Temperature scaling: it recovers a known temperature, lowers the calibration error, and bakes into the model."""

from __future__ import annotations

import numpy as np
import pytest

from model_training.architectures import build_cnn
from model_training.calibration import (
    MOST_RIGHT_BUT_UNSURE,
    bake_temperature,
    calibrate,
    expected_calibration_error,
    fit_temperature,
    with_temperature,
)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def overconfident():
    """Answers drawn from calibrated probabilities, then reported as if at temperature 1/2.5: too sure."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 5.0, (20000, 10))
    labels = np.array([rng.choice(10, p=row) for row in _softmax(logits)])
    return _softmax(logits * 2.5), labels


def test_fitted_temperature_undoes_overconfidence(overconfident):
    probabilities, labels = overconfident
    assert fit_temperature(probabilities, labels) == pytest.approx(2.5, rel=0.05)


def test_calibration_lowers_the_error_and_picks_a_threshold_from_the_curve(overconfident):
    calibration = calibrate(*overconfident)
    assert calibration.error_after < calibration.error_before / 3
    picked = next(point for point in calibration.curve if point["threshold"] == calibration.confidence_threshold)
    assert picked["right_but_unsure"] <= MOST_RIGHT_BUT_UNSURE


def test_a_calibrated_model_has_no_calibration_error():
    probabilities = np.tile([[0.8, 0.2] + [0.0] * 8], (1000, 1))
    labels = np.array([0] * 800 + [1] * 200)
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0)


def test_baked_temperature_divides_the_models_logits():
    model = build_cnn()
    batch = np.random.default_rng(1).random((4, 28, 28, 1), dtype=np.float32)
    before = np.asarray(model(batch, training=False))
    bake_temperature(model, 2.0)
    after = np.asarray(model(batch, training=False))
    np.testing.assert_allclose(after, with_temperature(before, 2.0), atol=1e-5)
