"""Verdicts through the core, as every front end uses it: stored answers, rating, forgetting, stats in the wild,
and a database that is locked, out of reach or damaged never stopping an answer."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from bot.feedback import keeper
from bot.lifecycle import serve
from bot.service import DigitService, IncomingFile, Request
from tests.bot_process import PROJECT_ROOT
from tests.conftest import make_service
from tests.test_feedback_store import write_lock_held

ANN, BOB = ("discord", 1001), ("discord", 2002)


@pytest.fixture(scope="module")
def digit_png(mnist_test_split) -> bytes:
    images, labels = mnist_test_split
    image = Image.fromarray(255 - images[int(np.flatnonzero(labels == 7)[0])]).resize((112, 112))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def picture_request(data: bytes, user=ANN, platform: str = "discord") -> Request:
    async def fetch(max_bytes: int) -> bytes:
        return data

    return Request(user=user, platform=platform, files=[IncomingFile("digit.png", len(data), "image/png", fetch)])


async def read_one(service: DigitService, data: bytes, user=ANN, platform: str = "discord"):
    (reply,) = await service.answer(picture_request(data, user, platform))
    assert reply.answer is not None, reply.text
    return reply


@pytest.fixture
def service(model_path, database_url):
    service = make_service(model_path, database_url=database_url)
    yield service
    service.close()


async def test_the_sender_rates_an_answer_rating_again_replaces_and_stats_show_it(service, digit_png):
    reply = await read_one(service, digit_png)
    assert reply.answer_id and len(reply.answer_id) <= 32

    right = await service.rate("discord", ANN, reply.answer_id, "right")
    assert right.answer_mark == "✓ Marked right" and "Thanks" in right.reply.headline
    other = await service.rate("discord", BOB, reply.answer_id, "3")
    assert other.answer_mark is None and "Only the person who sent the picture" in other.reply.headline

    wrong_digit = "3" if reply.answer != "3" else "5"
    corrected = await service.rate("discord", ANN, reply.answer_id, wrong_digit)
    assert corrected.answer_mark == f"✎ Corrected to {wrong_digit}"
    stats = (await service.stats_async()).text
    assert "In the wild: 1 answer rated, 0.0% right (95% interval 0.0%–79.3%)." in stats
    assert f"Most often corrected: {reply.answer} → {wrong_digit} (1×)." in stats

    nonsense = await service.rate("discord", ANN, reply.answer_id, "seven")
    assert nonsense.answer_mark is None and nonsense.reply.is_error


async def test_forget_deletes_a_users_answers_so_they_can_no_longer_be_rated(service, digit_png):
    mine = await read_one(service, digit_png)
    theirs = await read_one(service, digit_png, user=BOB)
    await service.rate("discord", ANN, mine.answer_id, "right")

    assert "deleted the 1 answer" in (await service.forget("discord", ANN)).headline
    assert "nothing of yours" in (await service.forget("discord", ANN)).headline
    gone = await service.rate("discord", ANN, mine.answer_id, "right")
    assert gone.answer_mark is None and "no longer have that answer" in gone.reply.headline
    assert (await service.rate("discord", BOB, theirs.answer_id, "right")).answer_mark == "✓ Marked right"
    assert "In the wild: 1 answer rated, 100.0% right" in service.stats().text


async def test_counters_persist_across_a_restart_and_count_every_platform(model_path, database_url, digit_png):
    first = make_service(model_path, database_url=database_url)
    await read_one(first, digit_png, platform="discord")
    await read_one(first, digit_png, user=("telegram", 5), platform="telegram")
    first.close()

    second = make_service(model_path, database_url=database_url)
    try:
        await read_one(second, digit_png, platform="discord")
        text = (await second.stats_async()).text
        assert "Since start: 1 picture read" in text
        assert "All time, every platform: 3 pictures read (Discord 2, Telegram 1), median " in text
    finally:
        second.close()


async def test_a_locked_database_still_answers_and_says_the_verdict_was_not_saved(
    model_path, database_url, digit_png, caplog, monkeypatch
):
    monkeypatch.setattr(keeper, "RETRY_SECONDS", 0.5)
    service = make_service(model_path, database_url=database_url)
    try:
        stored = await read_one(service, digit_png)
        with write_lock_held(database_url), caplog.at_level(logging.WARNING, logger="bot.feedback"):
            unstored = await read_one(service, digit_png)
            started = time.perf_counter()
            rating = await service.rate("discord", ANN, stored.answer_id, "right")
            resting_seconds = time.perf_counter() - started
        assert unstored.answer_id is None and not unstored.is_error
        assert rating.answer_mark is None and "couldn't save your verdict" in rating.reply.headline
        assert resting_seconds < 0.2, "right after a failure the database is not waited for again"
        (failure,) = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
        assert "\n" not in failure and ("locked" in failure or "lock" in failure), failure
        await asyncio.sleep(0.6)
        assert (await service.rate("discord", ANN, stored.answer_id, "right")).answer_mark == "✓ Marked right"
    finally:
        service.close()


async def test_an_unreachable_postgresql_at_start_leaves_the_bot_answering(model_path, digit_png, caplog):
    with caplog.at_level(logging.WARNING, logger="bot.feedback"):
        service = make_service(model_path, database_url="postgresql://bot@127.0.0.1:1/digits")
    try:
        assert service.storage_problem is None
        assert len(caplog.records) == 1 and "not saved for now" in caplog.records[0].getMessage()
        reply = await read_one(service, digit_png)
        assert reply.answer_id is None
        assert "the answer database is out of reach" in (await service.stats_async()).text
        assert (await service.rate("discord", ANN, "0123456789abcdef", "right")).answer_mark is None
    finally:
        service.close()


@pytest.fixture
def corrupt_database_url(tmp_path) -> str:
    path = tmp_path / "digit-bot.sqlite3"
    path.write_bytes(b"not a database at all " * 100)
    return f"sqlite:///{path}"


async def test_a_corrupt_database_file_stops_the_start_with_one_line(model_path, corrupt_database_url, caplog):
    service = make_service(model_path, database_url=corrupt_database_url)
    try:
        problem = service.storage_problem
        assert problem and problem.startswith("DATABASE_URL: ") and "not a database" in problem and "\n" not in problem
        with caplog.at_level(logging.ERROR):
            assert await serve(service, []) == 1
        assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == [problem]
    finally:
        service.close()


def test_the_console_with_a_corrupt_database_exits_1_with_one_line(model_path, corrupt_database_url, tmp_path):
    environment = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": corrupt_database_url,
        "MODEL_PATH": str(model_path),
        "DISCORD_TOKEN": "",
        "TELEGRAM_TOKEN": "",
    }
    finished = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        cwd=tmp_path,  # no .env of a developer's
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1, finished.stderr
    errors = [line for line in finished.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not a database" in errors[0], finished.stderr
    assert "Traceback" not in finished.stderr and finished.stdout == ""


async def test_answering_deletes_unrated_answers_past_the_retention_off_the_reading_thread(
    model_path, database_url, digit_png
):
    from datetime import UTC, datetime

    from bot.feedback.store import FeedbackStore, StoredAnswer

    store = FeedbackStore.open(database_url)
    inputs = (np.zeros((28, 28), np.uint8),)
    old = StoredAnswer(
        "discord", store.user_key("discord", ANN), "7", 0.9, "m", inputs, time=datetime(2026, 1, 1, tzinfo=UTC)
    )
    store.record_answer(old)
    service = make_service(model_path, database_url=database_url, keep_unrated_days=30)
    try:
        reply = await read_one(service, digit_png)
        deadline = time.monotonic() + 10
        while store.rate(old.id, old.user_key, "right").status != "unknown":
            assert time.monotonic() < deadline, "the old unrated answer is still kept"
            await asyncio.sleep(0.05)
        rating = await service.rate("discord", ANN, reply.answer_id, "right")
        assert rating.answer_mark is not None, "today's answer stays to be rated"
    finally:
        service.close()
        store.close()
