"""The Telegram bot end to end: the real python-telegram-bot client, our handlers and the model, against a fake
Bot API on 127.0.0.1."""

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

from bot.cli import run_telegram
from bot.lifecycle import StartupFailed
from bot.service import DigitService
from bot.telegram.application import TelegramFrontEnd
from bot.telegram.settings import TelegramSettings
from fakes.telegram_server import Document, FakeTelegram, Photo, Sticker, Voice
from tests.conftest import MAX_IMAGE_BYTES, blank_page_png, core_settings, first_digit, make_service

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# python-telegram-bot 22 warns about its own use of RetryAfter.retry_after when a 429 comes.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@pytest.fixture(scope="module")
def service(model_path) -> DigitService:
    service = make_service(model_path, download_timeout_seconds=2.0)
    yield service
    service.close()


@pytest.fixture
def photo(readable_digit) -> Callable[..., Photo]:
    """`photo(7, nth=0)`: `readable_digit`'s picture as Telegram keeps a photo, with its thumbnails."""
    return lambda digit, nth=0: Photo.of(readable_digit(digit, nth=nth))


@pytest.fixture
async def telegram_fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake
        assert not fake.unknown_requests, f"the bot called methods the fake does not serve: {fake.unknown_requests}"


@pytest.fixture
def auto_group(telegram_fake) -> dict:
    """A group listed in TELEGRAM_AUTO_PREDICT_CHATS, where the bot sees every message (privacy mode off)."""
    return telegram_fake.make_group("digits", privacy_mode=False)


@pytest.fixture
def settings(telegram_fake, auto_group) -> TelegramSettings:
    return TelegramSettings(
        token=telegram_fake.token, api_base=telegram_fake.api_base, auto_predict_chats=frozenset({auto_group["id"]})
    )


@asynccontextmanager
async def running_bot(settings: TelegramSettings, service: DigitService, fake: FakeTelegram) -> AsyncIterator[None]:
    """The bot, started and polling: what users can talk to."""
    front_end = TelegramFrontEnd(settings, service)
    running = asyncio.create_task(front_end.run())
    try:
        await fake.wait_until_polling()
        yield
    finally:
        await front_end.close()
        await asyncio.wait_for(running, 10)


@pytest.fixture
async def telegram_bot(settings, service, telegram_fake) -> AsyncIterator[None]:
    async with running_bot(settings, service, telegram_fake):
        yield


async def test_a_photo_in_a_private_chat_gets_a_reply_with_the_digit_and_the_picture_the_model_saw(
    telegram_bot, telegram_fake, readable_digit
):
    photo = Photo.of(readable_digit(7))
    posted = await telegram_fake.post_message(attachment=photo)

    answer = await telegram_fake.answer_to(posted)

    assert answer.method == "sendPhoto"
    assert first_digit(answer) == 7
    assert re.search(r"\d+(\.\d)?% sure", answer.text) and "Top 3: 7 (" in answer.text
    assert answer.bold == [answer.text.splitlines()[0]], "the headline is bold"
    with Image.open(io.BytesIO(answer.photo)) as seen:
        assert seen.size == (224, 224)
    largest = posted["photo"][-1]
    assert telegram_fake.file_requests == [largest["file_id"]], "the largest copy, and only it, is fetched"


async def test_an_image_sent_as_a_file_is_read_from_its_original_bytes(telegram_bot, telegram_fake, readable_digit):
    picture = Document("digit-3.png", readable_digit(3, style="transparent_png"), "image/png")
    posted = await telegram_fake.post_message(attachment=picture)

    answer = await telegram_fake.answer_to(posted)

    assert first_digit(answer) == 3
    assert "Picture: digit-3.png" in answer.text


async def test_predict_as_a_photos_caption_is_answered_in_a_group(telegram_bot, telegram_fake, photo):
    group = telegram_fake.make_group("class 4b")  # privacy mode: the bot gets commands only
    posted = await telegram_fake.post_message("/predict", chat=group, attachment=photo(5))

    assert first_digit(await telegram_fake.answer_to(posted)) == 5


async def test_in_a_group_a_plain_photo_is_ignored_and_predict_at_botname_in_reply_to_it_reads_it(
    telegram_bot, telegram_fake, photo
):
    group = telegram_fake.make_group("maths", privacy_mode=False)  # the bot sees everything, and must choose
    ada, bea = telegram_fake.make_user("ada"), telegram_fake.make_user("bea")
    original = await telegram_fake.post_message(user=ada, chat=group, attachment=photo(2))
    request = await telegram_fake.post_message(
        f"/predict@{telegram_fake.bot_username}", user=bea, chat=group, reply_to=original
    )

    answer = await telegram_fake.answer_to(request)

    assert first_digit(answer) == 2
    await asyncio.sleep(0.2)
    assert telegram_fake.answers_in(group) == [answer], "nothing for the photo alone"


async def test_predict_for_another_bot_is_left_to_it(telegram_bot, telegram_fake, photo):
    group = telegram_fake.make_group("maths", privacy_mode=False)
    await telegram_fake.post_message("/predict@other_bot", chat=group, attachment=photo(1))
    await telegram_fake.post_message("/stats@other_bot", chat=group)

    await telegram_fake.answer_to(await telegram_fake.post_message("/help"))  # later, in a private chat

    await asyncio.sleep(0.2)
    assert telegram_fake.answers_in(group) == []


async def test_stats_shows_the_model_card_live_counters_and_the_confusion_matrix(telegram_bot, telegram_fake, photo):
    await telegram_fake.answer_to(await telegram_fake.post_message(attachment=photo(0)))

    answer = await telegram_fake.answer_to(await telegram_fake.post_message("/stats"))

    assert re.search(r"\d+\.\d\d% right on the MNIST test split", answer.text)
    assert "Per digit: 0: " in answer.text and "parameters, trained 20" in answer.text
    assert re.search(r"[1-9][\d,]* pictures? read, median \d+\.\d ms per picture", answer.text)
    assert answer.photo.startswith(PNG_SIGNATURE), "the confusion matrix"


@pytest.mark.parametrize("command", ["/start", "/help"])
async def test_start_and_help_introduce_the_bot_and_list_the_commands_of_its_menu(telegram_bot, telegram_fake, command):
    answer = await telegram_fake.answer_to(await telegram_fake.post_message(command))

    assert answer.text.startswith("I read the handwritten digit in a picture")
    menu = [entry["command"] for entry in telegram_fake.commands]
    assert menu == ["start", "help", "predict", "correct", "forget", "stats"], "setMyCommands at start-up"
    for name in ("/predict", "/correct", "/forget", "/stats", "/help"):
        assert name in answer.text


@pytest.mark.parametrize(
    ("attachment", "words", "downloaded"),
    [
        (Sticker(), "isn't a picture", False),
        (Sticker(b"RIFF fake webp", kind="static"), "isn't a picture", False),
        (Voice(), "isn't a picture", False),
        (Document("notes.txt", b"seven", "text/plain"), "isn't a picture", False),
        (Document("scan.pdf", b"%PDF-1.7", "application/pdf"), "isn't a picture", False),
        (Document("cut-off.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"), "broken", True),
        (Document("huge.png", PNG_SIGNATURE + bytes(MAX_IMAGE_BYTES), "image/png"), "too large", False),
        (Document("blank.png", blank_page_png(), "image/png"), "couldn't find a digit", True),
    ],
    ids=["sticker", "static sticker", "voice note", "text file", "PDF", "broken JPEG", "oversized", "blank page"],
)
async def test_what_is_not_a_readable_picture_gets_a_friendly_answer_in_a_private_chat(
    telegram_bot, telegram_fake, attachment, words, downloaded
):
    answer = await telegram_fake.answer_to(await telegram_fake.post_message(attachment=attachment))

    assert words in answer.text
    assert "Traceback" not in answer.text
    assert bool(telegram_fake.file_requests) is downloaded, "type and size are checked before getFile"


async def test_a_text_in_a_private_chat_says_how_to_send_a_picture(telegram_bot, telegram_fake):
    answer = await telegram_fake.answer_to(await telegram_fake.post_message("what are you?"))

    assert "no picture" in answer.text and "Attach an image" in answer.text


async def test_an_auto_read_group_has_its_pictures_read_and_other_files_passed_over_in_silence(
    telegram_bot, telegram_fake, auto_group, photo
):
    voice = await telegram_fake.post_message(chat=auto_group, attachment=Voice())
    sticker = await telegram_fake.post_message(chat=auto_group, attachment=Sticker())
    picture = await telegram_fake.post_message(chat=auto_group, attachment=photo(9))

    assert first_digit(await telegram_fake.answer_to(picture)) == 9
    await asyncio.sleep(0.2)
    answered = {message.reply_to for message in telegram_fake.answers_in(auto_group)}
    assert answered == {picture["message_id"]}, f"not the voice note {voice} nor the sticker {sticker}"


async def test_an_album_gets_an_answer_under_each_picture(telegram_bot, telegram_fake, photo):
    album = await telegram_fake.post_album([photo(3), photo(8), photo(6)])

    answers = [await telegram_fake.answer_to(message) for message in album]

    assert [first_digit(answer) for answer in answers] == [3, 8, 6]


async def test_a_photo_whose_largest_copy_is_over_the_limit_is_read_from_a_smaller_copy(
    telegram_bot, telegram_fake, readable_digit
):
    photo = Photo.of(readable_digit(4), declared_size=MAX_IMAGE_BYTES + 1)
    posted = await telegram_fake.post_message(attachment=photo)

    answer = await telegram_fake.answer_to(posted)

    assert answer.method == "sendPhoto", "read, not refused"
    assert telegram_fake.file_requests == [posted["photo"][-2]["file_id"]]


async def test_a_429_on_sending_the_answer_is_waited_out_and_the_answer_arrives(telegram_bot, telegram_fake, photo):
    telegram_fake.fail_next("sendPhoto", 429, retry_after=1)

    answer = await telegram_fake.answer_to(await telegram_fake.post_message(attachment=photo(6)))
    answered_at = telegram_fake.clock()

    assert first_digit(answer) == 6
    (refusal,) = telegram_fake.refusals
    assert refusal.status == 429
    assert answered_at - refusal.at >= 1.0, "after the retry_after Telegram asked for"


async def test_a_user_who_blocked_the_bot_costs_one_warning_and_no_second_try(
    telegram_bot, telegram_fake, photo, caplog
):
    telegram_fake.fail_next("sendPhoto", 403, description="Forbidden: bot was blocked by the user")
    posted = await telegram_fake.post_message(attachment=photo(5))

    await telegram_fake.wait_for_refusals(1)
    await telegram_fake.answer_to(await telegram_fake.post_message("/help"))  # later, from someone else
    await asyncio.sleep(0.2)

    assert not [message for message in telegram_fake.sent if message.reply_to == posted["message_id"]]
    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert warnings == ["Could not answer on Telegram: Forbidden: bot was blocked by the user (Forbidden)"]


async def test_a_bug_is_logged_with_its_traceback_and_the_user_gets_an_apology(
    telegram_bot, telegram_fake, service, monkeypatch, caplog
):
    def broken_stats() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "stats", broken_stats)

    answer = await telegram_fake.answer_to(await telegram_fake.post_message("/stats"))

    assert answer.text.startswith("Something went wrong on my side.")
    (error,) = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert error.exc_info and "a bug" in str(error.exc_info[1])


async def test_a_502_from_getupdates_is_one_log_line_and_polling_goes_on(
    settings, service, telegram_fake, photo, caplog
):
    telegram_fake.fail_next("getUpdates", 502)
    caplog.set_level(logging.INFO)
    async with running_bot(settings, service, telegram_fake):
        answer = await telegram_fake.answer_to(await telegram_fake.post_message(attachment=photo(8)))

    assert first_digit(answer) == 8
    assert [refusal.status for refusal in telegram_fake.refusals] == [502]
    assert "Getting updates from Telegram failed" in caplog.text
    assert not [record for record in caplog.records if record.exc_info], "no traceback"


async def test_edited_messages_and_unknown_updates_are_passed_over_without_errors(
    telegram_bot, telegram_fake, photo, caplog
):
    edited = await telegram_fake.post_message("/predict", chat=telegram_fake.make_group("g"), attachment=photo(2))
    await telegram_fake.post_update("edited_message", {**edited, "edit_date": edited["date"] + 5})
    await telegram_fake.post_update("message_from_the_future", {"id": 1, "what": "a kind the bot never heard of"})
    posted = await telegram_fake.post_message(attachment=photo(7))

    assert first_digit(await telegram_fake.answer_to(posted)) == 7
    await telegram_fake.answer_to(edited)
    await asyncio.sleep(0.2)
    assert len(telegram_fake.sent) == 2, "nothing for the edit nor the unknown update"
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


async def test_a_burst_of_40_photos_from_40_users_is_all_answered(telegram_bot, telegram_fake, photo):
    pictures = [(digit, photo(digit, nth)) for nth in range(4) for digit in range(10)]
    users = [telegram_fake.make_user(f"user{n}") for n in range(len(pictures))]
    started = time.perf_counter()

    posted = await asyncio.gather(
        *(
            telegram_fake.post_message(user=user, attachment=picture)
            for user, (_, picture) in zip(users, pictures, strict=True)
        )
    )
    answers = [await telegram_fake.answer_to(message, timeout=30) for message in posted]

    assert [first_digit(answer) for answer in answers] == [digit for digit, _ in pictures]
    assert time.perf_counter() - started < 15


async def test_the_token_never_reaches_the_logs(settings, service, telegram_fake, readable_digit, caplog):
    caplog.set_level(logging.DEBUG)
    async with running_bot(settings, service, telegram_fake):
        posted = await telegram_fake.post_message(attachment=Document("d.png", readable_digit(3), "image/png"))
        await telegram_fake.answer_to(posted)

    assert caplog.records, "logging was captured"
    assert telegram_fake.token not in caplog.text
    assert telegram_fake.token.replace(":", "%3A") not in caplog.text


async def test_a_refused_token_is_one_line_and_exit_1_within_10_s(settings, model_path, telegram_fake, caplog):
    started = time.perf_counter()
    status = await asyncio.to_thread(run_telegram, core_settings(model_path), replace(settings, token="1:wrong"))

    assert status == 1
    assert time.perf_counter() - started < 10
    (line,) = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert line.startswith("Telegram refused the token") and "TELEGRAM_TOKEN" in line


async def test_a_token_revoked_while_running_ends_the_front_end_in_one_line(service, caplog):
    async with FakeTelegram(long_poll_cap_seconds=0.2) as fake:
        front_end = TelegramFrontEnd(TelegramSettings(token=fake.token, api_base=fake.api_base), service)
        running = asyncio.create_task(front_end.run())
        await fake.wait_until_polling()
        fake.token = "0:revoked-in-botfather"

        with pytest.raises(StartupFailed, match="stopped taking this bot's token") as ended:
            await asyncio.wait_for(running, 10)

    assert "TELEGRAM_TOKEN" in str(ended.value)
    assert not [record for record in caplog.records if record.exc_info], "one line, no traceback"


async def test_an_unreachable_api_is_one_line_and_exit_1_within_10_s(settings, model_path, caplog):
    closed = FakeTelegram()
    await closed.start()
    api_base = closed.api_base
    await closed.close()
    started = time.perf_counter()

    status = await asyncio.to_thread(run_telegram, core_settings(model_path), replace(settings, api_base=api_base))

    assert status == 1
    assert time.perf_counter() - started < 10
    (line,) = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert line.startswith(f"Could not reach Telegram at {api_base}") and "TELEGRAM_API_BASE" in line
