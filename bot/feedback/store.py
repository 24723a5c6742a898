"""The feedback store: answers, users' verdicts on them and the counters of `stats`, in SQLite or PostgreSQL.

Synchronous (call it off the event loop). Every write is one committed transaction; every failure is a typed
`StorageUnavailable` or `CorruptDatabase` whose message is one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import secrets
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, select, update
from sqlalchemy import exc as sql_errors
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url

from bot.errors import CorruptDatabase, StorageUnavailable
from bot.feedback.schema import (
    LATEST_VERSION,
    SALT_SETTING,
    answers,
    migrate,
    pictures_read,
    reading_times,
    store_settings,
    verdict_tally,
)

DIGIT_SIDE = 28
DIGIT_BYTES = DIGIT_SIDE * DIGIT_SIDE
RIGHT = "right"
MAX_VERDICT_DIGITS = 40  # the answer and verdict columns' width
BUSY_TIMEOUT_SECONDS = 2.0  # a locked database fails within this, instead of holding a worker thread
CONNECT_TIMEOUT_SECONDS = 5
FASTEST_BUCKET_MS = 0.01
BUCKET_GROWTH = 1.02  # reading-time buckets 2% apart: the median is read to within 1%
MOST_CORRECTED_SHOWN = 3
PRUNE_BATCH = 10_000  # old unrated answers deleted per transaction
WILSON_Z = 1.959964  # 95%


def new_answer_id() -> str:
    """16 hex digits: short enough for a Discord custom_id or Telegram callback_data with a prefix."""
    return secrets.token_hex(8)


def model_version(model_path: Path) -> str:
    """The model file's hash, so every stored answer says which model gave it."""
    return hashlib.sha256(Path(model_path).read_bytes()).hexdigest()[:16]


def quantize(model_input: np.ndarray) -> np.ndarray:
    """A (28, 28) float model input, 0..1, as the uint8 pixels that are stored."""
    return np.clip(np.asarray(model_input, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def is_verdict(text: str) -> bool:
    """ "right", or the digits a picture really shows ("3", "2024")."""
    return text == RIGHT or (0 < len(text) <= MAX_VERDICT_DIGITS and text.isascii() and text.isdigit())


@dataclass(frozen=True)
class StoredAnswer:
    """One answer the bot gave, as it is kept: never the picture, only what the model saw."""

    platform: str
    user_key: str
    answer: str
    confidence: float
    model: str
    inputs: tuple[np.ndarray, ...]  # (28, 28) uint8 per digit read
    id: str = field(default_factory=new_answer_id)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class RatingResult:
    status: Literal["saved", "not_yours", "unknown"]
    answer: str | None = None  # what the bot had answered
    verdict: str | None = None  # as saved: "right" or the correct digits
    previous: str | None = None  # the verdict it replaced


@dataclass(frozen=True)
class Correction:
    """A rated answer that was wrong, with what the model saw: material for the next training run."""

    time: datetime  # UTC
    platform: str
    answer: str
    verdict: str
    confidence: float
    model: str
    inputs: tuple[np.ndarray, ...]  # (28, 28) uint8 per digit *read*, left to right

    @property
    def labelled_inputs(self) -> tuple[tuple[np.ndarray, int], ...]:
        """Each digit's input with its correct digit, when as many digits were read as the verdict has; else ()."""
        if len(self.inputs) != len(self.verdict):
            return ()
        return tuple(zip(self.inputs, map(int, self.verdict), strict=True))


@dataclass(frozen=True)
class WildStats:
    """How the bot does on its users' pictures, and what it has read, over all time and every platform."""

    rated: int
    right: int
    most_corrected: tuple[tuple[str, str, int], ...]  # (answer, verdict, how often), most frequent first
    pictures_read: dict[str, int]  # per platform
    median_ms: float | None

    @property
    def share_right(self) -> float | None:
        return self.right / self.rated if self.rated else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson score interval of the share rated right."""
        if not self.rated:
            return None
        n, p, z2 = self.rated, self.right / self.rated, WILSON_Z**2
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = WILSON_Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        return max(0.0, centre - half), min(1.0, centre + half)


def sqlalchemy_url(database_url: str) -> URL:
    """`postgresql://` (or `postgres://`) goes through psycopg 3; `sqlite:///PATH` is a file."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if url.drivername == "sqlite" and url.database and url.database != ":memory:":
        return url
    raise ValueError("must be sqlite:///PATH/TO/FILE or postgresql://USER:PASSWORD@HOST/DATABASE")


class FeedbackStore:
    """One class for both databases, over SQLAlchemy Core; safe to share between threads."""

    def __init__(self, engine: Engine, description: str, salt: str) -> None:
        self._engine = engine
        self._writer = engine.execution_options(digit_bot_write=True)  # SQLite: BEGIN IMMEDIATE
        self.description = description
        self._salt = salt.encode()
        self._upsert = sqlite_insert if engine.dialect.name == "sqlite" else postgres_insert

    @classmethod
    def open(
        cls,
        database_url: str,
        *,
        busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS,
        schema_version: int = LATEST_VERSION,
    ) -> FeedbackStore:
        """Opens (on first start: creates) the database and brings its schema up to date.

        `schema_version` is for tests that build an older database.
        """
        url = sqlalchemy_url(database_url)
        description = url.render_as_string(hide_password=True)
        engine = _engine(url, busy_timeout_seconds)
        try:
            with _typed_errors(f"opening {description}"), engine.execution_options(digit_bot_write=True).begin() as c:
                migrate(c, schema_version)
                salt = c.scalar(select(store_settings.c.value).where(store_settings.c.name == SALT_SETTING))
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, description, salt)

    def user_key(self, platform: str, raw_user_id: object) -> str:
        """The salted hash a user's answers are kept under; the raw id is never stored."""
        message = f"{platform}\x00{raw_user_id}".encode()
        return hmac.new(self._salt, message, hashlib.sha256).hexdigest()[:32]

    def record_answer(self, answer: StoredAnswer, *, reading_ms: float | None = None) -> None:
        """Keeps an answer; with `reading_ms`, also counts the picture as read, in the same transaction."""
        inputs = b"".join(np.ascontiguousarray(digit, dtype=np.uint8).tobytes() for digit in answer.inputs)
        with self._write("saving an answer") as c:
            c.execute(
                insert(answers).values(
                    id=answer.id,
                    created_at=_naive_utc(answer.time),
                    platform=answer.platform,
                    user_key=answer.user_key,
                    inputs=inputs,
                    answer=answer.answer,
                    confidence=float(answer.confidence),
                    model=answer.model,
                )
            )
            if reading_ms is not None:
                self._count_reading(c, answer.platform, reading_ms)

    def add_reading(self, platform: str, milliseconds: float) -> None:
        """Counts a picture read (pictures read per platform, the reading time's histogram)."""
        with self._write("counting a reading") as c:
            self._count_reading(c, platform, milliseconds)

    def rate(self, answer_id: str, user_key: str, verdict: str) -> RatingResult:
        """Saves (committed on return) a verdict on an answer, replacing an earlier one; only its sender may."""
        if not is_verdict(verdict):
            raise ValueError(f"a verdict is 'right' or digits, not {verdict!r}")
        with self._write("saving a verdict") as c:
            row = c.execute(
                select(answers.c.user_key, answers.c.answer, answers.c.verdict)
                .where(answers.c.id == answer_id)
                .with_for_update()
            ).first()
            if row is None:
                return RatingResult("unknown")
            if row.user_key != user_key:
                return RatingResult("not_yours", row.answer)
            saved = RIGHT if verdict == row.answer else verdict
            if saved != row.verdict:
                c.execute(
                    update(answers)
                    .where(answers.c.id == answer_id)
                    .values(verdict=saved, rated_at=_naive_utc(datetime.now(UTC)))
                )
                if row.verdict is not None:
                    self._tally(c, row.answer, row.verdict, -1)
                self._tally(c, row.answer, saved, 1)
            return RatingResult("saved", row.answer, saved, row.verdict)

    def forget(self, user_key: str) -> int:
        """Deletes every answer (and verdict) of a user; returns how many."""
        with self._write("forgetting a user") as c:
            deleted = c.execute(
                delete(answers).where(answers.c.user_key == user_key).returning(answers.c.answer, answers.c.verdict)
            ).all()
            rated = Counter((row.answer, row.verdict) for row in deleted if row.verdict is not None)
            for (answer, verdict), count in sorted(rated.items()):
                self._tally(c, answer, verdict, -count)
        return len(deleted)

    def forget_unrated(self, older_than: datetime, *, batch: int = PRUNE_BATCH) -> int:
        """Deletes up to `batch` answers nobody rated that were given before `older_than`; returns how many.

        Rated answers stay (they are what training and `stats` use); the counters keep their counts. A batch at a
        time, so a backlog never holds the write lock for long.
        """
        cutoff = _naive_utc(older_than)
        oldest_unrated = (
            select(answers.c.id)
            .where(answers.c.verdict.is_(None), answers.c.created_at < cutoff)
            .order_by(answers.c.created_at)
            .limit(batch)
        )
        with self._write("deleting old unrated answers") as c:
            return c.execute(delete(answers).where(answers.c.id.in_(oldest_unrated.scalar_subquery()))).rowcount

    def wild_stats(self) -> WildStats:
        """Sums of small tables: as fast at a million rated answers as at ten."""
        with _typed_errors(f"reading stats from {self.description}"), self._engine.connect() as c:
            tallies = c.execute(
                select(verdict_tally.c.answer, verdict_tally.c.verdict, verdict_tally.c.answers).where(
                    verdict_tally.c.answers > 0
                )
            ).all()
            platforms = c.execute(select(pictures_read.c.platform, pictures_read.c.pictures)).all()
            times = c.execute(
                select(reading_times.c.bucket, reading_times.c.pictures).order_by(reading_times.c.bucket)
            ).all()
        corrected = sorted(
            ((row.answer, row.verdict, row.answers) for row in tallies if row.verdict != RIGHT),
            key=lambda item: (-item[2], item[0], item[1]),
        )
        return WildStats(
            rated=sum(row.answers for row in tallies),
            right=sum(row.answers for row in tallies if row.verdict == RIGHT),
            most_corrected=tuple(corrected[:MOST_CORRECTED_SHOWN]),
            pictures_read={row.platform: row.pictures for row in platforms if row.pictures},
            median_ms=_median_ms([(row.bucket, row.pictures) for row in times]),
        )

    def corrections(self) -> Iterator[Correction]:
        """Every answer a user corrected, oldest first, streamed (a million rows never sit in memory at once)."""
        query = (
            select(
                answers.c.created_at,
                answers.c.platform,
                answers.c.answer,
                answers.c.verdict,
                answers.c.confidence,
                answers.c.model,
                answers.c.inputs,
            )
            .where(answers.c.verdict.is_not(None), answers.c.verdict != RIGHT)
            .order_by(answers.c.created_at)
        )
        with _typed_errors(f"reading corrections from {self.description}"), self._engine.connect() as c:
            for row in c.execution_options(yield_per=500).execute(query):
                yield Correction(
                    time=row.created_at.replace(tzinfo=UTC),
                    platform=row.platform,
                    answer=row.answer,
                    verdict=row.verdict,
                    confidence=row.confidence,
                    model=row.model,
                    inputs=_digit_inputs(row.inputs),
                )

    def close(self) -> None:
        self._engine.dispose()

    @contextlib.contextmanager
    def _write(self, doing: str) -> Iterator[Connection]:
        with _typed_errors(f"{doing} in {self.description}"), self._writer.begin() as connection:
            yield connection

    def _count_reading(self, connection: Connection, platform: str, milliseconds: float) -> None:
        self._add(connection, pictures_read, {"platform": platform}, "pictures", 1)
        self._add(connection, reading_times, {"bucket": reading_time_bucket(milliseconds)}, "pictures", 1)

    def _tally(self, connection: Connection, answer: str, verdict: str, change: int) -> None:
        self._add(connection, verdict_tally, {"answer": answer, "verdict": verdict}, "answers", change)

    def _add(self, connection: Connection, table, key: dict[str, object], column: str, amount: int) -> None:
        """An atomic `column += amount` on the row of `key`, made at 0 first if missing: exact across processes."""
        statement = self._upsert(table).values(**key, **{column: amount})
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=list(key), set_={column: table.c[column] + statement.excluded[column]}
            )
        )


def _engine(url: URL, busy_timeout_seconds: float) -> Engine:
    if url.get_backend_name() == "postgresql":
        lock_ms = int(busy_timeout_seconds * 1000)
        return create_engine(
            url,
            pool_pre_ping=True,  # a restarted server costs one failed operation, not a dead pool
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "options": f"-c lock_timeout={lock_ms}"},
        )
    path = Path(url.database).expanduser()
    with _typed_errors(f"making the folder of {path}"):
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url.set(database=str(path)), connect_args={"timeout": busy_timeout_seconds})
    event.listen(engine, "connect", _prepare_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _prepare_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # pysqlite's own transaction handling would defer BEGIN past the first read; SQLAlchemy's "begin" event
    # below says how each transaction starts instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed verdict survives a power cut, not only SIGTERM
    cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    # A write takes the lock at BEGIN, so a verdict's read-then-update cannot interleave with another process's;
    # reads stay deferred and never wait for writers (WAL).
    immediate = connection.get_execution_options().get("digit_bot_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def _typed_errors(doing: str) -> Iterator[None]:
    try:
        yield
    except sql_errors.DBAPIError as error:
        original = error.orig
        first_line = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
        if isinstance(original, sqlite3.DatabaseError) and not isinstance(original, sqlite3.OperationalError):
            raise CorruptDatabase(f"{doing}: {first_line} (the file is damaged or not a database)") from error
        raise StorageUnavailable(f"{doing}: {first_line}") from error
    except sql_errors.SQLAlchemyError as error:
        raise StorageUnavailable(f"{doing}: {error}") from error
    except OSError as error:
        raise StorageUnavailable(f"{doing}: {error.strerror or error}") from error


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def reading_time_bucket(milliseconds: float) -> int:
    """The histogram bucket of a reading time: bucket n starts at FASTEST_BUCKET_MS × BUCKET_GROWTH**n."""
    if milliseconds <= FASTEST_BUCKET_MS:
        return 0
    return int(math.log(milliseconds / FASTEST_BUCKET_MS) / math.log(BUCKET_GROWTH))


def _median_ms(histogram: Sequence[tuple[int, int]]) -> float | None:
    total = sum(pictures for _, pictures in histogram)
    seen = 0
    for bucket, pictures in histogram:
        seen += pictures
        if seen * 2 >= total and pictures:
            return FASTEST_BUCKET_MS * BUCKET_GROWTH ** (bucket + 0.5)
    return None


def _digit_inputs(data: bytes) -> tuple[np.ndarray, ...]:
    pixels = np.frombuffer(data, dtype=np.uint8)
    return tuple(
        pixels[start : start + DIGIT_BYTES].reshape(DIGIT_SIDE, DIGIT_SIDE)
        for start in range(0, len(data), DIGIT_BYTES)
    )
