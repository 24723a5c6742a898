"""Picture bytes → the digit on it: decoding, MNIST-style preprocessing and the model, loaded once."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.errors import DigitBotError
from bot.imaging import ImageLimits, decode_picture, to_mnist_tensor
from bot.runtime import ModelRunner, load_runner
from bot.settings import Settings

TOP_GUESSES = 3


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent on each step of reading one picture."""

    decode_ms: float
    preprocess_ms: float
    inference_ms: float

    @property
    def total_ms(self) -> float:
        return self.decode_ms + self.preprocess_ms + self.inference_ms


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float  # the model's probability for `digit`, 0-1
    top: tuple[tuple[int, float], ...]  # the best guesses, most likely first
    is_sure: bool  # confidence reached the configured threshold
    model_input: np.ndarray  # the (28, 28) float32 picture the model saw, white ink on black
    timings: Timings

    @property
    def number(self) -> str:
        """The digits read, left to right, as a string ("7"; "2024" for a number): what a user's verdict corrects."""
        return str(self.digit)

    @property
    def model_inputs(self) -> tuple[np.ndarray, ...]:
        """What the model saw for each digit, left to right: (28, 28) float32 pictures, white ink on black."""
        return (self.model_input,)


class Recognizer:
    """Reads digits from picture bytes. Load it once; `read` and `read_many` are safe from any thread."""

    def __init__(
        self,
        model_path: Path,
        *,
        confidence_threshold: float = Settings.confidence_threshold,
        limits: ImageLimits | None = None,
        runner: ModelRunner | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.confidence_threshold = confidence_threshold
        self.limits = limits or ImageLimits()
        self._runner = runner or load_runner(self.model_path)

    @classmethod
    def from_settings(cls, settings: Settings) -> Recognizer:
        return cls(
            settings.model_path,
            confidence_threshold=settings.confidence_threshold,
            limits=ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels),
        )

    def read(self, data: bytes) -> Prediction:
        """The digit on one picture; raises a DigitBotError subclass for anything we cannot read."""
        result = self.read_many([data])[0]
        if isinstance(result, DigitBotError):
            try:
                raise result
            finally:
                del result  # this frame, in the error's traceback, must not refer back to the error: a cycle
        return result

    def read_many(self, pictures: Sequence[bytes]) -> list[Prediction | DigitBotError]:
        """One result per picture, in order: a Prediction, or the DigitBotError that explains why not.

        Every picture that decodes goes to the model in a single batch.
        """
        results: list[Prediction | DigitBotError | None] = [None] * len(pictures)
        tensors, prepared = [], []
        for index, data in enumerate(pictures):
            try:
                started = time.perf_counter()
                image = decode_picture(data, self.limits)
                decoded = time.perf_counter()
                tensor = to_mnist_tensor(image)
                preprocessed = time.perf_counter()
            except DigitBotError as error:
                results[index] = _without_frames(error)
                continue
            tensors.append(tensor)
            prepared.append((index, (decoded - started) * 1000, (preprocessed - decoded) * 1000))
        if tensors:
            started = time.perf_counter()
            probabilities = self._runner.predict(np.stack(tensors))
            inference_ms = (time.perf_counter() - started) * 1000 / len(tensors)
            for (index, decode_ms, preprocess_ms), tensor, row in zip(prepared, tensors, probabilities, strict=True):
                results[index] = self._prediction(tensor, row, Timings(decode_ms, preprocess_ms, inference_ms))
        return results

    def predict_tensors(self, tensors: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for MNIST-style tensors (N, 28, 28, 1): the model alone, for evaluation."""
        return self._runner.predict(tensors)

    def _prediction(self, tensor: np.ndarray, probabilities: np.ndarray, timings: Timings) -> Prediction:
        order = np.argsort(probabilities)[::-1][:TOP_GUESSES]
        top = tuple((int(digit), float(probabilities[digit])) for digit in order)
        digit, confidence = top[0]
        return Prediction(
            digit=digit,
            confidence=confidence,
            top=top,
            is_sure=confidence >= self.confidence_threshold,
            model_input=tensor[:, :, 0],
            timings=timings,
        )


def _without_frames(error: DigitBotError) -> DigitBotError:
    """The error alone, to be kept as a result. Its traceback holds this module's frames, whose locals hold the
    results (a cycle, freed only by a full garbage collection) and the picture's bytes; the Pillow error it came
    from holds Pillow's frames and the half-read picture."""
    error.__cause__ = error.__context__ = None
    return error.with_traceback(None)
