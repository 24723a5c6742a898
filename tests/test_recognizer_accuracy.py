"""Bytes → digit through the shipped model: the accuracy we promise on real photos, chat pictures and MNIST PNGs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pytest

from bot.errors import DigitBotError
from bot.recognizer import Recognizer
from model_training.chat_pictures import plain_png, real_photo_labels, rendered_examples
from model_training.data import REAL_PHOTOS

RENDERED_PICTURES = 360  # 30 per style: every style, in under a minute
PLAIN_DIGITS = 2000  # the first 2000 MNIST test digits keep the test fast; benchmarks/accuracy.py runs all 10000


def right_answers(recognizer: Recognizer, pictures: Sequence[bytes], labels: Sequence[int]) -> np.ndarray:
    """Whether each picture read as its label; a picture refused with a DigitBotError counts as wrong."""
    results = zip(recognizer.read_many(pictures), labels, strict=True)
    return np.array([not isinstance(result, DigitBotError) and result.digit == label for result, label in results])


def by_group(groups: Sequence[str], right: np.ndarray) -> dict[str, float]:
    answers: dict[str, list[bool]] = defaultdict(list)
    for group, answer in zip(groups, right, strict=True):
        answers[group].append(bool(answer))
    return {group: round(float(np.mean(values)), 3) for group, values in sorted(answers.items())}


def test_real_photos_read_at_least_95_percent_right(recognizer):
    if not (REAL_PHOTOS / "labels.tsv").is_file():
        pytest.fail(f"the real photos are not at {REAL_PHOTOS}: set DIGIT_BOT_SHARED_DATA")
    photos = real_photo_labels(REAL_PHOTOS)
    right = right_answers(recognizer, [path.read_bytes() for path, _, _ in photos], [label for _, label, _ in photos])
    assert right.mean() >= 0.95, by_group([kind for _, _, kind in photos], right)


def test_rendered_chat_pictures_read_at_least_98_percent_right(recognizer, mnist_test_split):
    examples = rendered_examples(*mnist_test_split, RENDERED_PICTURES)
    right = right_answers(recognizer, [picture for _, _, picture in examples], [label for _, label, _ in examples])
    assert right.mean() >= 0.98, by_group([style for style, _, _ in examples], right)


@pytest.mark.parametrize("inverted", [False, True], ids=["white on black", "black on white"])
def test_mnist_saved_as_png_reads_as_well_as_the_model_alone(inverted, recognizer, mnist_test_split):
    images, labels = (array[:PLAIN_DIGITS] for array in mnist_test_split)
    model_alone = recognizer.predict_tensors(images[:, :, :, np.newaxis] / np.float32(255)).argmax(axis=1) == labels
    right = right_answers(recognizer, [plain_png(image, inverted=inverted) for image in images], labels)
    assert right.mean() >= model_alone.mean() - 0.002
