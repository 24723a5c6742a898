"""`python -m bot predict` and the console chat, run as a user would: real processes, real files."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.console import ConsoleChat
from bot.service import DigitService
from bot.settings import load_settings
from model_training.number_pictures import Writing, number_picture
from tests.conftest import temporary_database_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def run_bot(*args: str, stdin: str = "", model_path=None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DISCORD_TOKEN": "", "TELEGRAM_TOKEN": ""}  # set: a developer's .env cannot fill them
    environment["DATABASE_URL"] = temporary_database_url()
    if model_path is not None:
        environment["MODEL_PATH"] = str(model_path)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        env=environment,
    )


@pytest.fixture(scope="module")
def digit_pictures(tmp_path_factory, mnist_test_split) -> dict[int, object]:
    """One PNG per digit: an MNIST test digit, upscaled, dark ink on white as most people send it."""
    images, labels = mnist_test_split
    folder = tmp_path_factory.mktemp("pictures")
    pictures = {}
    for digit in range(10):
        index = int(np.flatnonzero(labels == digit)[0])
        path = folder / f"digit-{digit}.png"
        Image.fromarray(255 - images[index]).resize((140, 140), Image.Resampling.BICUBIC).save(path)
        pictures[digit] = path
    return pictures


@pytest.fixture(scope="module")
def number_picture_file(tmp_path_factory, mnist_test_split) -> tuple[str, object]:
    """A drawing of a 4-digit number written with MNIST test digits, and the digits written."""
    images, labels = mnist_test_split
    chosen = [int(np.flatnonzero(labels == digit)[0]) for digit in (2, 0, 2, 4)]
    rng = np.random.default_rng(0)
    picture = number_picture(images[chosen], [2, 0, 2, 4], "drawing_png", Writing(), rng)
    path = tmp_path_factory.mktemp("numbers") / "number.png"
    path.write_bytes(picture)
    return "2024", path


@pytest.fixture(scope="module")
def not_pictures(tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("not-pictures")
    text = folder / "notes.txt"
    text.write_text("a shopping list, not a picture\n")
    broken = folder / "broken.png"
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buffer, "PNG")
    broken.write_bytes(buffer.getvalue()[:40])
    return {"text": text, "broken": broken, "missing": folder / "nowhere.png"}


def test_predict_prints_one_line_per_file_and_exits_0(digit_pictures):
    result = run_bot("predict", str(digit_pictures[2]), str(digit_pictures[7]))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{digit_pictures[2]}: 2 — ") and "% sure" in lines[0]
    assert lines[1].startswith(f"{digit_pictures[7]}: 7 — ")


def test_predict_json_gives_one_object_per_file(digit_pictures, not_pictures):
    files = [digit_pictures[0], not_pictures["text"], digit_pictures[9]]
    result = run_bot("predict", "--json", *map(str, files))
    assert result.returncode == 1
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [answer["file"] for answer in answers] == list(map(str, files))
    first, text, last = answers
    assert set(first) == {"file", "number", "digits", "digit", "confidence", "top", "sure", "error"}
    assert (first["digit"], first["number"], first["error"], last["digit"], last["number"]) == (0, "0", None, 9, "9")
    assert 0 <= first["confidence"] <= 1 and len(first["top"]) == 3 and first["top"][0][0] == 0
    assert first["digits"] == [[0, first["confidence"]]]
    assert text["digit"] is None and text["confidence"] is None and "isn't a picture" in text["error"]
    assert text["number"] is None and text["digits"] == []


def test_predict_json_gives_every_digit_of_a_number(number_picture_file, digit_pictures):
    written, path = number_picture_file
    result = run_bot("predict", "--json", str(path), str(digit_pictures[3]))
    assert result.returncode == 0, result.stderr
    number, single = (json.loads(line) for line in result.stdout.splitlines())
    assert (number["number"], number["digit"], number["top"], number["error"]) == (written, None, [], None)
    assert [digit for digit, _ in number["digits"]] == [2, 0, 2, 4]
    assert number["confidence"] <= min(confidence for _, confidence in number["digits"])
    assert number["sure"] == (number["confidence"] >= load_settings().confidence_threshold)
    assert (single["number"], single["digit"]) == ("3", 3)


def test_predict_prints_the_number_read(number_picture_file):
    written, path = number_picture_file
    result = run_bot("predict", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: {written} — ") and "sure" in result.stdout


@pytest.mark.parametrize(("kind", "words"), [("text", "isn't a picture"), ("broken", "broken"), ("missing", "no file")])
def test_a_file_that_cannot_be_read_gets_a_message_and_exit_1(not_pictures, digit_pictures, kind, words):
    result = run_bot("predict", str(not_pictures[kind]), str(digit_pictures[1]))
    assert result.returncode == 1
    assert words in result.stdout.splitlines()[0]
    assert result.stdout.splitlines()[1].startswith(f"{digit_pictures[1]}: 1 — ")
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2():
    assert run_bot("predict").returncode == 2
    assert run_bot("predict", "--colour", "x.png").returncode == 2


def test_a_missing_model_is_one_clear_line_and_exit_1(tmp_path, digit_pictures):
    result = run_bot("predict", str(digit_pictures[1]), model_path=tmp_path / "gone.tflite")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: MODEL_PATH: no model file at")
    assert "Traceback" not in result.stderr


def test_serve_without_any_token_is_one_clear_line_and_exit_1():
    result = run_bot("serve")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: neither DISCORD_TOKEN nor TELEGRAM_TOKEN is set: put a bot's token in .env (see README)"
    )


def test_discord_without_a_token_is_one_clear_line_and_exit_1():
    result = run_bot("discord")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: DISCORD_TOKEN is not set: put your bot's token in .env (see README)"


def test_a_missing_model_stops_the_bot_before_it_connects(tmp_path):
    result = run_bot("discord", model_path=tmp_path / "gone.tflite")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: MODEL_PATH: no model file at")


def test_an_unreachable_discord_is_one_clear_line_and_exit_1(monkeypatch):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    monkeypatch.setenv("DISCORD_API_BASE", f"http://127.0.0.1:{closed_port}/api/v10")
    monkeypatch.setenv("DISCORD_TOKEN", "a-token")
    monkeypatch.setenv("DATABASE_URL", temporary_database_url())
    result = subprocess.run([sys.executable, "-m", "bot"], capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert result.returncode == 1
    assert "Could not reach Discord at http://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr and "a-token" not in result.stderr
    assert "\x1b[" not in result.stderr, "no colour codes when the log is not a terminal (journald, docker logs)"


def test_without_a_token_the_bot_starts_the_console_chat(digit_pictures):
    session = f"!predict {digit_pictures[4]}\n!stats\n!help\nwhat?\n!predict\nquit\n"
    result = run_bot(stdin=session)
    assert result.returncode == 0, result.stderr
    assert "console chat" in result.stderr
    answers = result.stdout
    assert "\n> 4 — " in answers
    assert "right on the MNIST test split" in answers
    assert answers.count("!predict PATH...") == 2  # the greeting and !help
    assert "I didn't get that" in answers
    assert "There's no picture for me to read." in answers


@pytest.fixture(scope="module")
def service(shipped_model_path) -> DigitService:
    settings = load_settings({"MODEL_PATH": str(shipped_model_path), "DATABASE_URL": temporary_database_url()})
    return DigitService.from_settings(settings)


def test_the_console_reads_a_line_of_paths_as_posted_pictures(service, digit_pictures, not_pictures):
    chat = ConsoleChat(service)
    replies = chat.answer(f"{digit_pictures[5]} '{digit_pictures[6]}'")
    assert [reply.headline[0] for reply in replies] == ["5", "6"]
    assert replies[0].picture_png.startswith(b"\x89PNG")
    assert chat.answer("   ") == []
    (missing,) = chat.answer(f"!predict {not_pictures['missing']}")
    assert missing.is_error and "no file" in missing.text


def test_the_console_counts_pictures_in_stats(service, digit_pictures):
    chat = ConsoleChat(service, prefix="?")
    before = service.live.pictures_read
    chat.answer(f"?predict {digit_pictures[2]} {digit_pictures[8]}")
    (stats,) = chat.answer("?stats")
    assert service.live.pictures_read == before + 2
    assert f"{before + 2} pictures read" in stats.text
    assert stats.picture_png.startswith(b"\x89PNG")  # the confusion matrix


def test_corrections_lists_the_users_corrections_as_json_lines(tmp_path):
    from bot.feedback.store import FeedbackStore
    from tests.feedback_answers import rated_answer

    database_url = f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    store = FeedbackStore.open(database_url)
    try:
        rated_answer(store, "7", "1", [np.full((28, 28), 200, np.uint8)], platform="telegram")
        rated_answer(store, "3", "right", [np.full((28, 28), 200, np.uint8)])
    finally:
        store.close()
    result = run_bot("corrections", "--json", "--database", database_url)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert {key: json.loads(line)[key] for key in ("platform", "answer", "verdict")} == {
        "platform": "telegram",
        "answer": "7",
        "verdict": "1",
    }
    missing = run_bot("corrections", "--database", f"sqlite:///{tmp_path / 'nowhere.sqlite3'}")
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
