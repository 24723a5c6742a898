"""The fake Telegram speaks enough of the Bot API for inline keyboards: buttons pressed, queries answered once,
messages edited as Telegram edits them; python-telegram-bot's own Bot is the client."""

from __future__ import annotations

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from fakes.telegram_server import FakeTelegram
from tests.conftest import blank_page_png


@pytest.fixture
async def telegram_fake():
    async with FakeTelegram() as fake:
        yield fake
        assert not fake.unknown_requests, f"the client called methods the fake does not serve: {fake.unknown_requests}"


@pytest.fixture
async def bot(telegram_fake):
    async with Bot(
        telegram_fake.token,
        base_url=f"{telegram_fake.api_base}/bot",
        base_file_url=f"{telegram_fake.api_base}/file/bot",
    ) as bot:
        yield bot


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"button {d}", callback_data=d) for d in data]])


async def photo_with_keyboard(telegram_fake, bot, *data: str):
    user = telegram_fake.make_user("ada")
    chat = telegram_fake.private_chat(user)
    sent = await bot.send_photo(chat["id"], blank_page_png(), caption="7 — 99% sure", reply_markup=keyboard(*data))
    return user, chat, sent


async def test_a_pressed_button_is_a_callback_query_with_the_message_and_is_answered_once(telegram_fake, bot):
    user, _, sent = await photo_with_keyboard(telegram_fake, bot, "r:abc", "w:abc")
    assert telegram_fake.sent[-1].callback_data == ["r:abc", "w:abc"]

    query = await telegram_fake.press(telegram_fake.sent[-1], "w:abc", user=user)
    (update,) = await bot.get_updates(timeout=1, allowed_updates=["message", "callback_query"])

    assert update.callback_query.data == "w:abc" and update.callback_query.from_user.id == user["id"]
    assert update.callback_query.message.message_id == sent.message_id
    assert update.callback_query.message.reply_markup == keyboard("r:abc", "w:abc")
    assert await bot.answer_callback_query(update.callback_query.id, text="Saved: ✓ right")
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(update.callback_query.id)
    answer = await telegram_fake.wait_for_callback_answer(query)
    assert (answer.text, answer.show_alert) == ("Saved: ✓ right", False)
    with pytest.raises(AssertionError, match="no button 'x:abc'"):
        await telegram_fake.press(telegram_fake.sent[-1], "x:abc", user=user)


async def test_updates_the_bot_did_not_ask_for_are_not_delivered(telegram_fake, bot):
    user, _, _ = await photo_with_keyboard(telegram_fake, bot, "r:abc")
    await telegram_fake.press(telegram_fake.sent[-1], "r:abc", user=user)

    assert await bot.get_updates(timeout=0, allowed_updates=["message"]) == ()


async def test_an_edit_replaces_what_it_names_and_drops_a_keyboard_it_leaves_out(telegram_fake, bot):
    _, chat, sent = await photo_with_keyboard(telegram_fake, bot, "r:abc", "w:abc")

    with_keyboard = await bot.edit_message_caption(
        chat["id"], sent.message_id, caption="7 — 99% sure\n✓ Marked right", reply_markup=keyboard("r:abc")
    )
    keyboard_only = await bot.edit_message_reply_markup(chat["id"], sent.message_id, reply_markup=keyboard("w:abc"))
    without = await bot.edit_message_caption(chat["id"], sent.message_id, caption="7 — 99% sure")

    assert with_keyboard.caption.endswith("✓ Marked right") and with_keyboard.reply_markup == keyboard("r:abc")
    assert keyboard_only.caption.endswith("✓ Marked right") and keyboard_only.reply_markup == keyboard("w:abc")
    assert without.reply_markup is None, "Telegram drops a keyboard the edit does not repeat"
    assert [edit.method for edit in telegram_fake.edits] == [
        "editMessageCaption",
        "editMessageReplyMarkup",
        "editMessageCaption",
    ]
    now = await telegram_fake.message_now(telegram_fake.sent[-1])
    assert (now["caption"], "reply_markup" in now, "edit_date" in now) == ("7 — 99% sure", False, True)


async def test_edits_telegram_refuses(telegram_fake, bot):
    user, chat, sent = await photo_with_keyboard(telegram_fake, bot, "r:abc")
    posted = await telegram_fake.post_message("hello", user=user)

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_caption(
            chat["id"], sent.message_id, caption="7 — 99% sure", reply_markup=keyboard("r:abc")
        )
    with pytest.raises(BadRequest, match="no text in the message"):
        await bot.edit_message_text("new", chat["id"], sent.message_id)
    with pytest.raises(BadRequest, match="t be edited"):
        await bot.edit_message_text("new", chat["id"], posted["message_id"])
    with pytest.raises(BadRequest, match="to edit not found"):
        await bot.edit_message_caption(chat["id"], 999_999, caption="x")
    assert not telegram_fake.edits


async def test_callback_data_over_64_bytes_is_refused(telegram_fake, bot):
    chat = telegram_fake.private_chat(telegram_fake.make_user("ada"))

    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(chat["id"], "x", reply_markup=keyboard("c:" + "f" * 63))
    assert await bot.send_message(chat["id"], "x", reply_markup=keyboard("c:" + "f" * 62))


async def test_a_reply_to_the_bots_message_carries_it_as_it_is_now(telegram_fake, bot):
    user, chat, sent = await photo_with_keyboard(telegram_fake, bot, "r:abc")
    await bot.edit_message_caption(chat["id"], sent.message_id, caption="edited", reply_markup=keyboard("w:abc"))

    reply = await telegram_fake.post_message("/correct 3", user=user, reply_to=sent.to_dict())

    assert reply["reply_to_message"]["caption"] == "edited"
    assert reply["reply_to_message"]["reply_markup"] == keyboard("w:abc").to_dict()
