"""The words and the picture of an answer: a single digit as before, a number digit by digit, with the digits in
doubt named; one number at a time."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bot.errors import NotOneNumber
from bot.recognizer import DigitReading, Prediction, Timings
from bot.replies import MODEL_INPUT_SCALE, error_reply, prediction_reply

THRESHOLD = 0.8


def reading(digit: int, confidence: float, runner_up: int = 7) -> DigitReading:
    rest = (1.0 - confidence) * 0.9
    return DigitReading(
        digit=digit,
        confidence=confidence,
        top=((digit, confidence), (runner_up, rest), ((runner_up + 1) % 10, 1.0 - confidence - rest)),
        is_sure=confidence >= THRESHOLD,
        model_input=np.full((28, 28), digit / 10, dtype=np.float32),
    )


def prediction(*digits: DigitReading) -> Prediction:
    confidence = float(np.prod([digit.confidence for digit in digits]))
    return Prediction(digits, confidence, confidence >= THRESHOLD, Timings(1.0, 1.0, 1.0))


def picture_size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_a_single_digit_is_answered_as_before():
    reply = prediction_reply(prediction(reading(7, 0.99)), "seven.png")
    assert reply.headline == "7 — 99.0% sure"
    assert reply.details[0].startswith("Top 3: 7 (99.0%)")
    assert reply.answer == "7" and reply.details[-1] == "Picture: seven.png"
    assert picture_size(reply.picture_png) == (28 * MODEL_INPUT_SCALE, 28 * MODEL_INPUT_SCALE)


def test_a_sure_number_is_answered_with_its_digits():
    number = prediction(reading(2, 0.999), reading(0, 0.995), reading(2, 0.98), reading(4, 0.99))
    reply = prediction_reply(number)
    assert reply.headline == f"2024 — {number.confidence:.1%} sure"
    assert reply.details[0] == "Digit by digit: 2 (99.9%), 0 (99.5%), 2 (98.0%), 4 (99.0%)"
    assert reply.answer == "2024"


def test_an_unsure_number_names_the_digit_in_doubt_and_its_two_best_guesses():
    reply = prediction_reply(
        prediction(reading(2, 0.99), reading(0, 0.99), reading(2, 0.61, runner_up=7), reading(4, 0.99))
    )
    assert reply.headline == "20?4 — not sure about the third digit: 2 (61%) or 7 (35%)"
    assert reply.answer == "2024"  # what a verdict corrects is the digits read, not the words


def test_when_every_digit_is_sure_but_the_number_is_not_the_least_sure_is_in_doubt():
    number = prediction(*(reading(digit, 0.85) for digit in (1, 2, 3)), reading(4, 0.81))
    assert not number.is_sure
    assert prediction_reply(number).headline.startswith("123? — not sure about the fourth digit: 4 (81%)")


def test_the_preview_shows_each_digit_side_by_side_on_one_strip():
    two = prediction_reply(prediction(reading(4, 0.99), reading(2, 0.99))).picture_png
    assert picture_size(two) == ((2 * 28 + 4) * MODEL_INPUT_SCALE, 28 * MODEL_INPUT_SCALE)
    twelve = prediction_reply(prediction(*(reading(digit % 10, 0.99) for digit in range(12)))).picture_png
    width, height = picture_size(twelve)
    assert width <= 1200 and width == (12 * 28 + 11 * 4) * (height // 28)


def test_more_than_one_number_is_answered_with_what_to_send():
    reply = error_reply(NotOneNumber("14 digits"))
    assert reply.is_error and reply.headline == "That looks like more than one number."
    assert "one number" in reply.details[0] and "12 digits" in reply.details[0]
