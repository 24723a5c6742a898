"""Verdicts on Telegram end to end: the real python-telegram-bot client, our handlers, the model and a SQLite
feedback database, against a fake Bot API; users press the inline keyboard under answers and reply /correct."""

# Fixtures imported from other test modules are asked for by name, which ruff takes for redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from bot.feedback.store import StoredAnswer
from bot.telegram.application import TelegramFrontEnd
from bot.telegram.rendering import verdict_keyboard
from fakes.telegram_server import FakeTelegram, Photo, SentMessage
from tests.chat_feedback import core_on, database_url, locked, service  # noqa: F401
from tests.conftest import blank_page_png
from tests.test_telegram_bot import auto_group, running_bot, settings, telegram_fake  # noqa: F401

# python-telegram-bot 22 warns about its own use of RetryAfter.retry_after when a 429 comes.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@pytest.fixture
async def telegram_bot(settings, service, telegram_fake) -> AsyncIterator[None]:
    async with running_bot(settings, service, telegram_fake):
        yield


@pytest.fixture(scope="module")
def photo(readable_digit) -> Callable[..., Photo]:
    return lambda digit, nth=0: Photo.of(readable_digit(digit, nth=nth))


async def answer_to_photo(fake: FakeTelegram, user: dict, photo: Photo, chat: dict | None = None) -> SentMessage:
    return await fake.answer_to(await fake.post_message(user=user, chat=chat, attachment=photo))


def data_of(message: SentMessage, kind: str) -> str:
    (data,) = [data for data in message.callback_data if data.startswith(f"{kind}:")]
    return data


async def press(fake: FakeTelegram, message: SentMessage, kind: str, user: dict):
    """Presses the button of `kind` (r, w, n, b, or c:<digit>) and returns the bot's answerCallbackQuery."""
    digit = kind.partition(":")[2]
    data = data_of(message, kind[0]) if not digit else next(d for d in message.callback_data if d.endswith(f":{digit}"))
    query = await fake.press(message, data, user=user)
    return await fake.wait_for_callback_answer(query)


async def edited(fake: FakeTelegram, message: SentMessage, count: int = 1) -> SentMessage:
    edits = await fake.wait_for_edits(count, where=lambda edit: edit.message_id == message.message_id)
    return edits[count - 1]


def italics(message: SentMessage) -> list[str]:
    units = message.text.encode("utf-16-le")
    return [
        units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message.entities
        if e["type"] == "italic"
    ]


async def test_right_is_acknowledged_and_the_caption_shows_it(telegram_bot, telegram_fake, photo, service):
    ada = telegram_fake.make_user("ada")
    answer = await answer_to_photo(telegram_fake, ada, photo(7))
    assert [button["text"] for button in answer.buttons] == ["✓ Right", "✗ Wrong"]
    assert all(len(data.encode()) <= 64 for data in answer.callback_data)

    acknowledged = await press(telegram_fake, answer, "r", ada)

    assert "Noted: I read it right" in acknowledged.text and not acknowledged.show_alert
    marked = await edited(telegram_fake, answer)
    assert marked.method == "editMessageCaption"
    assert marked.text == f"{answer.text}\n✓ Marked right" and italics(marked) == ["✓ Marked right"]
    assert marked.bold == answer.bold, "the answer itself stays as it was"
    assert marked.callback_data == answer.callback_data, "Right and Wrong stay, to change the verdict"
    assert "1 answer rated, 100.0% right" in (await service.stats_async()).text


async def test_wrong_shows_the_ten_digits_and_the_one_picked_corrects_the_answer(
    telegram_bot, telegram_fake, photo, service
):
    ada = telegram_fake.make_user("ada")
    answer = await answer_to_photo(telegram_fake, ada, photo(7))

    asked = await press(telegram_fake, answer, "w", ada)
    digits = await edited(telegram_fake, answer)
    assert "Which digit" in asked.text
    assert digits.method == "editMessageReplyMarkup"
    assert [button["text"] for button in digits.buttons] == [*"0123456789", "↩ Back"]
    acknowledged = await press(telegram_fake, digits, "c:1", ada)

    assert "it shows 1, not 7" in acknowledged.text
    marked = await edited(telegram_fake, answer, 2)
    assert italics(marked) == ["✎ Corrected to 1"] and marked.callback_data == answer.callback_data
    assert "Most often corrected: 7 → 1" in (await service.stats_async()).text


async def test_back_returns_to_right_and_wrong(telegram_bot, telegram_fake, photo):
    ada = telegram_fake.make_user("ada")
    answer = await answer_to_photo(telegram_fake, ada, photo(3))
    await press(telegram_fake, answer, "w", ada)

    acknowledged = await press(telegram_fake, await edited(telegram_fake, answer), "b", ada)

    assert acknowledged.text == ""
    assert (await edited(telegram_fake, answer, 2)).callback_data == answer.callback_data


async def test_only_the_sender_rates_and_rating_again_replaces_the_verdict(
    telegram_bot, telegram_fake, photo, auto_group, service
):
    ada, bea = telegram_fake.make_user("ada"), telegram_fake.make_user("bea")
    answer = await answer_to_photo(telegram_fake, ada, photo(4), chat=auto_group)

    refused = await press(telegram_fake, answer, "r", bea)
    assert "Only the person who sent the picture" in refused.text and refused.show_alert
    not_for_her = await press(telegram_fake, answer, "w", bea)
    assert "Only the person who sent the picture" in not_for_her.text
    assert not telegram_fake.edits, "the answer is unmarked, its keyboard unchanged"

    await press(telegram_fake, answer, "r", ada)
    await press(telegram_fake, answer, "w", ada)
    await press(telegram_fake, await edited(telegram_fake, answer, 2), "c:9", ada)

    marked = await edited(telegram_fake, answer, 3)
    assert marked.text == f"{answer.text}\n✎ Corrected to 9", "the new verdict's line replaces the old one"
    assert "1 answer rated, 0.0% right" in (await service.stats_async()).text


async def test_the_same_verdict_twice_is_acknowledged_both_times(telegram_bot, telegram_fake, photo):
    ada = telegram_fake.make_user("ada")
    answer = await answer_to_photo(telegram_fake, ada, photo(2))

    first = await press(telegram_fake, answer, "r", ada)
    second = await press(telegram_fake, await edited(telegram_fake, answer), "r", ada)

    assert "Noted" in first.text and "Noted" in second.text
    assert len(telegram_fake.edits) == 1 and "message is not modified" in telegram_fake.refusals[-1].description


async def test_the_keyboard_of_an_answer_sent_before_a_restart_works_after_it(
    settings, telegram_fake, photo, model_path, database_url
):
    ada = telegram_fake.make_user("ada")
    with core_on(model_path, database_url) as first:
        async with running_bot(settings, first, telegram_fake):
            answer = await answer_to_photo(telegram_fake, ada, photo(5))
    with core_on(model_path, database_url) as second:  # a new process's core, on the same database
        async with running_bot(settings, second, telegram_fake):
            assert "Noted: I read it right" in (await press(telegram_fake, answer, "r", ada)).text
            assert italics(await edited(telegram_fake, answer)) == ["✓ Marked right"]


async def test_correct_in_reply_to_an_answer(telegram_bot, telegram_fake, photo):
    ada = telegram_fake.make_user("ada")
    answer = await answer_to_photo(telegram_fake, ada, photo(7))

    request = await telegram_fake.post_message("/correct 1", user=ada, reply_to={"message_id": answer.message_id})

    assert "it shows 1, not 7" in (await telegram_fake.answer_to(request)).text
    assert italics(await edited(telegram_fake, answer)) == ["✎ Corrected to 1"]
    lost = await telegram_fake.post_message("/correct 1", user=ada)
    assert "Reply to my answer with /correct" in (await telegram_fake.answer_to(lost)).text
    bare = await telegram_fake.post_message("/correct", user=ada, reply_to={"message_id": answer.message_id})
    assert "the digits the picture really shows" in (await telegram_fake.answer_to(bare)).text


async def test_forget_deletes_the_users_answers_so_their_keyboard_no_longer_rates(telegram_bot, telegram_fake, photo):
    ada = telegram_fake.make_user("ada")
    answer = await answer_to_photo(telegram_fake, ada, photo(6))

    forgotten = await telegram_fake.answer_to(await telegram_fake.post_message("/forget", user=ada))

    assert "deleted the 1 answer" in forgotten.text
    assert "I no longer have that answer" in (await press(telegram_fake, answer, "r", ada)).text


async def test_wrong_on_a_number_asks_for_correct_with_the_whole_number(telegram_bot, telegram_fake, service, settings):
    # The bot's answer to ada's picture of 2021, as it would be once numbers are read: kept, then sent.
    ada = telegram_fake.make_user("ada")
    chat = telegram_fake.private_chat(ada)
    store = service.feedback.store()
    stored = StoredAnswer("telegram", store.user_key("telegram", ("telegram", ada["id"])), "2021", 0.9, "m", ())
    store.record_answer(stored)
    async with TelegramFrontEnd(settings, service).application.bot as bot:
        await bot.send_photo(
            chat["id"], blank_page_png(), caption="2021", reply_markup=verdict_keyboard(stored.id, "n")
        )
    answer = telegram_fake.sent[-1]

    asked = await press(telegram_fake, answer, "n", ada)
    assert "/correct 2024" in asked.text and asked.show_alert
    request = await telegram_fake.post_message("/correct 2024", user=ada, reply_to={"message_id": answer.message_id})

    assert "it shows 2024, not 2021" in (await telegram_fake.answer_to(request)).text
    marked = await edited(telegram_fake, answer)
    assert italics(marked) == ["✎ Corrected to 2024"] and marked.callback_data == answer.callback_data


async def test_with_the_database_locked_the_verdict_is_not_saved_and_photos_are_still_answered(
    telegram_bot, telegram_fake, photo, database_url
):
    ada = telegram_fake.make_user("ada")
    answer = await answer_to_photo(telegram_fake, ada, photo(8))

    with locked(database_url):
        refused = await press(telegram_fake, answer, "r", ada)
        unsaved = await answer_to_photo(telegram_fake, ada, photo(9))

    assert "couldn't save your verdict" in refused.text and refused.show_alert
    assert unsaved.text.startswith("9") and unsaved.reply_markup is None, "an answer not kept has nothing to rate"
    await asyncio.sleep(0.2)
    assert not telegram_fake.edits
