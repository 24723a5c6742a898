"""Both chat front ends in one `python -m bot` process, against both fakes at once: one service, a clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from fakes.discord_server import FakeDiscord, Upload
from fakes.telegram_server import FakeTelegram, Photo
from model_training.chat_pictures import render_chat_picture

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def two_pictures(mnist_test_split, recognizer) -> list[tuple[int, bytes]]:
    """Two MNIST test digits drawn as photos, each one the model reads right: the test is about plumbing."""
    images, labels = mnist_test_split
    pictures = [
        (int(labels[index]), render_chat_picture(images[index], "paper_photo", np.random.default_rng(index)))
        for index in (0, 1)
    ]
    for digit, data in pictures:
        assert recognizer.read(data).digit == digit
    return pictures


async def test_one_process_answers_on_discord_and_telegram_counts_both_and_stops_cleanly_on_sigterm(
    two_pictures, shipped_model_path
):
    (discord_digit, discord_picture), (telegram_digit, telegram_picture) = two_pictures
    async with FakeDiscord() as discord_fake, FakeTelegram() as telegram_fake:
        environment = {
            **os.environ,
            "DISCORD_TOKEN": discord_fake.token,
            "DISCORD_API_BASE": discord_fake.api_base,
            "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
            "TELEGRAM_TOKEN": telegram_fake.token,
            "TELEGRAM_API_BASE": telegram_fake.api_base,
            "MODEL_PATH": str(shipped_model_path),
            "USER_COOLDOWN_SECONDS": "0",
        }
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            env=environment,
            cwd=PROJECT_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await discord_fake.wait_until_ready_sent(timeout=30)
            await telegram_fake.wait_until_polling(timeout=30)
            on_discord = await discord_fake.post_message("!predict", uploads=[Upload.picture("digit", discord_picture)])
            on_telegram = await telegram_fake.post_message(attachment=Photo.of(telegram_picture))
            discord_answer = await discord_fake.answer_to(on_discord, timeout=30)
            telegram_answer = await telegram_fake.answer_to(on_telegram, timeout=30)
            stats = await telegram_fake.answer_to(await telegram_fake.post_message("/stats"))

            bot.send_signal(signal.SIGTERM)
            status = await asyncio.wait_for(bot.wait(), 20)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
        output = (await bot.stdout.read()).decode(errors="replace")

    assert re.search(r"\d", discord_answer.text).group() == str(discord_digit)
    assert re.search(r"\d", telegram_answer.text).group() == str(telegram_digit)
    assert "2 pictures read" in stats.text, "one service counts what both front ends read"
    assert status == 0, output
    assert "SIGTERM" in output and "Stopped cleanly" in output
    assert "Traceback" not in output
    assert discord_fake.token not in output and telegram_fake.token not in output
