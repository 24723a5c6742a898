"""Stopping the bot as systemd, Docker or Ctrl-C do: a real `python -m bot discord` process on a fake Discord."""

# The picture fixture comes from test_discord_bot and is a pytest parameter by name, which ruff reads as shadowing.
# ruff: noqa: F811

from __future__ import annotations

import signal
import time
from dataclasses import replace

import pytest

from fakes.discord_server import FakeDiscord, GatewayClose
from tests.bot_process import bot_process
from tests.conftest import MAX_IMAGE_BYTES
from tests.test_discord_bot import digit_pictures  # noqa: F401 (a fixture)

PICTURES = 20
DOWNLOAD_SECONDS = 1.0
STOP_SECONDS = 6.0  # from the signal to the exit, with every picture in flight answered


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_answers_every_picture_in_flight_then_exits_0(model_path, digit_pictures, stop_signal):
    async with FakeDiscord(heartbeat_interval_ms=1000) as fake:
        environment = {
            **fake.bot_environment(),
            "MODEL_PATH": str(model_path),
            "MAX_IMAGE_BYTES": str(MAX_IMAGE_BYTES),  # so that all 20 downloads fit the bytes-in-progress budget
            "USER_COOLDOWN_SECONDS": "0",
            "LOG_LEVEL": "INFO",
        }
        async with bot_process("discord", environment=environment) as bot:
            await fake.wait_until_ready_sent(timeout=30)
            slow = [replace(digit_pictures(n % 10), download_delay_seconds=DOWNLOAD_SECONDS) for n in range(PICTURES)]
            posted = [await fake.post_message("!predict", uploads=[picture]) for picture in slow]
            await fake.wait_for_downloads(PICTURES)

            signalled = time.perf_counter()
            exit_status = await bot.stop(stop_signal, timeout=STOP_SECONDS + 4)
            stop_seconds = time.perf_counter() - signalled
        closes = await fake.wait_for_gateway_closes(1)

    output = bot.output
    assert exit_status == 0, output
    assert stop_seconds < STOP_SECONDS, output
    answered = {message.reply_to for message in fake.sent}
    assert answered == {int(message["id"]) for message in posted}, "every picture in flight is answered"
    assert closes == [GatewayClose(1000, by_bot=True)], "a normal close: Discord ends the session at once"
    assert "Traceback" not in output and " ERROR " not in output, output
    stopping = [line for line in bot.log if "stopping" in line.lower()]
    assert len(stopping) == 1 and stop_signal.name in stopping[0], output
