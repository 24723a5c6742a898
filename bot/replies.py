"""The words of every answer, shared by all front ends: a prediction, an error, stats, help."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from bot.errors import (
    BrokenImage,
    Busy,
    DigitBotError,
    DownloadFailed,
    ImageTooLarge,
    NoDigitFound,
    NoPicture,
    NotAnImage,
    NotOneNumber,
    ShuttingDown,
    SlowDown,
    UnreadableFile,
)
from bot.imaging import MAX_DIGITS
from bot.recognizer import Prediction
from bot.stats import LiveStats, ModelCard

MODEL_INPUT_SCALE = 8  # 28 px → 224 px: big enough to see in a chat, still crisp with nearest-neighbour
MODEL_INPUT_NAME = "what-the-model-saw.png"
CONFUSION_MATRIX_NAME = "confusion-matrix.png"
WRITING_TIPS = "Tip: one digit or one number, written large and dark on plain paper, filling most of the picture."
NUMBER_TIPS = "Tip: write the number large and dark on plain paper, on one line, its digits a little apart."
INTRODUCTION = (
    "I read the handwritten digit in a picture, or every digit of a number, and say how sure I am.",
    f"Send a photo or drawing of one digit or of one number (up to {MAX_DIGITS} digits, on one line); I answer with "
    "what I read, how sure I am and my best guesses.",
)
ORDINALS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
)
STRIP_WIDTH = 1200  # pixels: the preview of a long number is scaled down to fit a chat's picture
DIGIT_SPACING = 4  # pixels between the digits of the preview


@dataclass(frozen=True)
class Reply:
    """One answer: a headline, more lines, and optionally a picture to attach."""

    headline: str
    details: tuple[str, ...] = ()
    picture_png: bytes | None = None
    picture_name: str | None = None
    is_error: bool = False
    answer: str | None = None  # the digits read ("7", "2024") when this reply is a reading a user may rate
    answer_id: str | None = None  # the stored answer a verdict on this reply names; None when it was not stored

    @property
    def text(self) -> str:
        return "\n".join((self.headline, *self.details))

    @property
    def line(self) -> str:
        """The headline and its first detail on one line, for the command line's output."""
        if not self.details:
            return self.headline
        separator = " " if self.headline.endswith((".", "!", "?")) else ". "
        return f"{self.headline}{separator}{self.details[0]}"


def percent(probability: float, decimals: int = 1) -> str:
    return f"{probability:.{decimals}%}"


def top_guesses(prediction: Prediction) -> str:
    return ", ".join(f"{digit} ({percent(probability)})" for digit, probability in prediction.top)


def prediction_reply(prediction: Prediction, source_name: str | None = None) -> Reply:
    source = (f"Picture: {source_name}",) if source_name else ()
    if len(prediction.digits) > 1:
        return _number_reply(prediction, source)
    picture = model_input_png(prediction.model_inputs[0])
    if prediction.is_sure:
        return Reply(
            headline=f"{prediction.number} — {percent(prediction.confidence)} sure",
            details=(f"Top 3: {top_guesses(prediction)}", *source),
            picture_png=picture,
            picture_name=MODEL_INPUT_NAME,
            answer=prediction.number,
        )
    return Reply(
        headline=f"{prediction.number}? I'm not sure: only {percent(prediction.confidence)}",
        details=(f"My best guesses: {top_guesses(prediction)}", WRITING_TIPS, *source),
        picture_png=picture,
        picture_name=MODEL_INPUT_NAME,
        answer=prediction.number,
    )


def _number_reply(prediction: Prediction, source: tuple[str, ...]) -> Reply:
    """A number of several digits: the digits read, how sure, and the digits in doubt with their best two guesses."""
    digit_by_digit = "Digit by digit: " + ", ".join(
        f"{reading.digit} ({percent(reading.confidence)})" for reading in prediction.digits
    )
    strip = model_inputs_png(prediction.model_inputs)
    if prediction.is_sure:
        return Reply(
            headline=f"{prediction.number} — {percent(prediction.confidence)} sure",
            details=(digit_by_digit, *source),
            picture_png=strip,
            picture_name=MODEL_INPUT_NAME,
            answer=prediction.number,
        )
    doubtful = _doubtful_places(prediction)
    shown = "".join("?" if place in doubtful else str(reading.digit) for place, reading in enumerate(prediction.digits))
    doubts = "; ".join(
        f"the {ORDINALS[place]} digit: "
        + " or ".join(f"{digit} ({percent(probability, 0)})" for digit, probability in prediction.digits[place].top[:2])
        for place in doubtful
    )
    return Reply(
        headline=f"{shown} — not sure about {doubts}",
        details=(digit_by_digit, NUMBER_TIPS, *source),
        picture_png=strip,
        picture_name=MODEL_INPUT_NAME,
        answer=prediction.number,
    )


def _doubtful_places(prediction: Prediction) -> list[int]:
    """The digits not read surely; when each is but the number is not, the least sure of them."""
    unsure = [place for place, reading in enumerate(prediction.digits) if not reading.is_sure]
    if unsure:
        return unsure
    return [min(range(len(prediction.digits)), key=lambda place: prediction.digits[place].confidence)]


def error_reply(error: DigitBotError, source_name: str | None = None) -> Reply:
    headline, advice = _error_words(error)
    source = (f"Picture: {source_name}",) if source_name else ()
    return Reply(headline=headline, details=(advice, *source), is_error=True)


def _error_words(error: DigitBotError) -> tuple[str, str]:
    if isinstance(error, NotAnImage):
        return (
            "That isn't a picture I can read.",
            "Send a PNG, JPEG, WebP, GIF, BMP or TIFF image of a digit or a number.",
        )
    if isinstance(error, ImageTooLarge):
        return "That picture is too large for me.", f"{_limit_words(error)} Send a smaller photo or a screenshot."
    if isinstance(error, BrokenImage):
        return "That picture seems to be broken (cut off or damaged).", "Try saving it again and sending it once more."
    if isinstance(error, NoDigitFound):
        return "I couldn't find a digit in that picture.", WRITING_TIPS
    if isinstance(error, NotOneNumber):
        return "That looks like more than one number.", (
            f"Send one number at a time: up to {MAX_DIGITS} digits, written on one line."
        )
    if isinstance(error, NoPicture):
        return "There's no picture for me to read.", (
            "Attach an image of a digit or a number to your message, or reply to a message that has one."
        )
    if isinstance(error, DownloadFailed):
        return "I couldn't get that picture from the chat.", "Please send it again in a moment."
    if isinstance(error, UnreadableFile):
        return "I can't open that file.", str(error)
    if isinstance(error, SlowDown):
        return "One moment, please.", f"You can send another picture in {math.ceil(error.retry_after_seconds)} s."
    if isinstance(error, Busy):
        return "I'm busy reading other pictures right now.", "Please try again in a moment."
    if isinstance(error, ShuttingDown):
        return "I'm restarting right now.", "Please send it again in a minute."
    return "I couldn't read that.", str(error)


def _limit_words(error: ImageTooLarge) -> str:
    if error.limit_bytes is not None:
        return f"I read files up to {error.limit_bytes / 1_000_000:.0f} MB."
    if error.limit_pixels is not None:
        return f"I read pictures up to {error.limit_pixels / 1_000_000:.0f} megapixels."
    return ""


def unexpected_error_reply() -> Reply:
    return Reply(
        headline="Something went wrong on my side.",
        details=("It has been logged. Please try again in a moment.",),
        is_error=True,
    )


def stats_reply(card: ModelCard | None, live: LiveStats) -> Reply:
    median = "–" if live.median_ms is None else f"{live.median_ms:.1f} ms"
    counters = (
        f"Since start: {_count(live.pictures_read, 'picture')} read, median {median} per picture, "
        f"up {_duration(live.uptime_seconds)}."
    )
    if card is None:
        return Reply(headline="The model's test results (metrics.json) are missing.", details=(counters,))
    per_digit = ", ".join(f"{digit}: {percent(value)}" for digit, value in sorted(card.per_digit_accuracy.items()))
    picture = card.confusion_matrix_png
    return Reply(
        headline=f"{percent(card.test_accuracy, 2)} right on the MNIST test split ({card.test_examples:,} digits)",
        details=(
            f"Per digit: {per_digit}",
            f"Model: {card.name}, {card.parameter_count:,} parameters, trained {card.trained_on}.",
            counters,
        ),
        picture_png=picture,
        picture_name=CONFUSION_MATRIX_NAME if picture else None,
    )


def help_reply(command_lines: Sequence[str]) -> Reply:
    """The introduction, then how to use each command; the front end spells its own commands."""
    return Reply(headline=INTRODUCTION[0], details=(INTRODUCTION[1], "", *command_lines))


def model_input_png(model_input: np.ndarray) -> bytes:
    return model_inputs_png((model_input,))


def model_inputs_png(model_inputs: Sequence[np.ndarray]) -> bytes:
    """What the model saw, digit by digit left to right, enlarged (less for a long number) on one strip."""
    gap = np.full((28, DIGIT_SPACING), 0.5, dtype=np.float32)  # grey: no digit's ink
    strip = np.hstack([part for model_input in model_inputs for part in (gap, model_input)][1:])
    pixels = np.clip(strip * 255.0 + 0.5, 0, 255).astype(np.uint8)
    scale = max(1, min(MODEL_INPUT_SCALE, STRIP_WIDTH // strip.shape[1]))
    image = Image.fromarray(pixels, mode="L").resize((strip.shape[1] * scale, 28 * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"
