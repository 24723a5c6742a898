"""Writes what training produces: the model (`.keras` and `.tflite`), `metrics.json` and plots."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import keras
import matplotlib
import numpy as np
import tensorflow as tf

from bot.runtime import LiteRTRunner
from model_training.architectures import INPUT_SHAPE
from model_training.evaluation import TestScores
from model_training.train import TrainingRun

matplotlib.use("Agg")  # files only, never a window
from matplotlib import pyplot

KERAS_FILE = "digits.keras"
TFLITE_FILE = "digits.tflite"
METRICS_FILE = "metrics.json"
CURVES_FILE = "learning_curves.png"
CONFUSION_FILE = "confusion_matrix.png"


def served_model(models: list[keras.Sequential], name: str) -> keras.Model:
    """The model the bot serves: the one model, or the mean of several models' answers as one model (one file, one
    call from the bot)."""
    if len(models) == 1:
        return models[0]
    for index, model in enumerate(models, start=1):
        model.name = f"{name}_{index}"
    inputs = keras.Input(shape=INPUT_SHAPE, name="digits")
    mean = keras.layers.Average(name="mean_probabilities")([model(inputs) for model in models])
    return keras.Model(inputs, mean, name=f"{name}_ensemble")


def export_model(model: keras.Model, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    keras_path, tflite_path = out / KERAS_FILE, out / TFLITE_FILE
    model.save(keras_path)
    model.export(str(tflite_path), format="litert", verbose=False)
    return keras_path, tflite_path


def tflite_agreement(tflite_path: Path, x_test: np.ndarray, keras_probabilities: np.ndarray) -> float:
    """Share of test digits on which the exported `.tflite` picks the same digit as Keras."""
    exported = LiteRTRunner(tflite_path).predict(x_test)
    return float((exported.argmax(axis=1) == keras_probabilities.argmax(axis=1)).mean())


def write_metrics(
    out: Path,
    *,
    arch: str,
    model: keras.Model,
    runs: list[TrainingRun],
    alone: list[float],
    scores: TestScores,
    calibration: dict[str, object] | None,
    corrections: dict[str, object] | None = None,
    agreement: float,
    batch_size: int,
    seed: int,
    data_source: str,
    data_sha256: str | None,
    files: list[Path],
) -> Path:
    run = runs[0]
    metrics = {
        "architecture": arch,
        "test_accuracy": round(scores.accuracy, 6),
        "test_loss": round(scores.loss, 6),
        "per_digit_accuracy": {str(digit): value for digit, value in enumerate(scores.per_digit_accuracy)},
        "confusion_matrix": scores.confusion_matrix,
        "parameter_count": int(model.count_params()),
        "epochs": run.epochs_run,
        "best_epoch": run.best_epoch,
        "batch_size": batch_size,
        "seed": seed,
        "train_examples": run.train_examples,
        "european_examples": run.european_examples,
        "posted_examples": run.posted_examples,
        "validation_examples": run.validation_examples,
        "validation_extra_examples": run.validation_extra_examples,
        "outlier_examples": run.outlier_examples,
        "pair_examples": run.pair_examples,
        "correction_examples": run.correction_examples,
        "validation_accuracy": _best_validation_accuracy(run),
        "members": [
            {
                "seed": member.seed,
                "test_accuracy": round(accuracy, 6),
                "best_epoch": member.best_epoch,
                "validation_accuracy": _best_validation_accuracy(member),
                "pair_examples": member.pair_examples,
                "skipped_examples": member.skipped_examples,
                "training_seconds": round(member.training_seconds, 1),
            }
            for member, accuracy in zip(runs, alone, strict=True)
        ],
        "calibration": calibration,
        "corrections": corrections,
        "training_seconds": round(sum(member.training_seconds for member in runs), 1),
        "preparation_seconds": round(sum(member.preparation_seconds for member in runs), 1),
        "tflite_agreement": agreement,
        "data": {"source": data_source, "sha256": data_sha256},
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "files": {path.name: path.stat().st_size for path in files},
    }
    path = out / METRICS_FILE
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return path


def _best_validation_accuracy(run: TrainingRun) -> float | None:
    if run.best_epoch is None:
        return None
    return round(run.history["val_accuracy"][run.best_epoch - 1], 6)


def plot_learning_curves(runs: list[TrainingRun], out: Path, title: str) -> Path:
    figure, (loss_axes, accuracy_axes) = pyplot.subplots(1, 2, figsize=(10, 4))
    for index, run in enumerate(runs, start=1):
        epochs = np.arange(1, run.epochs_run + 1)
        which = f"model {index}, " if len(runs) > 1 else ""
        for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
            axes.plot(epochs, run.history[metric], marker="o", label=f"{which}training")
            if f"val_{metric}" in run.history:
                axes.plot(epochs, run.history[f"val_{metric}"], marker="o", label=f"{which}validation")
        if run.best_epoch is not None:
            accuracy_axes.axvline(run.best_epoch, color="grey", linestyle="--", label=f"{which}epoch kept")
    for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
    loss_axes.legend()
    accuracy_axes.legend()
    figure.suptitle(title)
    return _saved(figure, out / CURVES_FILE)


def plot_confusion_matrix(scores: TestScores, out: Path, title: str) -> Path:
    confusion = np.array(scores.confusion_matrix)
    figure, axes = pyplot.subplots(figsize=(6.5, 6))
    axes.imshow(np.log1p(confusion), cmap="Blues")
    for true_digit in range(10):
        for predicted_digit in range(10):
            count = confusion[true_digit, predicted_digit]
            if count:
                dark = true_digit == predicted_digit
                axes.text(
                    predicted_digit,
                    true_digit,
                    str(count),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
    axes.set_xticks(range(10))
    axes.set_yticks(range(10))
    axes.set_xlabel("predicted digit")
    axes.set_ylabel("true digit")
    axes.set_title(title)
    return _saved(figure, out / CONFUSION_FILE)


def _saved(figure: pyplot.Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
