"""Prints the feedback store's numbers beside issue 11's targets: saving a verdict, the event loop while verdicts
arrive, `stats` on a million rated answers (SQLite and PostgreSQL), the SQLite file's size, and two processes
sharing one PostgreSQL adding up exactly.

    .venv/bin/python benchmarks/feedback_store.py [--answers 1000000] [--postgres URL] [--dir DIR]

Without --postgres it starts a PostgreSQL server of its own (the pgserver wheel, a dev dependency). The million
rows are bulk-loaded (executemany on SQLite, COPY on PostgreSQL) with the tallies the verdicts would have made;
about 2.5 GB of disk while it runs, removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from benchmarks.harness import check, machine_load  # noqa: E402
from bot.feedback.schema import answers, pictures_read, reading_times, verdict_tally  # noqa: E402
from bot.feedback.store import FeedbackStore, StoredAnswer, new_answer_id, reading_time_bucket  # noqa: E402
from bot.feedback.words import wild_lines  # noqa: E402
from bot.lifecycle import keep_start_up_objects_out_of_garbage_collection  # noqa: E402
from bot.service import DigitService  # noqa: E402
from bot.settings import Settings  # noqa: E402

SAVE_P50_TARGET_MS = 5.0
STALL_TARGET_MS = 50.0
STATS_TARGET_MS = 50.0
SQLITE_SIZE_TARGET_GB = 1.5
VERDICTS_ARRIVING, ARRIVAL_SECONDS = 1000, 10.0
TICK_SECONDS = 0.005
BULK_BATCH = 20_000
SHARED_PER_PROCESS = 500


def digit_inputs(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (rng.integers(0, 256, (28, 28), dtype=np.uint8),)


def an_answer(store: FeedbackStore, user: str, rng: np.random.Generator, platform: str = "discord") -> StoredAnswer:
    digit = str(rng.integers(10))
    return StoredAnswer(platform, store.user_key(platform, user), digit, 0.9, "benchmark", digit_inputs(rng))


def verdict_save_times(store: FeedbackStore, count: int) -> list[float]:
    """Milliseconds per `rate`, each a committed transaction, in a worker thread as the bot does it."""
    rng = np.random.default_rng(1)
    rows = [an_answer(store, f"user-{n}", rng) for n in range(count)]
    for answer in rows:
        store.record_answer(answer, reading_ms=10)
    times = []
    for n, answer in enumerate(rows):
        started = time.perf_counter()
        store.rate(answer.id, answer.user_key, "right" if n % 5 else "3")
        times.append((time.perf_counter() - started) * 1000)
    return times


async def worst_loop_stall(service: DigitService | None, ids: list[str]) -> tuple[float, int]:
    """The event loop's worst lateness while `ids` are rated at an even pace over ARRIVAL_SECONDS (without a
    service: as long, with nothing arriving, which is the machine's own noise)."""
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not done.is_set():
            expected = loop.time() + TICK_SECONDS
            await asyncio.sleep(TICK_SECONDS)
            worst = max(worst, (loop.time() - expected) * 1000)

    async def rate(answer_id: str, delay: float):
        await asyncio.sleep(delay)
        return await service.rate("discord", ("discord", 1), answer_id, "right")

    ticking = asyncio.create_task(ticker())
    if service is None:
        await asyncio.sleep(ARRIVAL_SECONDS)
        done.set()
        await ticking
        return worst, 0
    pace = ARRIVAL_SECONDS / len(ids)
    ratings = await asyncio.gather(*(rate(answer_id, n * pace) for n, answer_id in enumerate(ids)))
    done.set()
    await ticking
    return worst, sum(rating.answer_mark is not None for rating in ratings)


def bulk_load(store: FeedbackStore, database_url: str, count: int) -> None:
    """`count` rated answers as fast as the database takes them, then the tallies and counters they imply."""
    rng = np.random.default_rng(2)
    start = datetime(2026, 1, 1)
    url = make_url(database_url)
    user_keys = [store.user_key("discord", f"user-{n}") for n in range(5000)]

    def rows(first: int, size: int):
        answers_read = rng.integers(0, 10, size)
        wrong = rng.random(size) < 0.04
        truths = np.where(wrong, (answers_read + rng.integers(1, 10, size)) % 10, answers_read)
        pixels = rng.integers(0, 256, (size, 784), dtype=np.uint8)
        for n in range(size):
            moment = start + timedelta(seconds=first + n)
            verdict = str(truths[n]) if wrong[n] else "right"
            yield (
                new_answer_id(),
                moment,
                "discord" if n % 3 else "telegram",
                user_keys[(first + n) % len(user_keys)],
                pixels[n].tobytes(),
                str(answers_read[n]),
                0.9,
                "benchmark",
                verdict,
                moment,
            )

    columns = "id, created_at, platform, user_key, inputs, answer, confidence, model, verdict, rated_at"
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database)
        for first in range(0, count, BULK_BATCH):
            size = min(BULK_BATCH, count - first)
            connection.executemany(
                f"INSERT INTO answers ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((*row[:1], row[1].isoformat(" "), *row[2:9], row[9].isoformat(" ")) for row in rows(first, size)),
            )
            connection.commit()
        connection.close()
    else:
        import psycopg

        with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as connection:
            for first in range(0, count, BULK_BATCH):
                size = min(BULK_BATCH, count - first)
                with connection.cursor().copy(f"COPY answers ({columns}) FROM STDIN") as copy:
                    for row in rows(first, size):
                        copy.write_row(row)
                connection.commit()
    with store._engine.begin() as connection:
        for table in (verdict_tally, pictures_read, reading_times):
            connection.execute(table.delete())
        connection.execute(
            insert(verdict_tally).from_select(
                ["answer", "verdict", "answers"],
                select(answers.c.answer, answers.c.verdict, func.count())
                .where(answers.c.verdict.is_not(None))
                .group_by(answers.c.answer, answers.c.verdict),
            )
        )
        connection.execute(
            insert(pictures_read).from_select(
                ["platform", "pictures"], select(answers.c.platform, func.count()).group_by(answers.c.platform)
            )
        )
        buckets = Counter(reading_time_bucket(float(ms)) for ms in rng.lognormal(np.log(15), 0.5, count))
        connection.execute(
            insert(reading_times), [{"bucket": bucket, "pictures": n} for bucket, n in sorted(buckets.items())]
        )
    if url.get_backend_name() == "postgresql":
        with store._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE answers")


def stats_times(store: FeedbackStore, repeat: int = 30) -> tuple[float, float]:
    """The first `stats` (a fresh connection) and the median of the next `repeat`, in ms, words included."""

    def once() -> float:
        started = time.perf_counter()
        wild_lines(store.wild_stats())
        return (time.perf_counter() - started) * 1000

    store._engine.dispose()
    first = once()
    return first, statistics.median(once() for _ in range(repeat))


def sqlite_size_gb(path: Path) -> float:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(file.stat().st_size for file in path.parent.glob(path.name + "*")) / 1e9


def shared_worker(database_url: str, platform: str, shared_id: str, shared_user: str) -> None:
    store = FeedbackStore.open(database_url)
    rng = np.random.default_rng(hash(platform) % 2**32)
    for n in range(SHARED_PER_PROCESS):
        answer = an_answer(store, f"{platform}-{n}", rng, platform)
        store.record_answer(answer, reading_ms=float(rng.uniform(5, 50)))
        store.rate(answer.id, answer.user_key, "right" if n % 4 else str((int(answer.answer) + 1) % 10))
        store.add_reading(platform, 20.0)
        store.rate(shared_id, store.user_key("discord", shared_user), str(n % 10))
    store.close()


def two_processes_add_up(database_url: str) -> tuple[bool, str]:
    """Two processes on one database write at once; the counters and tallies must equal what the rows say."""
    store = FeedbackStore.open(database_url)
    shared = an_answer(store, "shared-user", np.random.default_rng(3))
    store.record_answer(shared)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=shared_worker, args=(database_url, platform, shared.id, "shared-user"))
        for platform in ("discord", "telegram")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stats = store.wild_stats()
    with store._engine.connect() as connection:
        by_rows = dict(
            connection.execute(
                select(answers.c.answer + ":" + answers.c.verdict, func.count())
                .where(answers.c.verdict.is_not(None))
                .group_by(answers.c.answer, answers.c.verdict)
            ).all()
        )
        by_tally = dict(
            connection.execute(
                select(verdict_tally.c.answer + ":" + verdict_tally.c.verdict, verdict_tally.c.answers).where(
                    verdict_tally.c.answers > 0
                )
            ).all()
        )
        stored_rows = connection.scalar(select(func.count()).select_from(answers))
    store.close()
    expected_read = {"discord": 2 * SHARED_PER_PROCESS, "telegram": 2 * SHARED_PER_PROCESS}
    exact = (
        all(worker.exitcode == 0 for worker in workers)
        and stats.pictures_read == expected_read
        and stats.rated == 2 * SHARED_PER_PROCESS + 1
        and by_rows == by_tally
        and stored_rows == 2 * SHARED_PER_PROCESS + 1
    )
    summary = f"{stats.rated} rated, {sum(stats.pictures_read.values())} read"
    return exact, summary


def timed(label: str, action: Callable[..., object], *arguments: object) -> object:
    started = time.perf_counter()
    result = action(*arguments)
    print(f"  ({label}: {time.perf_counter() - started:.0f} s)", flush=True)
    return result


def fresh_postgres_database(server_url: str, name: str) -> str:
    """An empty database `name` on the server of `server_url` (dropped first if there); its URL."""
    import psycopg

    url = make_url(server_url)
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as connection:
        connection.autocommit = True
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    return url.set(database=name).render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000, help="rated answers for the stats and size")
    parser.add_argument(
        "--postgres", help="a postgresql:// URL of a server where it may create databases (default: start one)"
    )
    parser.add_argument("--dir", type=Path, help="where the SQLite files go (default: a temporary folder)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="feedback-bench-", dir=args.dir))
    server = None
    postgres_url = args.postgres
    if postgres_url is None:
        import pgserver

        server = pgserver.get_server(folder / "postgres", cleanup_mode="delete")
        postgres_url = server.get_uri()
    print(f"feedback store, {machine_load()}; SQLite files in {folder}")
    try:
        sqlite_url = f"sqlite:///{folder}/verdicts.sqlite3"
        store = FeedbackStore.open(sqlite_url)
        times = sorted(verdict_save_times(store, 1000))
        store.close()
        p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
        check(
            "SQLite: save a verdict, p50", f"{p50:.2f} ms", f"<= {SAVE_P50_TARGET_MS:g} ms", p50 <= SAVE_P50_TARGET_MS
        )
        check("SQLite: save a verdict, p99", f"{p99:.2f} ms")

        service = DigitService.from_settings(Settings(database_url=f"sqlite:///{folder}/loop.sqlite3"))
        store = service.feedback.store()
        rng = np.random.default_rng(4)
        ids = []
        for _ in range(VERDICTS_ARRIVING):
            answer = an_answer(store, str(("discord", 1)), rng)
            store.record_answer(answer)
            ids.append(answer.id)
        keep_start_up_objects_out_of_garbage_collection()  # as `serve` does before the front ends start
        stall, saved = asyncio.run(worst_loop_stall(service, ids))
        service.close()
        check(
            f"worst loop stall, {VERDICTS_ARRIVING} verdicts in {ARRIVAL_SECONDS:g} s",
            f"{stall:.1f} ms",
            f"<= {STALL_TARGET_MS:g} ms",
            stall <= STALL_TARGET_MS,
        )
        check("  verdicts saved", f"{saved}/{VERDICTS_ARRIVING}", "all", saved == VERDICTS_ARRIVING)
        idle_stall, _ = asyncio.run(worst_loop_stall(None, []))
        check(f"  the same {ARRIVAL_SECONDS:g} s with no verdicts (noise)", f"{idle_stall:.1f} ms")

        million_postgres = fresh_postgres_database(postgres_url, "feedback_bench_million")
        for name, url in (("SQLite", f"sqlite:///{folder}/million.sqlite3"), ("PostgreSQL", million_postgres)):
            store = FeedbackStore.open(url)
            timed(f"{name}: loading {args.answers:,} rated answers", bulk_load, store, url, args.answers)
            first, median = stats_times(store)
            rated = store.wild_stats().rated
            save = statistics.median(verdict_save_times(store, 200))
            store.close()
            check(
                f"{name}: stats on {rated:,} rated answers",
                f"{median:.2f} ms",
                f"<= {STATS_TARGET_MS:g} ms",
                median <= STATS_TARGET_MS,
            )
            check(f"{name}:   the first, on a new connection", f"{first:.2f} ms")
            check(f"{name}:   save a verdict there, p50", f"{save:.2f} ms")
            if name == "SQLite":
                size = sqlite_size_gb(folder / "million.sqlite3")
                check(
                    f"SQLite: file size at {rated:,}",
                    f"{size:.2f} GB",
                    f"<= {SQLITE_SIZE_TARGET_GB:g} GB",
                    size <= SQLITE_SIZE_TARGET_GB,
                )

        exact, summary = two_processes_add_up(fresh_postgres_database(postgres_url, "feedback_bench_shared"))
        check("two processes on one PostgreSQL", summary, "add up exactly", exact)
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
