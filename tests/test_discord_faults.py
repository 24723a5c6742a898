"""The Discord bot when Discord or its CDN fails: at start-up, while answering, and on its pictures' downloads."""

# The Discord fixtures come from test_discord_bot and are pytest parameters by name, which ruff reads as shadowing.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from bot.cli import run_discord
from bot.discord.client import make_bot
from fakes.discord_server import PNG_SIGNATURE, FakeDiscord, Upload
from tests.conftest import core_settings, first_digit
from tests.test_discord_bot import (  # noqa: F401 (fixtures, used by name)
    digit_bot,
    digit_pictures,
    discord_fake,
    running_bot,
    service,
    settings,
    settings_for,
)

STARTUP_FAILURE_SECONDS = 10  # what an operator waits at most for the one line that says why the bot did not start
SOCKET_BUFFERS_BYTES = 1024 * 1024  # past a capped download, what loopback sockets hold: 0.2-0.5 MB measured


def closed_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]


def problems(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


async def wait_for_log(
    caplog: pytest.LogCaptureFixture, matches: Callable[[logging.LogRecord], bool], timeout: float = 10.0
) -> logging.LogRecord:
    deadline = time.monotonic() + timeout
    while not (found := [record for record in caplog.records if matches(record)]):
        assert time.monotonic() < deadline, f"no such log record in {timeout} s; logged:\n{caplog.text}"
        await asyncio.sleep(0.01)
    return found[0]


# ---- start-up: one line, exit 1, within 10 s ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fake_options", "gateway_unreachable", "advice"),
    [
        ({"gateway_close_code": 4004}, False, "Discord refused the token: check DISCORD_TOKEN"),
        ({}, True, "Could not reach Discord's gateway at ws://127.0.0.1:"),
        ({"command_sync_status": 403}, False, "applications.commands"),
        ({"login_status": 500}, False, "Discord answered with a server error (HTTP 500)"),
    ],
    ids=["gateway closes 4004", "gateway unreachable", "command sync 403", "login 500"],
)
async def test_a_failed_start_is_one_line_and_exit_1_within_10_s(
    model_path, fake_options, gateway_unreachable, advice, caplog
):
    caplog.set_level(logging.INFO)
    async with FakeDiscord(**fake_options) as fake:
        start_settings = settings_for(fake)
        if gateway_unreachable:
            start_settings = replace(start_settings, gateway_url=f"ws://127.0.0.1:{closed_port()}/")
        started = time.perf_counter()
        exit_status = await asyncio.to_thread(run_discord, core_settings(model_path), start_settings)
        seconds = time.perf_counter() - started

    assert exit_status == 1
    assert seconds < STARTUP_FAILURE_SECONDS
    (line,) = problems(caplog)
    assert advice in line.getMessage()
    assert line.exc_info is None and "Traceback" not in caplog.text
    assert fake.token not in caplog.text


async def test_a_command_sync_refused_names_dev_guild_id(model_path, caplog):
    async with FakeDiscord(command_sync_status=403) as fake:
        assert await asyncio.to_thread(run_discord, core_settings(model_path), settings_for(fake)) == 1

    (line,) = problems(caplog)
    assert f"DEV_GUILD_ID={fake.guild_id}" in line.getMessage()
    assert "network" not in line.getMessage()


# ---- sending answers ---------------------------------------------------------------------------------------


async def test_a_message_deleted_before_its_answer_still_gets_it_in_the_channel(
    digit_bot, discord_fake, digit_pictures, caplog
):
    slow = replace(digit_pictures(3), download_delay_seconds=0.3)
    posted = await discord_fake.post_message("!predict", uploads=[slow])
    await discord_fake.wait_for_downloads(1)
    await discord_fake.delete_message(posted)

    (answer,) = await discord_fake.wait_for_sent(where=lambda message: message.via == "channel")

    assert first_digit(answer) == 3
    assert answer.channel_id == discord_fake.general_channel_id and answer.reply_to is None
    assert not discord_fake.refused_sends
    assert not problems(caplog)


async def test_without_permission_to_answer_the_bot_logs_one_warning_and_no_traceback(
    digit_bot, discord_fake, digit_pictures, caplog
):
    discord_fake.forbidden_channels.add(discord_fake.digits_channel_id)

    await discord_fake.post_message("!predict", channel_id=discord_fake.digits_channel_id, uploads=[digit_pictures(1)])
    await discord_fake.wait_for_refused_sends(1)
    await wait_for_log(caplog, lambda record: "Missing Permissions" in record.getMessage())

    (warning,) = problems(caplog)
    assert warning.levelno == logging.WARNING and warning.exc_info is None
    assert "403" in warning.getMessage()
    assert len(discord_fake.refused_sends) == 1 and not discord_fake.sent


@pytest.mark.parametrize(
    ("how", "status"),
    [("!predict", 503), ("auto-read channel", 503), ("/predict", 404), ("Read digit menu", 404)],
)
async def test_when_sending_fails_the_error_handler_does_not_send_again(
    digit_bot, discord_fake, digit_pictures, caplog, how, status
):
    # A 500 fails the same way, after discord.py's own five tries (25 s); these fail at once. A follow-up is
    # retried on any 5xx, so it gets a 404 (an interaction token that expired).
    discord_fake.send_status = status
    picture = digit_pictures(2)
    if how == "!predict":
        await discord_fake.post_message("!predict", uploads=[picture])
    elif how == "auto-read channel":
        await discord_fake.post_message(channel_id=discord_fake.digits_channel_id, uploads=[picture])
    elif how == "/predict":
        await discord_fake.slash_command("predict", options={"image": picture})
    else:
        target = await discord_fake.post_message("look", uploads=[picture])
        await discord_fake.message_command("Read digit", target)

    await discord_fake.wait_for_refused_sends(1)
    await wait_for_log(caplog, lambda record: str(status) in record.getMessage())

    assert len(discord_fake.refused_sends) == 1, "one try at the answer, none at an answer to the failure"
    (warning,) = problems(caplog)
    assert warning.levelno == logging.WARNING and warning.exc_info is None


async def test_past_discords_channel_send_limit_every_answer_still_arrives(service, digit_pictures, caplog):
    limited = FakeDiscord(heartbeat_interval_ms=100, channel_send_limit=(3, 0.5))
    async with limited as fake, running_bot(settings_for(fake), service, fake):
        started = time.perf_counter()
        posted = await asyncio.gather(
            *(fake.post_message("!predict", uploads=[digit_pictures(digit)]) for digit in range(7))
        )
        answers = [await fake.answer_to(message) for message in posted]
        seconds = time.perf_counter() - started

    assert [first_digit(answer) for answer in answers] == list(range(7))
    assert seconds >= 1.0, "seven answers at three per half second take three windows"
    assert not [record for record in problems(caplog) if record.levelno >= logging.ERROR]


async def test_under_the_send_limit_a_newcomers_answer_goes_before_a_flooding_users_backlog(service, digit_pictures):
    limited = FakeDiscord(heartbeat_interval_ms=100, channel_send_limit=(2, 0.5))
    async with limited as fake, running_bot(settings_for(fake), service, fake):
        flooder, newcomer = fake.make_user("flooder"), fake.make_user("newcomer")
        flood = await asyncio.gather(
            *(fake.post_message("!predict", author=flooder, uploads=[digit_pictures(d)]) for d in range(8))
        )
        await fake.answer_to(flood[0])
        question = await fake.post_message("!predict", author=newcomer, uploads=[digit_pictures(5, nth=1)])
        answer = await fake.answer_to(question)
        flood_answers = [await fake.answer_to(message) for message in flood]

    assert first_digit(answer) == 5
    answered_after = [reply for reply in flood_answers if reply.id > answer.id]
    assert len(answered_after) >= 4, "the newcomer did not wait behind the flood"


# ---- the "Read digit" menu and unexpected errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("uploads", "words"),
    [([Upload("notes.txt", b"seven", "text/plain")], "isn't a picture"), ([], "no picture")],
    ids=["a text file", "no file"],
)
async def test_the_read_digit_menu_on_a_message_without_a_picture_answers_in_a_follow_up(
    digit_bot, discord_fake, uploads, words
):
    target = await discord_fake.post_message("just words", uploads=uploads)

    answer = await discord_fake.answer_to(await discord_fake.message_command("Read digit", target))

    assert answer.via == "followup"
    assert words in answer.text


async def test_a_bug_in_a_command_is_one_logged_traceback_and_a_polite_answer(
    digit_bot, discord_fake, digit_pictures, caplog, monkeypatch
):
    async def broken_answer(request):
        raise RuntimeError("a bug in the bot")

    monkeypatch.setattr(digit_bot.service, "answer", broken_answer)

    answer = await discord_fake.answer_to(await discord_fake.post_message("!predict", uploads=[digit_pictures(5)]))

    assert "Something went wrong on my side." in answer.text
    (error,) = problems(caplog)
    assert error.levelno == logging.ERROR and error.exc_info is not None
    assert "a bug in the bot" in caplog.text


# ---- the CDN ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500])
async def test_a_picture_the_cdn_fails_to_serve_is_named_and_the_others_are_read(
    digit_bot, discord_fake, digit_pictures, status
):
    missing = replace(digit_pictures(4), filename="missing.png", cdn_status=status)

    posted = await discord_fake.post_message("!predict", uploads=[digit_pictures(6), missing, digit_pictures(9)])
    answer = await discord_fake.answer_to(posted)

    first, failed, last = (embed["title"] for embed in answer.embeds)
    assert first.startswith("6") and last.startswith("9"), "the digit comes first in an answer's title"
    assert failed.startswith("I couldn't get that picture")


@pytest.mark.parametrize("chunked", [False, True], ids=["with Content-Length", "chunked"])
async def test_a_cdn_sending_far_more_than_declared_is_cut_off_past_the_declared_size(digit_bot, discord_fake, chunked):
    flood = Upload("flood.png", PNG_SIGNATURE, declared_size=50_000, served_size=200_000_000, chunked=chunked)

    answer = await discord_fake.answer_to(await discord_fake.post_message("!predict", uploads=[flood]))

    assert "I couldn't get that picture" in answer.text, "not the picture Discord announced"
    assert discord_fake.bytes_served_of("flood.png") <= 50_000 + SOCKET_BUFFERS_BYTES


# ---- sharding --------------------------------------------------------------------------------------------------


async def test_a_sharded_bot_identifies_each_shard_and_answers(settings, service, discord_fake, digit_pictures):
    bot = make_bot(replace(settings, shard_count=2), service)
    async with bot:
        running = asyncio.create_task(bot.start(settings.token))
        identifies = await discord_fake.wait_for_identifies(2, timeout=15)  # discord.py waits 5 s between shards
        posted = await discord_fake.post_message("!predict", uploads=[digit_pictures(7)])
        answer = await discord_fake.answer_to(posted)
        await bot.close()
        await running

    assert sorted(identify["shard"] for identify in identifies) == [[0, 2], [1, 2]]
    assert first_digit(answer) == 7
