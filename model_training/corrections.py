"""Users' corrections as training examples: each digit the bot read wrong, labelled by the user's verdict, and
trained on several times per epoch, so a few hundred real pictures count beside 60,000 MNIST digits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from model_training.data import to_model_input

if TYPE_CHECKING:
    from bot.feedback.store import Correction

# Copies of each corrected digit per epoch. Repeated rather than given a sample weight: each copy lands in its own
# batch and gets its own random distortion, so the model learns the digit's shape, not one exact pattern of pixels,
# and no single batch takes a gradient several times the size of the others. 5 lets 200 corrections of one kind
# count as 1,000 digits beside MNIST's ~5,400 per class: enough to move that class's boundary, too few for a handful
# of mistaken (or mischievous) verdicts to outweigh a class.
DEFAULT_WEIGHT = 5


class CorrectionsError(Exception):
    """The corrections could not be read, or none can be trained on; the message says why."""


@dataclass(frozen=True)
class CorrectedDigits:
    images: np.ndarray  # uint8 (N, 28, 28), model inputs as the bot framed them, white ink on black
    labels: np.ndarray  # uint8 (N,), the user's digits
    weight: int  # copies of each per epoch
    answers: int  # corrected answers they come from
    skipped: int  # corrected answers left out: their digits do not match the verdict's, one for one
    by_model: dict[str, int] = field(default_factory=dict)  # corrected answers per model (file hash) that gave them

    def training_tensors(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 (N × weight, 28, 28, 1) model inputs, each digit `weight` times, and their labels."""
        return np.repeat(to_model_input(self.images), self.weight, axis=0), np.repeat(self.labels, self.weight)

    def summary(self) -> dict[str, object]:
        return {
            "answers": self.answers,
            "digits": len(self.labels),
            "skipped": self.skipped,
            "weight": self.weight,
            "training_examples": len(self.labels) * self.weight,
            "by_model": dict(sorted(self.by_model.items())),
        }


def labelled_digits(
    digits: Iterable[tuple[np.ndarray, int]],
    weight: int = DEFAULT_WEIGHT,
    *,
    answers: int | None = None,
    skipped: int = 0,
    by_model: dict[str, int] | None = None,
) -> CorrectedDigits:
    """(uint8 (28, 28) model input, its right digit) pairs as training examples, each trained on `weight` times."""
    if weight < 1:
        raise ValueError(f"the weight of a correction must be at least 1, not {weight}")
    images, labels = [], []
    for image, label in digits:
        image = np.asarray(image)
        if image.shape != (28, 28) or image.dtype != np.uint8:
            raise CorrectionsError(f"a corrected digit is {image.dtype} {image.shape}, not a uint8 28×28 model input")
        if not 0 <= int(label) <= 9:
            raise CorrectionsError(f"a corrected digit is labelled {label}, not 0-9")
        images.append(image)
        labels.append(int(label))
    return CorrectedDigits(
        images=np.stack(images) if images else np.zeros((0, 28, 28), np.uint8),
        labels=np.array(labels, dtype=np.uint8),
        weight=weight,
        answers=len(labels) if answers is None else answers,
        skipped=skipped,
        by_model=by_model or {},
    )


def corrected_digits(corrections: Iterable[Correction], weight: int = DEFAULT_WEIGHT) -> CorrectedDigits:
    """The digits of every answer a user corrected, each labelled by the verdict's digit in its place.

    A verdict of another length than the digits the bot read (it split or merged digits, or missed one) says nothing
    about each digit, so that answer is skipped.
    """
    digits: list[tuple[np.ndarray, int]] = []
    answers = skipped = 0
    by_model: Counter[str] = Counter()
    for correction in corrections:
        labelled = correction.labelled_inputs
        if not labelled:
            skipped += 1
            continue
        answers += 1
        by_model[correction.model] += 1
        digits.extend(labelled)
    return labelled_digits(digits, weight, answers=answers, skipped=skipped, by_model=dict(by_model))


def read_corrections(database_url: str, weight: int = DEFAULT_WEIGHT) -> CorrectedDigits:
    """Every corrected answer in the feedback database at `database_url`, as training examples."""
    from bot.errors import StorageError
    from bot.feedback.corrections import open_existing_store

    try:
        store = open_existing_store(database_url)
        try:
            return corrected_digits(store.corrections(), weight)
        finally:
            store.close()
    except StorageError as error:
        raise CorrectionsError(str(error)) from error
