"""The feedback store on SQLite and on a real PostgreSQL: verdicts, forgetting, restarts, migrations, locks, and
two stores sharing one database adding up exactly."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine import make_url

from bot.errors import CorruptDatabase, StorageUnavailable
from bot.feedback.retention import UnratedRetention
from bot.feedback.schema import LATEST_VERSION, answers, schema_version
from bot.feedback.store import FeedbackStore, StoredAnswer, WildStats

SHORT_BUSY_TIMEOUT = 0.3


def stored(store: FeedbackStore, user: str, answer: str = "7", platform: str = "discord", seed: int = 0):
    rng = np.random.default_rng(seed)
    inputs = tuple(rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in answer)
    return StoredAnswer(platform, store.user_key(platform, user), answer, 0.9, "model-hash", inputs)


@pytest.fixture
def store(database_url):
    store = FeedbackStore.open(database_url)
    yield store
    store.close()


def test_a_verdict_is_counted_once_and_rating_again_replaces_it(store):
    answer = stored(store, "ann")
    store.record_answer(answer, reading_ms=10)
    key = answer.user_key

    assert store.rate(answer.id, key, "right").status == "saved"
    assert (store.wild_stats().rated, store.wild_stats().right) == (1, 1)

    again = store.rate(answer.id, key, "1")
    assert (again.status, again.answer, again.verdict, again.previous) == ("saved", "7", "1", "right")
    stats = store.wild_stats()
    assert (stats.rated, stats.right, stats.most_corrected) == (1, 0, (("7", "1", 1),))

    assert store.rate(answer.id, key, "7").verdict == "right", "a correction to what was read says it was right"
    assert (store.wild_stats().rated, store.wild_stats().right) == (1, 1)


def test_only_the_sender_can_rate_and_an_unknown_answer_is_said_so(store):
    answer = stored(store, "ann")
    store.record_answer(answer)
    assert store.rate(answer.id, store.user_key("discord", "bob"), "right").status == "not_yours"
    assert store.rate(answer.id, store.user_key("telegram", "ann"), "right").status == "not_yours"
    assert store.rate("0123456789abcdef", answer.user_key, "right").status == "unknown"
    assert store.wild_stats().rated == 0
    with pytest.raises(ValueError):
        store.rate(answer.id, answer.user_key, "seven")


def test_forget_deletes_a_users_answers_and_their_verdicts_and_keeps_the_others(store):
    ann = [stored(store, "ann", seed=n) for n in range(3)]
    bob = stored(store, "bob")
    for answer in [*ann, bob]:
        store.record_answer(answer, reading_ms=5)
    store.rate(ann[0].id, ann[0].user_key, "right")
    store.rate(ann[1].id, ann[1].user_key, "4")
    store.rate(bob.id, bob.user_key, "1")

    assert store.forget(ann[0].user_key) == 3
    assert store.forget(ann[0].user_key) == 0
    stats = store.wild_stats()
    assert (stats.rated, stats.right, stats.most_corrected) == (1, 0, (("7", "1", 1),))
    assert stats.pictures_read == {"discord": 4}, "counts without names stay"
    assert store.rate(ann[2].id, ann[2].user_key, "right").status == "unknown"
    assert [correction.verdict for correction in store.corrections()] == ["1"]


def test_answers_verdicts_counters_and_the_salt_survive_a_restart(database_url):
    first = FeedbackStore.open(database_url)
    answer = stored(first, "ann", answer="2024")
    first.record_answer(answer, reading_ms=20)
    first.add_reading("telegram", 40)
    first.rate(answer.id, answer.user_key, "2021")
    first.close()

    second = FeedbackStore.open(database_url)
    try:
        assert second.user_key("discord", "ann") == answer.user_key, "the salt is kept in the database"
        stats = second.wild_stats()
        assert stats.pictures_read == {"discord": 1, "telegram": 1}
        assert stats.median_ms == pytest.approx(20, rel=0.02)
        assert stats.most_corrected == (("2024", "2021", 1),)
        (correction,) = second.corrections()
        assert (correction.answer, correction.verdict, correction.platform, correction.model) == (
            "2024",
            "2021",
            "discord",
            "model-hash",
        )
        assert correction.time.tzinfo is UTC and abs(correction.time - answer.time).total_seconds() < 1
        assert all(np.array_equal(a, b) for a, b in zip(correction.inputs, answer.inputs, strict=True))
        assert [digit for _, digit in correction.labelled_inputs] == [2, 0, 2, 1]
        assert second.rate(answer.id, answer.user_key, "right").previous == "2021"
    finally:
        second.close()


def test_a_newer_bot_upgrades_a_database_of_the_first_schema(database_url):
    old = FeedbackStore.open(database_url, schema_version=1)
    rows = [stored(old, "ann", seed=n) for n in range(4)]
    for answer in rows:
        old.record_answer(answer)  # the first schema has no counters: only the answer row
    with old._engine.begin() as connection:
        for answer, verdict in zip(rows[:3], ["right", "right", "1"], strict=True):
            connection.execute(update(answers).where(answers.c.id == answer.id).values(verdict=verdict))
    old.close()

    new = FeedbackStore.open(database_url)
    try:
        stats = new.wild_stats()
        assert (stats.rated, stats.right, stats.most_corrected) == (3, 2, (("7", "1", 1),))
        assert stats.pictures_read == {"discord": 4}
        with new._engine.connect() as connection:
            assert connection.scalar(select(schema_version.c.version)) == LATEST_VERSION
        assert new.rate(rows[3].id, rows[3].user_key, "9").status == "saved"
        assert new.wild_stats().rated == 4
    finally:
        new.close()


def test_a_database_from_a_newer_bot_is_refused_in_one_line(database_url):
    FeedbackStore.open(database_url).close()
    store = FeedbackStore.open(database_url)
    with store._engine.begin() as connection:
        connection.execute(update(schema_version).values(version=LATEST_VERSION + 1))
    store.close()
    with pytest.raises(CorruptDatabase, match="newer digit-bot") as refused:
        FeedbackStore.open(database_url)
    assert "\n" not in str(refused.value)


def test_a_damaged_sqlite_file_is_a_corrupt_database_in_one_line(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    path.write_bytes(b"this is not a database " * 200)
    with pytest.raises(CorruptDatabase, match="not a database") as refused:
        FeedbackStore.open(f"sqlite:///{path}")
    assert "\n" not in str(refused.value)


def test_the_sqlite_file_and_its_folder_are_made_on_first_start_in_wal_mode(tmp_path):
    path = tmp_path / "data" / "digit-bot.sqlite3"
    FeedbackStore.open(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_an_unreachable_postgresql_is_unavailable_in_one_line():
    with pytest.raises(StorageUnavailable) as refused:
        FeedbackStore.open("postgresql://bot:secret@127.0.0.1:1/nothing")
    assert "\n" not in str(refused.value) and "secret" not in str(refused.value)


@contextmanager
def write_lock_held(database_url: str):
    """Another connection holds the database's write lock (SQLite) or the answers table (PostgreSQL)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
    else:
        connection = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        connection.execute("LOCK TABLE answers IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        connection.rollback()
        connection.close()


def test_a_locked_database_fails_fast_instead_of_hanging(database_url):
    store = FeedbackStore.open(database_url, busy_timeout_seconds=SHORT_BUSY_TIMEOUT)
    answer = stored(store, "ann")
    store.record_answer(answer)
    try:
        with write_lock_held(database_url):
            started = time.perf_counter()
            with pytest.raises(StorageUnavailable) as refused:
                store.rate(answer.id, answer.user_key, "right")
            assert time.perf_counter() - started < SHORT_BUSY_TIMEOUT + 2
            assert "\n" not in str(refused.value)
        assert store.rate(answer.id, answer.user_key, "right").status == "saved", "and works once it is free"
    finally:
        store.close()


def test_raw_user_ids_are_never_stored(database_url, store):
    store.record_answer(stored(store, "ann-1234567"))
    with store._engine.connect() as connection:
        (key,) = connection.execute(select(answers.c.user_key)).one()
    assert "1234567" not in key and len(key) == 32
    assert store.user_key("discord", "ann-1234567") != store.user_key("telegram", "ann-1234567")


def test_two_stores_on_one_database_add_up_exactly(database_url):
    """Two stores, as two bot processes would have, writing at once: every reading and verdict is counted once."""
    stores = [FeedbackStore.open(database_url) for _ in range(2)]
    per_store, shared = 60, stored(stores[0], "ann")
    stores[0].record_answer(shared)
    errors: list[BaseException] = []

    def work(store: FeedbackStore, platform: str) -> None:
        try:
            for n in range(per_store):
                answer = stored(store, f"user-{n}", platform=platform, seed=n)
                store.record_answer(answer, reading_ms=1 + n)
                store.rate(answer.id, answer.user_key, "right" if n % 3 else "1")
                store.add_reading(platform, 2.0)
                store.rate(shared.id, shared.user_key, str(n % 10))  # both re-rate one answer: it counts once
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=pair) for pair in zip(stores, ["discord", "telegram"], strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        stats = stores[1].wild_stats()
        assert stats.pictures_read == {"discord": 2 * per_store, "telegram": 2 * per_store}
        assert stats.rated == 2 * per_store + 1
        assert stats.right == 2 * sum(1 for n in range(per_store) if n % 3), "the shared answer ends as 9, wrong"
    finally:
        for store in stores:
            store.close()


def test_the_share_right_has_a_wilson_interval_and_the_median_comes_from_the_histogram(store):
    assert WildStats(10, 8, (), {}, None).interval == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert WildStats(0, 0, (), {}, None).interval is None
    for milliseconds in range(1, 102):
        store.add_reading("console", milliseconds)
    assert store.wild_stats().median_ms == pytest.approx(51, rel=0.02)


def test_an_answer_row_keeps_what_the_issue_asks_and_no_picture(store):
    answer = stored(store, "ann", answer="42")
    store.record_answer(answer)
    with store._engine.connect() as connection:
        row = connection.execute(select(answers)).one()._asdict()
    assert set(row) == {
        "id",
        "created_at",
        "platform",
        "user_key",
        "inputs",
        "answer",
        "confidence",
        "model",
        "verdict",
        "rated_at",
    }
    assert len(row["inputs"]) == 2 * 784 and row["verdict"] is None
    assert row["created_at"] <= datetime.now(UTC).replace(tzinfo=None)


def test_a_full_sqlite_database_is_unavailable_not_a_crash(tmp_path):
    store = FeedbackStore.open(f"sqlite:///{tmp_path / 'feedback.sqlite3'}")
    store._engine.dispose()
    with store._engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    event.listen(store._engine, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count={pages}"))
    store._engine.dispose()
    try:
        with pytest.raises(StorageUnavailable, match="full"):
            for n in range(50):
                store.record_answer(stored(store, "ann", seed=n))
    finally:
        store.close()


def test_unrated_answers_past_the_retention_go_and_rated_or_recent_ones_stay(store):
    old_unrated, old_rated, recent_unrated = (stored(store, "ann", seed=n) for n in range(3))
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    for answer in (old_unrated, old_rated):
        store.record_answer(replace(answer, time=long_ago), reading_ms=5)
    store.record_answer(recent_unrated, reading_ms=5)
    store.rate(old_rated.id, old_rated.user_key, "1")

    assert store.forget_unrated(datetime(2026, 6, 1, tzinfo=UTC)) == 1
    assert store.forget_unrated(datetime(2026, 6, 1, tzinfo=UTC)) == 0
    assert store.rate(old_unrated.id, old_unrated.user_key, "right").status == "unknown"
    assert store.rate(recent_unrated.id, recent_unrated.user_key, "right").status == "saved"
    stats = store.wild_stats()
    assert (stats.rated, stats.most_corrected) == (2, (("7", "1", 1),)), "a verdict outlives the retention"
    assert stats.pictures_read == {"discord": 3}, "counters keep every picture read"


def test_old_unrated_answers_go_a_batch_at_a_time(store):
    for n in range(5):
        store.record_answer(replace(stored(store, "ann", seed=n), time=datetime(2026, 1, 1, tzinfo=UTC)))
    cutoff = datetime(2026, 6, 1, tzinfo=UTC)
    assert [store.forget_unrated(cutoff, batch=2) for _ in range(4)] == [2, 2, 1, 0]


def test_the_retention_is_checked_once_an_hour_and_never_when_every_answer_is_kept():
    now = [0.0]
    retention = UnratedRetention(30, clock=lambda: now[0])
    assert retention.due() and not retention.due()
    now[0] += 3599
    assert not retention.due()
    now[0] += 1
    assert retention.due()
    assert not UnratedRetention(0, clock=lambda: now[0]).due()
