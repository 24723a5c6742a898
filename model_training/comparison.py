"""Before and after training on users' corrections: the model replaced and the new one, each measured as the bot runs
it on the MNIST test split and on the real photos (pictures measured on, never trained on)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.errors import DigitBotError
from bot.imaging import ImageLimits, decode_picture, to_mnist_tensor
from bot.runtime import load_runner
from bot.settings import DEFAULT_MODEL_PATH
from model_training.artifacts import TFLITE_FILE
from model_training.chat_pictures import real_photo_labels
from model_training.corrections import CorrectedDigits
from model_training.data import REAL_PHOTOS, REAL_PHOTOS_EXTRA, file_sha256

PHOTO_SETS = {"real-photos": REAL_PHOTOS, "real-photos-extra": REAL_PHOTOS_EXTRA}


@dataclass(frozen=True)
class MeasuringSet:
    tensors: np.ndarray  # float32 (N, 28, 28, 1): the pictures the bot reads, as model inputs
    labels: np.ndarray  # (N,)
    pictures: int  # N and the pictures the bot refuses, which count as wrong answers


def measuring_sets(x_test: np.ndarray, y_test: np.ndarray) -> dict[str, MeasuringSet]:
    """The MNIST test split, and each set of real photos that is there (a fresh clone may lack the shared data)."""
    sets = {"mnist-test": MeasuringSet(x_test, y_test, len(y_test))}
    for name, folder in PHOTO_SETS.items():
        if (folder / "labels.tsv").is_file():
            sets[name] = photo_set(folder)
    return sets


def photo_set(folder: Path) -> MeasuringSet:
    """The pictures listed in `folder`'s labels.tsv, read as the bot reads a posted picture."""
    listed = real_photo_labels(folder)
    tensors, labels = [], []
    for path, label, _ in listed:
        try:
            tensors.append(to_mnist_tensor(decode_picture(path.read_bytes(), ImageLimits())))
        except DigitBotError:
            continue
        labels.append(label)
    if not tensors:
        return MeasuringSet(np.zeros((0, 28, 28, 1), np.float32), np.zeros(0, np.uint8), len(listed))
    return MeasuringSet(np.stack(tensors), np.array(labels), len(listed))


def model_scores(model_path: Path, sets: dict[str, MeasuringSet]) -> dict[str, object]:
    """The model file, its hash, and the share of each set's pictures it reads right."""
    runner = load_runner(model_path)
    accuracy = {}
    for name, measured in sets.items():
        right = (
            int((runner.predict(measured.tensors).argmax(axis=1) == measured.labels).sum())
            if measured.labels.size
            else 0
        )
        accuracy[name] = round(right / max(measured.pictures, 1), 6)
    return {"model": str(model_path), "sha256": file_sha256(model_path), "accuracy": accuracy}


def replaced_model_scores(out: Path, sets: dict[str, MeasuringSet]) -> dict[str, object] | None:
    """Scores of the model the new one replaces: the one in `out`, else the shipped one; None when there is neither."""
    for path in (out / TFLITE_FILE, DEFAULT_MODEL_PATH):
        if path.is_file():
            return model_scores(path, sets)
    return None


def corrections_report(
    corrections: CorrectedDigits, before: dict[str, object] | None, after: dict[str, object]
) -> dict[str, object]:
    """metrics.json's "corrections": what was trained on, and the model replaced and the new one side by side."""
    return {**corrections.summary(), "before": before, "after": after}


def format_comparison(report: dict[str, object]) -> str:
    """The report as a few lines for the terminal: one row per set, the model replaced and the new one."""
    lines = [
        f"corrections: {report['digits']} digits of {report['answers']} corrected answers, each trained on "
        f"{report['weight']} times an epoch ({report['skipped']} answers skipped: their digits do not match "
        "the verdict's)"
    ]
    before, after = report["before"], report["after"]
    lines.append(f"  {'set':<20}{'before':>10}{'after':>10}")
    for name, accuracy in after["accuracy"].items():
        replaced = f"{before['accuracy'][name]:.2%}" if before else "-"
        lines.append(f"  {name:<20}{replaced:>10}{accuracy:>10.2%}")
    replaced = f"{before['model']} (sha256 {before['sha256'][:16]})" if before else "no model to replace"
    lines.append(f"  before: {replaced}; after: {after['model']} (sha256 {after['sha256'][:16]})")
    return "\n".join(lines)
