"""The Discord bot end to end: the real discord.py client, our cogs and the model, against a fake Discord."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from PIL import Image

from bot.cli import run_discord
from bot.discord.client import DigitBot
from bot.discord.settings import DiscordSettings
from bot.service import DigitService
from fakes.discord_server import PNG_SIGNATURE, FakeDiscord, Intent, SentMessage, Upload
from tests.conftest import MAX_IMAGE_BYTES, blank_page_png, core_settings, first_digit, make_service

BURST_USERS = 8
DOWNLOAD_TIMEOUT_SECONDS = 0.5  # a download that hangs is given up well within a test


@pytest.fixture(scope="module")
def service(model_path) -> DigitService:
    service = make_service(model_path, download_timeout_seconds=DOWNLOAD_TIMEOUT_SECONDS)
    yield service
    service.close()


@pytest.fixture(scope="module")
def digit_pictures(readable_digit) -> Callable[..., Upload]:
    """`picture(7, nth=0)`: `readable_digit`'s picture as a Discord user attaches it, by default a PNG screenshot."""

    def picture(digit: int, *, nth: int = 0, style: str = "transparent_png") -> Upload:
        return Upload.picture(f"digit-{digit}-{nth}", readable_digit(digit, nth=nth, style=style))

    return picture


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval_ms=100) as fake:
        yield fake
        assert not fake.unknown_requests, f"the bot called routes the fake does not serve: {fake.unknown_requests}"


def settings_for(fake: FakeDiscord) -> DiscordSettings:
    """The bot's settings for `fake`: #digits read without a command, slash commands synced to its guild."""
    return DiscordSettings(
        token=fake.token,
        auto_predict_channels=frozenset({fake.digits_channel_id}),
        dev_guild_id=fake.guild_id,
        api_base=fake.api_base,
        gateway_url=fake.gateway_url,
    )


@pytest.fixture
def settings(discord_fake) -> DiscordSettings:
    return settings_for(discord_fake)


@asynccontextmanager
async def running_bot(settings: DiscordSettings, service: DigitService, fake: FakeDiscord) -> AsyncIterator[DigitBot]:
    """The bot, connected and holding the guild: what users can talk to (its on_ready waits 2 s more)."""
    bot = DigitBot(settings, service)
    running = asyncio.create_task(bot.start(settings.token))
    try:
        await fake.wait_until_ready_sent()
        while bot.get_channel(fake.digits_channel_id) is None:
            assert not running.done(), running.exception()
            await asyncio.sleep(0.01)
        yield bot
    finally:
        await bot.close()
        await running


@pytest.fixture
async def digit_bot(settings, service, discord_fake) -> AsyncIterator[DigitBot]:
    async with running_bot(settings, service, discord_fake) as bot:
        yield bot


def embed_digits(answer: SentMessage) -> list[int]:
    return [int(re.search(r"\d", embed["title"]).group()) for embed in answer.embeds]


async def test_predict_reads_a_photo_and_replies_with_digit_confidence_top_3_and_what_the_model_saw(
    digit_bot, discord_fake, digit_pictures
):
    photo = digit_pictures(7, style="paper_photo")
    posted = await discord_fake.post_message("!predict", uploads=[photo])

    answer = await discord_fake.answer_to(posted)

    assert first_digit(answer) == 7
    assert re.search(r"\d+(\.\d)?% sure", answer.text)
    assert "Top 3: 7 (" in answer.text
    (embed,) = answer.embeds
    picture_name = embed["image"]["url"].removeprefix("attachment://")
    with Image.open(io.BytesIO(answer.file(picture_name).data)) as seen:
        assert seen.size == (224, 224)


async def test_predict_answers_every_attached_picture_in_order(digit_bot, discord_fake, digit_pictures):
    posted = await discord_fake.post_message("!predict", uploads=[digit_pictures(d) for d in (3, 1, 4)])

    answer = await discord_fake.answer_to(posted)

    assert embed_digits(answer) == [3, 1, 4]
    assert len({file.filename for file in answer.files}) == 3


async def test_predict_in_reply_to_a_message_reads_that_messages_picture(digit_bot, discord_fake, digit_pictures):
    ada, bea = discord_fake.make_user("ada"), discord_fake.make_user("bea")
    original = await discord_fake.post_message("what's this?", author=ada, uploads=[digit_pictures(2)])
    request = await discord_fake.post_message("!predict", author=bea, reply_to=original)

    answer = await discord_fake.answer_to(request)

    assert first_digit(answer) == 2
    assert not [m for m in discord_fake.sent if m.reply_to == int(original["id"])], "#general is not auto-read"


async def test_pictures_in_an_auto_read_channel_and_in_a_dm_are_read_without_a_command(
    digit_bot, discord_fake, digit_pictures
):
    in_channel = await discord_fake.post_message(channel_id=discord_fake.digits_channel_id, uploads=[digit_pictures(5)])
    in_dm = await discord_fake.post_message(dm=True, author=discord_fake.make_user("cy"), uploads=[digit_pictures(9)])

    command = await discord_fake.post_message(
        "!predict", channel_id=discord_fake.digits_channel_id, uploads=[digit_pictures(3)]
    )

    assert first_digit(await discord_fake.answer_to(in_channel)) == 5
    assert first_digit(await discord_fake.answer_to(in_dm)) == 9
    assert first_digit(await discord_fake.answer_to(command)) == 3
    await asyncio.sleep(0.3)  # the bot's own answers, pictures included, come back over the gateway too
    assert len(discord_fake.sent) == 3, "one answer per message: none to the bot's own, none twice to a command"


async def test_slash_predict_defers_then_answers_with_the_picture(digit_bot, discord_fake, digit_pictures):
    interaction = await discord_fake.slash_command("predict", options={"image": digit_pictures(6)})

    answer = await discord_fake.answer_to(interaction)

    assert answer.via == "followup"
    assert first_digit(answer) == 6
    assert answer.files


async def test_read_digit_menu_reads_the_pictures_of_the_chosen_message(digit_bot, discord_fake, digit_pictures):
    target = await discord_fake.post_message("no command here", uploads=[digit_pictures(8)])

    interaction = await discord_fake.message_command("Read digit", target, user=discord_fake.make_user("dee"))

    assert first_digit(await discord_fake.answer_to(interaction)) == 8


async def test_stats_shows_the_model_card_live_counters_and_the_confusion_matrix(
    digit_bot, discord_fake, digit_pictures
):
    await discord_fake.answer_to(await discord_fake.post_message("!predict", uploads=[digit_pictures(0)]))

    answer = await discord_fake.answer_to(await discord_fake.post_message("!stats"))

    text = answer.text
    assert re.search(r"\d+\.\d\d% right on the MNIST test split", text)
    assert "Per digit: 0: " in text and "parameters, trained 20" in text
    assert re.search(r"[1-9][\d,]* pictures? read, median \d+\.\d ms per picture, up \d+ s", text)
    assert answer.file("confusion-matrix.png").data.startswith(PNG_SIGNATURE)


async def test_help_introduces_the_bot_and_lists_the_commands(digit_bot, discord_fake):
    answer = await discord_fake.answer_to(await discord_fake.post_message("!help"))

    assert answer.text.startswith("I read the handwritten digit in a picture")
    for command in ("!predict", "/predict", "Read digit", "!stats", "!help"):
        assert command in answer.text


@pytest.mark.parametrize(
    ("upload", "words", "downloaded"),
    [
        (Upload("notes.txt", b"seven", "text/plain"), "isn't a picture", False),
        (Upload("cut-off.png", PNG_SIGNATURE + b"\x00\x00\x00\rIHDR\x00\x00"), "broken", True),
        (Upload("huge.png", PNG_SIGNATURE + bytes(MAX_IMAGE_BYTES)), "too large", False),
        (Upload("blank.png", blank_page_png()), "couldn't find a digit", True),
    ],
    ids=["text file", "broken image", "oversized", "blank page"],
)
async def test_files_that_are_not_readable_pictures_get_friendly_answers(
    digit_bot, discord_fake, upload, words, downloaded
):
    answer = await discord_fake.answer_to(await discord_fake.post_message("!predict", uploads=[upload]))

    assert words in answer.text
    assert "Traceback" not in answer.text
    assert bool(discord_fake.downloads) is downloaded, "size and type are checked before downloading"


async def test_predict_without_a_picture_says_how_to_send_one(digit_bot, discord_fake):
    answer = await discord_fake.answer_to(await discord_fake.post_message("!predict"))

    assert "no picture" in answer.text and "Attach an image" in answer.text


async def test_a_download_that_hangs_gets_a_friendly_answer(digit_bot, discord_fake, digit_pictures):
    slow = replace(digit_pictures(4), download_delay_seconds=1.5)

    answer = await discord_fake.answer_to(await discord_fake.post_message("!predict", uploads=[slow]))

    assert "send it again" in answer.text


async def test_a_picture_inside_the_cooldown_waits_its_turn_and_spam_gets_one_notice(
    settings, model_path, discord_fake, digit_pictures
):
    ed = discord_fake.make_user("ed")
    slow_service = make_service(model_path, user_cooldown_seconds=2, download_timeout_seconds=DOWNLOAD_TIMEOUT_SECONDS)
    try:
        async with running_bot(settings, slow_service, discord_fake):
            posts = [
                await discord_fake.post_message("!predict", author=ed, uploads=[digit_pictures(1, nth=nth)])
                for nth in range(5)
            ]
            first, waiting = posts[0], posts[1]
            assert first_digit(await discord_fake.answer_to(first)) == 1
            notice = await discord_fake.answer_to(posts[2])
            started = time.perf_counter()
            assert first_digit(await discord_fake.answer_to(waiting)) == 1, "the second picture is read, not dropped"
            assert time.perf_counter() - started > 0.5, "after the cooldown"
            await asyncio.sleep(0.3)

        assert "One moment" in notice.text
        answered = {message.reply_to for message in discord_fake.sent}
        assert answered == {int(post["id"]) for post in posts[:3]}, "one notice, not one per message"
    finally:
        slow_service.close()


async def test_a_burst_of_40_pictures_from_8_users_is_all_answered_while_heartbeats_stay_prompt(
    digit_bot, discord_fake, digit_pictures
):
    users = [discord_fake.make_user(f"user{n}") for n in range(BURST_USERS)]
    pictures = [(digit, digit_pictures(digit, nth=nth)) for nth in range(4) for digit in range(10)]
    await discord_fake.wait_for_heartbeats(3)
    burst_started = discord_fake.clock()
    started = time.perf_counter()

    posted = await asyncio.gather(
        *(
            discord_fake.post_message("!predict", author=users[index % BURST_USERS], uploads=[picture])
            for index, (_, picture) in enumerate(pictures)
        )
    )
    answers = [await discord_fake.answer_to(message) for message in posted]
    wall_seconds = time.perf_counter() - started
    await discord_fake.wait_for_heartbeats(len(discord_fake.heartbeats) + 2)

    lags = discord_fake.heartbeat_lags_ms(since=burst_started)
    assert [first_digit(answer) for answer in answers] == [digit for digit, _ in pictures]
    assert len(lags) >= 3 and max(lags) < 100, f"heartbeat lags (ms): {lags}"
    assert wall_seconds < 10


async def test_slash_commands_sync_to_the_dev_guild_at_start_and_globally_only_on_the_owners_sync(
    digit_bot, discord_fake
):
    assert [sync.guild_id for sync in discord_fake.command_syncs] == [discord_fake.guild_id]
    assert set(discord_fake.command_syncs[0].names) == {"predict", "stats", "help", "Read digit", "correct", "forget"}

    refused = await discord_fake.post_message("!sync", author=discord_fake.make_user("mallory"))
    assert "Only the bot's owner" in (await discord_fake.answer_to(refused)).text
    synced = await discord_fake.post_message("!sync", author=discord_fake.owner)
    assert "Synced 6 commands" in (await discord_fake.answer_to(synced)).text
    assert [sync.guild_id for sync in discord_fake.command_syncs] == [discord_fake.guild_id, None]


async def test_the_bot_asks_only_for_the_intents_it_needs(digit_bot, discord_fake):
    wanted = Intent.GUILDS | Intent.GUILD_MESSAGES | Intent.DM_MESSAGES | Intent.MESSAGE_CONTENT
    assert discord_fake.identify["intents"] == wanted


async def test_the_token_never_reaches_the_logs(settings, service, discord_fake, digit_pictures, caplog):
    caplog.set_level(logging.DEBUG)
    async with running_bot(settings, service, discord_fake):
        posted = await discord_fake.post_message("!predict", uploads=[digit_pictures(3)])
        await discord_fake.answer_to(posted)

    assert caplog.records, "logging was captured"
    assert discord_fake.token not in caplog.text


@pytest.mark.parametrize(
    ("fake_options", "token", "advice"),
    [
        ({}, "not-the-token", "Discord refused the token"),
        ({"message_content_enabled": False}, None, "Turn on the Message Content Intent"),
    ],
    ids=["wrong token", "message content intent off"],
)
async def test_run_bot_explains_a_refused_start_in_one_line_and_exits_1(
    settings, model_path, fake_options, token, advice, caplog
):
    async with FakeDiscord(**fake_options) as fake:
        start_settings = replace(
            settings, token=token or fake.token, api_base=fake.api_base, gateway_url=fake.gateway_url
        )
        exit_status = await asyncio.to_thread(run_discord, core_settings(model_path), start_settings)

    assert exit_status == 1
    assert advice in caplog.text
