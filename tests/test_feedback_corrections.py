"""`python -m bot corrections`: exactly the corrected answers, as JSON lines or plain lines, and one line with exit
status 1 for a database that is missing, corrupt or unreachable."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime

import numpy as np
import pytest

from bot.feedback.corrections import add_corrections_command, print_corrections
from bot.feedback.store import FeedbackStore
from tests.feedback_answers import rated_answer

JSON_FIELDS = ["time", "platform", "answer", "verdict", "confidence", "model"]


def digits(count: int) -> list[np.ndarray]:
    return [np.full((28, 28), 200, np.uint8)] * count


def listed(database_url: str, *, as_json: bool) -> tuple[int, list[str], str]:
    out, errors = io.StringIO(), io.StringIO()
    status = print_corrections(database_url, out, as_json=as_json, errors=errors)
    return status, out.getvalue().splitlines(), errors.getvalue()


@pytest.fixture
def database_with_verdicts(database_url):
    """Two corrections among answers marked right, corrected to what they said, and never rated."""
    store = FeedbackStore.open(database_url)
    try:
        rated_answer(store, "3", "right", digits(1))
        rated_answer(
            store,
            "7",
            "1",
            digits(1),
            platform="telegram",
            confidence=0.8125,
            model="a1b2c3d4e5f60718",
            time=datetime(2026, 11, 29, 9, 15, 42, 123456, tzinfo=UTC),
        )
        rated_answer(store, "5", None, digits(1))
        rated_answer(store, "4", "4", digits(1))  # "corrected" to what it said: right
        rated_answer(store, "2014", "2024", digits(4), time=datetime(2026, 11, 29, 10, tzinfo=UTC))
    finally:
        store.close()
    return database_url


def test_json_lists_exactly_the_corrections_oldest_first(database_with_verdicts):
    status, lines, errors = listed(database_with_verdicts, as_json=True)
    assert (status, errors) == (0, "")
    rows = [json.loads(line) for line in lines]
    assert [list(row) for row in rows] == [JSON_FIELDS] * 2
    assert rows[0] == {
        "time": "2026-11-29T09:15:42+00:00",
        "platform": "telegram",
        "answer": "7",
        "verdict": "1",
        "confidence": 0.8125,
        "model": "a1b2c3d4e5f60718",
    }
    assert (rows[1]["answer"], rows[1]["verdict"], rows[1]["time"]) == ("2014", "2024", "2026-11-29T10:00:00+00:00")
    assert datetime.fromisoformat(rows[1]["time"]).utcoffset().total_seconds() == 0


def test_plain_lines_are_one_readable_line_per_correction(database_with_verdicts):
    status, lines, _ = listed(database_with_verdicts, as_json=False)
    assert status == 0
    assert lines == [
        "2026-11-29 09:15:42 UTC  telegram: answered 7 (81% sure), corrected to 1  (model a1b2c3d4e5f6)",
        "2026-11-29 10:00:00 UTC  discord: answered 2014 (90% sure), corrected to 2024  (model model-hash)",
    ]


def test_an_empty_database_prints_nothing(database_url):
    FeedbackStore.open(database_url).close()
    assert listed(database_url, as_json=True) == (0, [], "")


def test_a_missing_database_is_one_line_and_is_not_made(tmp_path):
    path = tmp_path / "nowhere" / "digit-bot.sqlite3"
    status, lines, errors = listed(f"sqlite:///{path}", as_json=True)
    assert (status, lines) == (1, [])
    assert errors == f"error: no feedback database at {path}: the bot makes it when it first starts\n"
    assert not path.parent.exists()


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("postgresql://digit:secret@127.0.0.1:1/feedback", "opening postgresql"),
        ("mysql://digit@localhost/feedback", "is not one the bot reads"),
    ],
)
def test_an_unreachable_or_unknown_database_is_one_line(url, complaint):
    status, lines, errors = listed(url, as_json=False)
    assert (status, lines) == (1, [])
    assert errors.startswith("error: ") and complaint in errors and errors.count("\n") == 1
    assert "secret" not in errors


def test_a_corrupt_database_is_one_line(tmp_path):
    path = tmp_path / "digit-bot.sqlite3"
    path.write_bytes(b"this is no database, only words" * 200)
    status, lines, errors = listed(f"sqlite:///{path}", as_json=True)
    assert (status, lines) == (1, [])
    assert errors.startswith("error: ") and "damaged or not a database" in errors and errors.count("\n") == 1


class ClosedAfterOneLine(io.StringIO):
    """A reader that stops after the first line, as `| head -1` does."""

    def write(self, text: str) -> int:
        if self.getvalue():
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_a_reader_that_stops_early_is_no_failure(database_with_verdicts):
    out, errors = ClosedAfterOneLine(), io.StringIO()
    assert print_corrections(database_with_verdicts, out, as_json=True, errors=errors) == 0
    assert len(out.getvalue().splitlines()) == 1 and errors.getvalue() == ""


def test_the_command_takes_json_and_a_database():
    parser = argparse.ArgumentParser()
    add_corrections_command(parser.add_subparsers(dest="command"))
    arguments = parser.parse_args(["corrections", "--json", "--database", "sqlite:///feedback.sqlite3"])
    assert (arguments.command, arguments.json, arguments.database) == (
        "corrections",
        True,
        "sqlite:///feedback.sqlite3",
    )
    arguments = parser.parse_args(["corrections"])
    assert (arguments.json, arguments.database) == (False, None)
