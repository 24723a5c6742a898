"""Both chat front ends in one `python -m bot` process, against both fakes at once: one service, a clean SIGTERM."""

from __future__ import annotations

import re
import signal

from fakes.discord_server import FakeDiscord, Upload
from fakes.telegram_server import FakeTelegram, Photo
from tests.bot_process import bot_process


async def test_one_process_answers_on_discord_and_telegram_counts_both_and_stops_cleanly_on_sigterm(
    readable_digit, shipped_model_path
):
    discord_digit, telegram_digit = 7, 2
    discord_picture, telegram_picture = readable_digit(discord_digit), readable_digit(telegram_digit)
    async with FakeDiscord() as discord_fake, FakeTelegram() as telegram_fake:
        environment = {
            "DISCORD_TOKEN": discord_fake.token,
            "DISCORD_API_BASE": discord_fake.api_base,
            "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
            "TELEGRAM_TOKEN": telegram_fake.token,
            "TELEGRAM_API_BASE": telegram_fake.api_base,
            "MODEL_PATH": str(shipped_model_path),
            "USER_COOLDOWN_SECONDS": "0",
        }
        async with bot_process(environment=environment) as bot:
            await discord_fake.wait_until_ready_sent(timeout=30)
            await telegram_fake.wait_until_polling(timeout=30)
            on_discord = await discord_fake.post_message("!predict", uploads=[Upload.picture("digit", discord_picture)])
            on_telegram = await telegram_fake.post_message(attachment=Photo.of(telegram_picture))
            discord_answer = await discord_fake.answer_to(on_discord, timeout=30)
            telegram_answer = await telegram_fake.answer_to(on_telegram, timeout=30)
            stats = await telegram_fake.answer_to(await telegram_fake.post_message("/stats"))

            status = await bot.stop(signal.SIGTERM, timeout=20)
        output = bot.output

    assert re.search(r"\d", discord_answer.text).group() == str(discord_digit)
    assert re.search(r"\d", telegram_answer.text).group() == str(telegram_digit)
    assert "2 pictures read" in stats.text, "one service counts what both front ends read"
    assert status == 0, output
    assert "SIGTERM" in output and "Stopped cleanly" in output
    assert "Traceback" not in output
    assert discord_fake.token not in output and telegram_fake.token not in output
