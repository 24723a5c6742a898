"""Prints how often the bot reads the right digit: real photos, rendered chat pictures and MNIST saved as PNG files,
for bot.imaging and for the tutorial pipeline it replaced (`convert("L").resize((28, 28))`, nothing else).

    .venv/bin/python benchmarks/accuracy.py [--model models/digits.tflite] [--rendered 2400]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))  # run as a script: the tests' picture renderer lives beside bot/

from bot.errors import DigitBotError  # noqa: E402
from bot.imaging import ImageLimits, decode_picture, to_mnist_tensor  # noqa: E402
from bot.recognizer import Recognizer  # noqa: E402
from bot.settings import DEFAULT_MODEL_PATH  # noqa: E402
from model_training.chat_pictures import plain_png, real_photo_labels, rendered_examples  # noqa: E402
from model_training.data import MNIST_NPZ, REAL_PHOTOS  # noqa: E402

Example = tuple[str, int, bytes]  # (group, label, picture bytes)
Pipeline = Callable[[bytes], np.ndarray]  # picture bytes → (28, 28, 1) model input


def imaging_pipeline(data: bytes) -> np.ndarray:
    return to_mnist_tensor(decode_picture(data, ImageLimits()))


def tutorial_pipeline(data: bytes) -> np.ndarray:
    """What the bot started from: whatever the picture, squash it to 28×28 grey levels."""
    image = Image.open(io.BytesIO(data)).convert("L").resize((28, 28))
    return (np.asarray(image, dtype=np.float32) / 255.0)[:, :, np.newaxis]


def accuracy_by_group(recognizer: Recognizer, pipeline: Pipeline, examples: Iterable[Example]) -> dict[str, float]:
    """Share of right answers per group and over all ("all"); a picture the pipeline refuses counts as wrong."""
    right: dict[str, list[bool]] = defaultdict(list)
    tensors, places = [], []
    for group, label, data in examples:
        try:
            tensors.append(pipeline(data))
            places.append((group, label))
        except (DigitBotError, OSError, ValueError):  # the tutorial pipeline raises Pillow's own errors
            right[group].append(False)
    predicted = recognizer.predict_tensors(np.stack(tensors)).argmax(axis=1) if tensors else []
    for (group, label), digit in zip(places, predicted, strict=True):
        right[group].append(int(digit) == label)
    every = [answer for answers in right.values() for answer in answers]
    return {"all": float(np.mean(every))} | {group: float(np.mean(answers)) for group, answers in sorted(right.items())}


def report(title: str, recognizer: Recognizer, examples: list[Example]) -> None:
    print(f"\n{title} ({len(examples)} pictures)")
    print(f"  {'group':<24}{'imaging':>10}{'tutorial':>10}")
    started = time.perf_counter()
    ours = accuracy_by_group(recognizer, imaging_pipeline, examples)
    seconds = time.perf_counter() - started
    theirs = accuracy_by_group(recognizer, tutorial_pipeline, examples)
    for group, accuracy in ours.items():
        print(f"  {group:<24}{accuracy:>10.2%}{theirs[group]:>10.2%}")
    print(f"  ({seconds / len(examples) * 1000:.1f} ms per picture through bot.imaging)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--rendered", type=int, default=2400, help="MNIST test digits to render as chat pictures")
    arguments = parser.parse_args()
    recognizer = Recognizer(arguments.model)
    with np.load(MNIST_NPZ) as mnist:
        images, labels = mnist["x_test"], mnist["y_test"]

    model_accuracy = (
        recognizer.predict_tensors(images[:, :, :, np.newaxis] / np.float32(255)).argmax(1) == labels
    ).mean()
    print(f"model alone on the MNIST test split: {model_accuracy:.2%}")
    real = [(kind, label, path.read_bytes()) for path, label, kind in real_photo_labels(REAL_PHOTOS)]
    report(f"real photos, {REAL_PHOTOS}", recognizer, real)
    report(
        "MNIST test digits rendered as chat pictures", recognizer, rendered_examples(images, labels, arguments.rendered)
    )
    for inverted, name in ((False, "white on black"), (True, "black on white")):
        plain = [
            (name, int(label), plain_png(image, inverted=inverted)) for image, label in zip(images, labels, strict=True)
        ]
        report(f"MNIST test split as PNG files, {name}", recognizer, plain)


if __name__ == "__main__":
    main()
