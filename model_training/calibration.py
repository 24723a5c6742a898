"""Making confidence mean something: temperature scaling fitted on held-out digits, its calibration error before and
after, and the confidence threshold below which the bot says it is unsure, picked from the same held-out curve."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 401))  # steps of under 1%: finer changes nothing
CALIBRATION_BINS = 15
THRESHOLDS = np.round(np.arange(0.3, 0.951, 0.05), 2)
# The threshold doubts as many wrong answers as it can while at most this share of held-out answers are right but
# unsure: half the budget of 3% for real pictures, which are harder than held-out digits.
MOST_RIGHT_BUT_UNSURE = 0.015


@dataclass(frozen=True)
class Calibration:
    temperature: float
    confidence_threshold: float
    error_before: float  # expected calibration error of the held-out answers, as trained
    error_after: float  # ... with the temperature
    curve: list[dict[str, float]]  # per threshold: the shares of held-out answers wrong-and-sure, right-but-unsure


def calibrate_models(
    members: list[tuple[keras.Sequential, tuple[np.ndarray, np.ndarray]]],
    served: keras.Model,
    x_test: np.ndarray,
    y_test: np.ndarray,
) -> dict[str, object]:
    """Fit each model's temperature on its own held-out digits and bake it in; then describe what is `served` (the
    mean of the models' answers, or the one model) on the first one's held-out digits, for metrics.json: its
    calibration error before and after, and the threshold picked from its curve."""
    x_validation, y_validation = members[0][1]
    before = _mean_answers([model for model, _ in members], x_validation)
    test_before = _mean_answers([model for model, _ in members], x_test)
    temperatures = []
    for model, (x_held_out, y_held_out) in members:
        temperature = fit_temperature(model.predict(x_held_out, batch_size=1000, verbose=0), y_held_out)
        bake_temperature(model, temperature)
        temperatures.append(round(temperature, 4))
    after = served.predict(x_validation, batch_size=1000, verbose=0)
    test_after = served.predict(x_test, batch_size=1000, verbose=0)
    curve = threshold_curve(after, y_validation)
    return {
        "temperatures": temperatures,
        "confidence_threshold": _threshold(curve),
        "threshold_rule": f"the highest that leaves at most {MOST_RIGHT_BUT_UNSURE:.1%} of held-out answers "
        "right but unsure",
        "expected_calibration_error": {
            "validation": {
                "before": round(expected_calibration_error(before, y_validation), 5),
                "after": round(expected_calibration_error(after, y_validation), 5),
            },
            "mnist_test": {
                "before": round(expected_calibration_error(test_before, y_test), 5),
                "after": round(expected_calibration_error(test_after, y_test), 5),
            },
        },
        "validation_curve": curve,
    }


def _mean_answers(models: list[keras.Sequential], x: np.ndarray) -> np.ndarray:
    return np.mean([model.predict(x, batch_size=1000, verbose=0) for model in models], axis=0)


def _threshold(curve: list[dict[str, float]]) -> float:
    allowed = [point for point in curve if point["right_but_unsure"] <= MOST_RIGHT_BUT_UNSURE]
    return max(allowed, key=lambda point: point["threshold"])["threshold"] if allowed else float(THRESHOLDS[0])


def calibrate(probabilities: np.ndarray, labels: np.ndarray) -> Calibration:
    """The temperature that best explains held-out answers, and the threshold picked from their curve after it."""
    temperature = fit_temperature(probabilities, labels)
    scaled = with_temperature(probabilities, temperature)
    curve = threshold_curve(scaled, labels)
    return Calibration(
        temperature=round(temperature, 4),
        confidence_threshold=_threshold(curve),
        error_before=round(expected_calibration_error(probabilities, labels), 5),
        error_after=round(expected_calibration_error(scaled, labels), 5),
        curve=curve,
    )


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T) on the held-out answers."""
    log_probabilities = np.log(np.clip(probabilities, 1e-12, 1.0))
    losses = [_negative_log_likelihood(log_probabilities / temperature, labels) for temperature in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T), from the probabilities alone: log-probabilities are the logits up to a constant."""
    scaled = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exponentials = np.exp(scaled)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """How far confidence is from accuracy, averaged over equal-width confidence bins weighted by their answers."""
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    bin_of = np.minimum((confidence * bins).astype(int), bins - 1)
    gaps = [
        abs(confidence[bin_of == index].mean() - right[bin_of == index].mean()) * np.mean(bin_of == index)
        for index in range(bins)
        if np.any(bin_of == index)
    ]
    return float(np.sum(gaps))


def threshold_curve(probabilities: np.ndarray, labels: np.ndarray) -> list[dict[str, float]]:
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    return [
        {
            "threshold": float(threshold),
            "wrong_and_sure": round(float(np.mean(~right & (confidence >= threshold))), 5),
            "right_but_unsure": round(float(np.mean(right & (confidence < threshold))), 5),
        }
        for threshold in THRESHOLDS
    ]


def bake_temperature(model: keras.Sequential, temperature: float) -> None:
    """Divide the logits by T inside the model: the last Dense layer's weights and bias, so serving needs no change."""
    last = model.layers[-1]
    if not isinstance(last, keras.layers.Dense) or last.activation is not keras.activations.softmax:
        raise ValueError(f"{model.name} does not end in a softmax Dense layer; its logits cannot be rescaled")
    last.set_weights([weights / temperature for weights in last.get_weights()])


def _negative_log_likelihood(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_normaliser = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_normaliser - shifted[np.arange(len(labels)), labels]))
