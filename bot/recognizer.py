"""Picture bytes → the digit on it: decoding, MNIST-style preprocessing and the model, loaded once."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.errors import DigitBotError, NotOneNumber
from bot.imaging import MAX_DIGITS, ImageLimits, NumberInk, decode_picture, to_number_tensors
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
class DigitReading:
    """One digit of a number as the model read it."""

    digit: int
    confidence: float  # the model's probability for `digit`, 0-1
    top: tuple[tuple[int, float], ...]  # the best guesses, most likely first
    is_sure: bool  # confidence reached the configured threshold
    model_input: np.ndarray  # the (28, 28) float32 picture the model saw, white ink on black


@dataclass(frozen=True)
class Prediction:
    """A picture's number, digit by digit, left to right (one digit for a picture of a single digit)."""

    digits: tuple[DigitReading, ...]
    confidence: float  # that every digit is right: the product of theirs, so never above the least sure digit's
    is_sure: bool  # confidence reached the configured threshold
    timings: Timings

    @property
    def number(self) -> str:
        """The digits read, left to right, as a string ("7"; "2024" for a number): what a user's verdict corrects."""
        return "".join(str(reading.digit) for reading in self.digits)

    @property
    def model_inputs(self) -> tuple[np.ndarray, ...]:
        """What the model saw for each digit, left to right: (28, 28) float32 pictures, white ink on black."""
        return tuple(reading.model_input for reading in self.digits)

    @property
    def digit(self) -> int | None:
        """The digit of a picture of a single digit; None when the picture holds several."""
        return self.digits[0].digit if len(self.digits) == 1 else None

    @property
    def top(self) -> tuple[tuple[int, float], ...]:
        """A single digit's best guesses, most likely first; none for a number of several digits."""
        return self.digits[0].top if len(self.digits) == 1 else ()


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

        Every digit of every picture that decodes goes to the model in a single batch, with each way of cutting
        touching digits apart; the reading the model is surest of wins.
        """
        results: list[Prediction | DigitBotError | None] = [None] * len(pictures)
        prepared: list[tuple[int, NumberInk, float, float]] = []
        for index, data in enumerate(pictures):
            try:
                started = time.perf_counter()
                image = decode_picture(data, self.limits)
                decoded = time.perf_counter()
                number = to_number_tensors(image)
                preprocessed = time.perf_counter()
            except DigitBotError as error:
                results[index] = _without_frames(error)
                continue
            prepared.append((index, number, (decoded - started) * 1000, (preprocessed - decoded) * 1000))
        tensors = [tensor for _, number, _, _ in prepared for tensor in number.segments.values()]
        if tensors:
            started = time.perf_counter()
            probabilities = iter(self._runner.predict(np.stack(tensors)))
            inference_ms = (time.perf_counter() - started) * 1000 / len(prepared)
            for index, number, decode_ms, preprocess_ms in prepared:
                segments = {
                    places: self._digit_reading(tensor, next(probabilities))
                    for places, tensor in number.segments.items()
                }
                digits = _likeliest_digits(number, segments)
                timings = Timings(decode_ms, preprocess_ms, inference_ms)
                results[index] = (
                    NotOneNumber(f"{len(digits)} digits, more than {MAX_DIGITS}")
                    if len(digits) > MAX_DIGITS
                    else self._prediction(digits, timings)
                )
        return results

    def predict_tensors(self, tensors: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for MNIST-style tensors (N, 28, 28, 1): the model alone, for evaluation."""
        return self._runner.predict(tensors)

    def _digit_reading(self, tensor: np.ndarray, probabilities: np.ndarray) -> DigitReading:
        order = np.argsort(probabilities)[::-1][:TOP_GUESSES]
        top = tuple((int(digit), float(probabilities[digit])) for digit in order)
        digit, confidence = top[0]
        return DigitReading(
            digit=digit,
            confidence=confidence,
            top=top,
            is_sure=confidence >= self.confidence_threshold,
            model_input=tensor[:, :, 0],
        )

    def _prediction(self, digits: tuple[DigitReading, ...], timings: Timings) -> Prediction:
        confidence = float(np.prod([reading.confidence for reading in digits]))
        return Prediction(
            digits=digits, confidence=confidence, is_sure=confidence >= self.confidence_threshold, timings=timings
        )


def _likeliest_digits(number: NumberInk, segments: dict[tuple[int, int], DigitReading]) -> tuple[DigitReading, ...]:
    """The number's digits, cut where the model and the picture together make it likeliest: the path from place 0
    to the last place with the greatest sum of its digits' log confidences and its boundaries' log odds (of equals,
    the one with the fewest digits)."""
    best: dict[int, tuple[float, int, tuple[DigitReading, ...]]] = {0: (0.0, 0, ())}
    for end in range(1, number.places + 1):
        odds = number.boundary_odds[end - 1] if end < number.places else 0.0
        ways = [
            (
                best[start][0] + math.log(max(segments[start, end].confidence, 1e-9)) + odds,
                best[start][1] - 1,
                (*best[start][2], segments[start, end]),
            )
            for start in range(end)
            if start in best and (start, end) in segments
        ]
        if ways:
            best[end] = max(ways, key=lambda way: way[:2])
    return best[number.places][2]


def _without_frames(error: DigitBotError) -> DigitBotError:
    """The error alone, to be kept as a result. Its traceback holds this module's frames, whose locals hold the
    results (a cycle, freed only by a full garbage collection) and the picture's bytes; the Pillow error it came
    from holds Pillow's frames and the half-read picture."""
    error.__cause__ = error.__context__ = None
    return error.with_traceback(None)
