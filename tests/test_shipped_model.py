"""The model committed in models/ is the one the bot serves: it must keep its promised accuracy."""

from __future__ import annotations

import json

from bot.runtime import LiteRTRunner
from model_training.data import to_model_input


def test_shipped_model_scores_at_least_99_5_percent_on_the_mnist_test_split(shipped_model_path, mnist_test_split):
    images, labels = mnist_test_split
    probabilities = LiteRTRunner(shipped_model_path).predict(to_model_input(images))
    accuracy = (probabilities.argmax(axis=1) == labels).mean()
    assert accuracy >= 0.995


def test_shipped_metrics_describe_the_shipped_model(shipped_model_path):
    metrics = json.loads((shipped_model_path.parent / "metrics.json").read_text())
    assert metrics["architecture"] == "cnn"
    assert metrics["test_accuracy"] >= 0.995
    assert metrics["tflite_agreement"] >= 0.9999
    assert metrics["files"][shipped_model_path.name] == shipped_model_path.stat().st_size
