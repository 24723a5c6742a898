"""Scores a trained model on the MNIST test split."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np


@dataclass(frozen=True)
class TestScores:
    accuracy: float
    loss: float
    per_digit_accuracy: list[float]  # index = digit
    confusion_matrix: list[list[int]]  # [true digit][predicted digit]
    probabilities: np.ndarray  # (N, 10), kept to compare the exported model against


def evaluate(model: keras.Model, x_test: np.ndarray, y_test: np.ndarray) -> TestScores:
    probabilities = model.predict(x_test, batch_size=1000, verbose=0)
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y_test, predicted), 1)
    picked = probabilities[np.arange(len(y_test)), y_test]
    loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
    per_digit = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return TestScores(
        accuracy=float((predicted == y_test).mean()),
        loss=loss,
        per_digit_accuracy=[round(float(value), 6) for value in per_digit],
        confusion_matrix=confusion.tolist(),
        probabilities=probabilities,
    )
