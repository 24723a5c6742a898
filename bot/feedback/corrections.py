"""`python -m bot corrections`: the answers users corrected, one line each (or JSON lines), for people and training."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.errors import StorageError

if TYPE_CHECKING:
    from bot.feedback.store import Correction, FeedbackStore

EXIT_OK, EXIT_FAILED = 0, 1


def add_corrections_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """The `corrections` command on the bot's command line; its `--database` is None unless given."""
    command = subparsers.add_parser(
        "corrections",
        help="print the answers users corrected, one per line (--json: JSON lines, for retraining)",
        description="Print every answer a user corrected, oldest first, from the feedback database in "
        "DATABASE_URL (or --database). Exit status: 0 when it was read, 1 when it could not be.",
    )
    command.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line: time (ISO 8601, UTC), platform, answer, verdict, confidence, model",
    )
    command.add_argument("--database", metavar="URL", help="the feedback database (default: DATABASE_URL)")
    return command


def open_existing_store(database_url: str) -> FeedbackStore:
    """The store at `database_url`, which must be there already: reading it never makes an empty one.

    Raises StorageError (CorruptDatabase, StorageUnavailable, or its own for a missing file or a wrong URL), whose
    message is one line.
    """
    from sqlalchemy.exc import ArgumentError

    from bot.feedback.store import FeedbackStore, sqlalchemy_url

    try:
        url = sqlalchemy_url(database_url)
    except (ArgumentError, ValueError) as error:
        raise StorageError(f"the database URL is not one the bot reads ({error})") from error
    if url.get_backend_name() == "sqlite" and not Path(url.database).expanduser().is_file():
        raise StorageError(f"no feedback database at {url.database}: the bot makes it when it first starts")
    return FeedbackStore.open(database_url)


def print_corrections(database_url: str, out: TextIO, *, as_json: bool, errors: TextIO = sys.stderr) -> int:
    """Every stored correction to `out`, one line each; a database that cannot be read is one line on `errors`."""
    try:
        store = open_existing_store(database_url)
        try:
            for correction in store.corrections():
                out.write((json_line(correction) if as_json else plain_line(correction)) + "\n")
        finally:
            store.close()
        out.flush()
    except StorageError as error:
        print(f"error: {error}", file=errors)
        return EXIT_FAILED
    except BrokenPipeError:  # the reader had enough (`| head`): not a failure
        _discard_the_rest(out)
    return EXIT_OK


def json_line(correction: Correction) -> str:
    return json.dumps(
        {
            "time": _utc(correction.time).isoformat(timespec="seconds"),
            "platform": correction.platform,
            "answer": correction.answer,
            "verdict": correction.verdict,
            "confidence": round(correction.confidence, 6),
            "model": correction.model,
        }
    )


def plain_line(correction: Correction) -> str:
    return (
        f"{_utc(correction.time):%Y-%m-%d %H:%M:%S} UTC  {correction.platform}: answered {correction.answer} "
        f"({correction.confidence:.0%} sure), corrected to {correction.verdict}  (model {correction.model[:12]})"
    )


def _discard_the_rest(out: TextIO) -> None:
    """Points `out`'s file at /dev/null, so Python's last flush at exit finds no closed pipe to complain about."""
    with contextlib.suppress(OSError, ValueError):  # not a file (a StringIO): no last flush to quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


def _utc(time: datetime.datetime) -> datetime.datetime:
    """The time in UTC; a time without a zone is UTC already, as the store keeps them."""
    if time.tzinfo is None:
        return time.replace(tzinfo=datetime.UTC)
    return time.astimezone(datetime.UTC)
