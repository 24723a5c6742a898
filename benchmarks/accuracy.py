"""Prints how often the bot reads the right digit on each single-digit set (real photos, European-style extras,
rendered chat pictures, MNIST saved as PNG files), its 1↔7 confusions, and how often it is wrong yet sure or right
yet unsure; then how often it reads a whole number exactly (real numbers, 4-digit numbers of MNIST test digits).

    .venv/bin/python benchmarks/accuracy.py [--model models/digits.tflite] [--threshold 0.7] [--rendered 2400]
                                            [--numbers 400] [--json build/accuracy.json]

Single digits go through the bot as it reads any picture (it may find several digits: that is a wrong answer); the
"digit" column is the single-digit framing alone, and "tutorial" the pipeline the bot started from
(`convert("L").resize((28, 28))`, nothing else).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))  # run as a script: the tests' picture renderer lives beside bot/

from bot.errors import DigitBotError  # noqa: E402
from bot.imaging import ImageLimits, decode_picture, to_mnist_tensor  # noqa: E402
from bot.recognizer import Prediction, Recognizer  # noqa: E402
from bot.settings import DEFAULT_MODEL_PATH, Settings  # noqa: E402
from model_training.chat_pictures import plain_png, real_photo_labels, rendered_examples  # noqa: E402
from model_training.data import MNIST_NPZ, REAL_PHOTOS, SHARED_DATA  # noqa: E402
from model_training.number_pictures import generated_numbers  # noqa: E402

REAL_PHOTOS_EXTRA = SHARED_DATA / "real-photos-extra"
REAL_NUMBERS = SHARED_DATA / "real-numbers"
BATCH = 32  # pictures per read_many, as a busy chat hands them over
NumberExample = tuple[str, str, bytes, str]  # (group, digits written, picture bytes, name)
Example = tuple[str, int, bytes]  # (group, label, picture bytes)
Pipeline = Callable[[bytes], np.ndarray]  # picture bytes → (28, 28, 1) model input


def imaging_pipeline(data: bytes) -> np.ndarray:
    return to_mnist_tensor(decode_picture(data, ImageLimits()))


def tutorial_pipeline(data: bytes) -> np.ndarray:
    """What the bot started from: whatever the picture, squash it to 28×28 grey levels."""
    image = Image.open(io.BytesIO(data)).convert("L").resize((28, 28))
    return (np.asarray(image, dtype=np.float32) / 255.0)[:, :, np.newaxis]


@dataclass(frozen=True)
class Answers:
    """One row per picture: its group, label, the digit answered (-1: refused) and the confidence (0 if refused)."""

    groups: list[str]
    labels: np.ndarray
    digits: np.ndarray
    confidences: np.ndarray


@dataclass(frozen=True)
class Scores:
    pictures: int
    accuracy: float
    by_group: dict[str, float]
    ones_read_as_seven: str  # "k of n" true 1s answered 7
    sevens_read_as_one: str
    wrong_and_sure: float  # share of all pictures
    right_but_unsure: float  # share of all pictures


def read_by_bot(recognizer: Recognizer, examples: list[Example]) -> Answers:
    """Every picture read as the bot reads it; several digits found (-2) or a picture refused (-1) are wrong."""
    digits = np.full(len(examples), -1)
    confidences = np.zeros(len(examples))
    for start in range(0, len(examples), BATCH):
        results = recognizer.read_many([data for _, _, data in examples[start : start + BATCH]])
        for index, result in enumerate(results, start):
            if isinstance(result, Prediction):
                digits[index] = result.digit if result.digit is not None else -2
                confidences[index] = result.confidence
    return Answers(
        [group for group, _, _ in examples], np.array([label for _, label, _ in examples]), digits, confidences
    )


def read_all(recognizer: Recognizer, pipeline: Pipeline, examples: list[Example]) -> Answers:
    """Every picture through `pipeline` and the model; a picture the pipeline refuses is answered -1, unsure."""
    digits = np.full(len(examples), -1)
    confidences = np.zeros(len(examples))
    tensors, places = [], []
    for index, (_, _, data) in enumerate(examples):
        try:
            tensors.append(pipeline(data))
            places.append(index)
        except (DigitBotError, OSError, ValueError):  # the tutorial pipeline raises Pillow's own errors
            continue
    if tensors:
        probabilities = recognizer.predict_tensors(np.stack(tensors))
        digits[places] = probabilities.argmax(axis=1)
        confidences[places] = probabilities.max(axis=1)
    return Answers(
        [group for group, _, _ in examples], np.array([label for _, label, _ in examples]), digits, confidences
    )


def score(answers: Answers, threshold: float) -> Scores:
    right = answers.digits == answers.labels
    sure = answers.confidences >= threshold
    by_group: dict[str, list[bool]] = defaultdict(list)
    for group, answer in zip(answers.groups, right, strict=True):
        by_group[group].append(bool(answer))

    def confused(true_digit: int, answered: int) -> str:
        written = answers.labels == true_digit
        return f"{int((answers.digits[written] == answered).sum())} of {int(written.sum())}"

    return Scores(
        pictures=len(right),
        accuracy=float(right.mean()),
        by_group={group: float(np.mean(values)) for group, values in sorted(by_group.items())},
        ones_read_as_seven=confused(1, 7),
        sevens_read_as_one=confused(7, 1),
        wrong_and_sure=float((~right & sure).mean()),
        right_but_unsure=float((right & ~sure).mean()),
    )


def report(title: str, recognizer: Recognizer, examples: list[Example], threshold: float) -> Scores:
    started = time.perf_counter()
    ours = score(read_by_bot(recognizer, examples), threshold)
    seconds = time.perf_counter() - started
    framed = score(read_all(recognizer, imaging_pipeline, examples), threshold)
    theirs = score(read_all(recognizer, tutorial_pipeline, examples), threshold)
    print(f"\n{title} ({len(examples)} pictures, {seconds / len(examples) * 1000:.1f} ms each read by the bot)")
    print(f"  {'group':<24}{'bot':>10}{'digit':>10}{'tutorial':>10}")
    for group, accuracy in {"all": ours.accuracy, **ours.by_group}.items():
        digit_only = framed.by_group.get(group, framed.accuracy)
        print(f"  {group:<24}{accuracy:>10.2%}{digit_only:>10.2%}{theirs.by_group.get(group, theirs.accuracy):>10.2%}")
    print(
        f"  1 read as 7: {ours.ones_read_as_seven}; 7 read as 1: {ours.sevens_read_as_one}; "
        f"wrong yet sure: {ours.wrong_and_sure:.2%}; right yet unsure: {ours.right_but_unsure:.2%} "
        f"(threshold {threshold:g})"
    )
    return ours


@dataclass(frozen=True)
class NumberScores:
    pictures: int
    exact: float  # share of pictures whose every digit was read, and no more
    by_group: dict[str, float]
    wrong_and_sure: float  # share of all pictures
    right_but_unsure: float
    ms_per_picture: float
    misses: list[str]  # "name: written -> read (confidence)"


def read_numbers(recognizer: Recognizer, examples: list[NumberExample], threshold: float) -> NumberScores:
    started = time.perf_counter()
    right, sure, misses = [], [], []
    by_group: dict[str, list[bool]] = defaultdict(list)
    for start in range(0, len(examples), BATCH):
        batch = examples[start : start + BATCH]
        for (group, written, _, name), result in zip(batch, recognizer.read_many([e[2] for e in batch]), strict=True):
            read = result.number if isinstance(result, Prediction) else type(result).__name__
            confidence = result.confidence if isinstance(result, Prediction) else 0.0
            right.append(read == written)
            sure.append(confidence >= threshold)
            by_group[group].append(read == written)
            if read != written:
                misses.append(f"{name}: {written} -> {read} ({confidence:.0%}{', sure' if sure[-1] else ''})")
    seconds = time.perf_counter() - started
    right_array, sure_array = np.array(right), np.array(sure)
    return NumberScores(
        pictures=len(examples),
        exact=float(right_array.mean()),
        by_group={group: float(np.mean(values)) for group, values in sorted(by_group.items())},
        wrong_and_sure=float((~right_array & sure_array).mean()),
        right_but_unsure=float((right_array & ~sure_array).mean()),
        ms_per_picture=seconds / len(examples) * 1000,
        misses=misses,
    )


def report_numbers(title: str, recognizer: Recognizer, examples: list[NumberExample], threshold: float) -> NumberScores:
    scores = read_numbers(recognizer, examples, threshold)
    print(f"\n{title} ({scores.pictures} pictures, {scores.ms_per_picture:.1f} ms each read by the bot)")
    print(f"  {'group':<24}{'exact':>10}")
    for group, exact in {"all": scores.exact, **scores.by_group}.items():
        print(f"  {group:<24}{exact:>10.2%}")
    print(
        f"  wrong yet sure: {scores.wrong_and_sure:.2%}; right yet unsure: {scores.right_but_unsure:.2%} "
        f"(threshold {threshold:g})"
    )
    for miss in scores.misses[:20]:
        print(f"    missed {miss}")
    return scores


def real_number_examples(folder: Path) -> list[NumberExample]:
    """The labels are digit strings: read as text, so that 092's leading zero stays."""
    with (folder / "labels.tsv").open(newline="") as table:
        rows = list(csv.DictReader(table, delimiter="\t"))
    return [(row["kind"], row["label"], (folder / row["file"]).read_bytes(), row["file"]) for row in rows]


def photo_examples(folder: Path) -> list[Example]:
    return [(kind, label, path.read_bytes()) for path, label, kind in real_photo_labels(folder)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument(
        "--threshold", type=float, default=Settings().confidence_threshold, help="sure at or above this confidence"
    )
    parser.add_argument("--rendered", type=int, default=2400, help="MNIST test digits to render as chat pictures")
    parser.add_argument("--numbers", type=int, default=400, help="4-digit numbers of MNIST test digits to render")
    parser.add_argument("--json", type=Path, help="also write every set's scores to this file")
    arguments = parser.parse_args()
    recognizer = Recognizer(arguments.model)
    with np.load(MNIST_NPZ) as mnist:
        images, labels = mnist["x_test"], mnist["y_test"]

    model_accuracy = (
        recognizer.predict_tensors(images[:, :, :, np.newaxis] / np.float32(255)).argmax(1) == labels
    ).mean()
    print(f"model alone on the MNIST test split: {model_accuracy:.2%}")
    sets = {
        "real-photos": (f"real photos, {REAL_PHOTOS}", photo_examples(REAL_PHOTOS)),
        "real-photos-extra": (
            f"European-style 1s and crossed 7s, {REAL_PHOTOS_EXTRA}",
            photo_examples(REAL_PHOTOS_EXTRA),
        ),
        "chat-renders": (
            "MNIST test digits rendered as chat pictures",
            rendered_examples(images, labels, arguments.rendered),
        ),
    }
    for inverted, name in ((False, "white on black"), (True, "black on white")):
        plain = [
            (name, int(label), plain_png(image, inverted=inverted)) for image, label in zip(images, labels, strict=True)
        ]
        sets[f"mnist-png-{name.replace(' ', '-')}"] = (f"MNIST test split as PNG files, {name}", plain)
    scores = {key: report(title, recognizer, examples, arguments.threshold) for key, (title, examples) in sets.items()}

    real = [scores["real-photos"], scores["real-photos-extra"]]
    pictures = sum(set_scores.pictures for set_scores in real)
    for name in ("wrong_and_sure", "right_but_unsure"):
        share = sum(getattr(set_scores, name) * set_scores.pictures for set_scores in real) / pictures
        print(f"\nall {pictures} real pictures, {name.replace('_', ' ')}: {share:.2%}", end="")
    print()
    number_scores = {
        "real-numbers": report_numbers(
            f"real numbers, {REAL_NUMBERS}", recognizer, real_number_examples(REAL_NUMBERS), arguments.threshold
        ),
        "generated-numbers": report_numbers(
            "4-digit numbers of MNIST test digits rendered as chat pictures",
            recognizer,
            [
                (style, written, picture, f"#{index} {style}")
                for index, (style, written, picture) in enumerate(generated_numbers(images, labels, arguments.numbers))
            ],
            arguments.threshold,
        ),
    }
    if arguments.json:
        arguments.json.parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "model": str(arguments.model),
            "threshold": arguments.threshold,
            "mnist_model_alone": float(model_accuracy),
        }
        every_set = {key: asdict(value) for key, value in (scores | number_scores).items()}
        arguments.json.write_text(json.dumps(summary | every_set, indent=2))


if __name__ == "__main__":
    main()
