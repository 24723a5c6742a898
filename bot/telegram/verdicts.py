"""Verdicts on Telegram: presses on the keyboard under each kept answer (see bot.telegram.rendering), /correct in
reply to an answer, /forget; every press is answered (answerCallbackQuery) and the answer's caption shows the verdict.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.feedback.words import not_yours_reply
from bot.replies import Reply
from bot.service import DigitService
from bot.telegram.rendering import (
    CALLBACK,
    CAPTION_LIMIT,
    TEXT_LIMIT,
    digits_keyboard,
    send_replies,
    utf16_length,
    verdict_keyboard,
)

log = logging.getLogger(__name__)

CALLBACK_ANSWER_LIMIT = 200  # characters answerCallbackQuery shows
NEW_MESSAGES = filters.UpdateType.MESSAGE


def answer_id_on(message: Message | None) -> tuple[str, str] | None:
    """(answer_id, kind of its Wrong button) read off one of the bot's answers' keyboard, or None."""
    markup = message.reply_markup if message is not None else None
    if markup is None:
        return None
    matches = [CALLBACK.fullmatch(button.callback_data or "") for row in markup.inline_keyboard for button in row]
    found = [match for match in matches if match is not None]
    if not found:
        return None
    kinds = {match["kind"] for match in found}
    return found[0]["answer_id"], "n" if "n" in kinds else "w"


def with_mark(message: Message, mark: str) -> tuple[str, list[MessageEntity]]:
    """The message's caption (or text) with its last line, in italics, showing the verdict (replacing an earlier)."""
    text = message.caption or message.text or ""
    entities = list(message.caption_entities or message.entities or ())
    length = utf16_length(text)
    earlier = [e for e in entities if e.type == MessageEntity.ITALIC and e.offset + e.length == length]
    if earlier:
        entities.remove(earlier[-1])
        text = text.encode("utf-16-le")[: 2 * max(earlier[-1].offset - 1, 0)].decode("utf-16-le")
    limit = CAPTION_LIMIT if message.caption is not None or message.photo else TEXT_LIMIT
    room = limit - utf16_length(mark) - 1
    if utf16_length(text) > room:
        text = text.encode("utf-16-le")[: 2 * (room - 1)].decode("utf-16-le", errors="ignore") + "…"
        entities = [e for e in entities if e.offset + e.length <= room - 1]
    offset = utf16_length(text) + 1
    return f"{text}\n{mark}", [*entities, MessageEntity(MessageEntity.ITALIC, offset, utf16_length(mark))]


def callback_words(reply: Reply) -> str:
    """The rater's acknowledgement as the short pop-up answerCallbackQuery shows."""
    text = " ".join((reply.headline, *reply.details))
    return text if len(text) <= CALLBACK_ANSWER_LIMIT else text[: CALLBACK_ANSWER_LIMIT - 1] + "…"


class Verdicts:
    """The handlers for presses on the keyboards, /correct and /forget."""

    def __init__(self, service: DigitService) -> None:
        self.service = service

    def add_to(self, application: Application) -> None:
        application.add_handlers(
            [
                CallbackQueryHandler(self.pressed, pattern=CALLBACK),
                CommandHandler("correct", self.correct, filters=NEW_MESSAGES),
                CommandHandler("forget", self.forget, filters=NEW_MESSAGES),
            ]
        )

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None, "the handler's pattern matched its data"
        match = CALLBACK.fullmatch(query.data)
        if match is None:  # a keyboard of some other version of the bot: nothing to do but answer
            await query.answer()
            return
        answer_id, kind = match["answer_id"], match["kind"]
        words, alert = "", False
        try:
            message = query.message if isinstance(query.message, Message) else None
            if kind in "wb" and not _may_rate(message, query.from_user.id):
                # The keyboard is everyone's to see: only the picture's sender may turn it into the digits.
                words, alert = callback_words(not_yours_reply()), True
            elif kind == "w":
                await self._edit(message, keyboard=digits_keyboard(answer_id))
                words = "Which digit is it? Pick it below."
            elif kind == "b":
                await self._edit(message, keyboard=verdict_keyboard(answer_id, "w"))
            elif kind == "n":
                words, alert = (
                    "Reply to my answer with /correct and the number it really shows, e.g. /correct 2024.",
                    True,
                )
            else:
                verdict = "right" if kind == "r" else match["digit"]
                rating = await self.service.rate("telegram", ("telegram", query.from_user.id), answer_id, verdict)
                words, alert = callback_words(rating.reply), rating.reply.is_error
                if rating.answer_mark is not None and message is not None:
                    wrong_kind = "w" if kind == "c" else (answer_id_on(message) or (answer_id, "w"))[1]
                    await self._edit(message, mark=rating.answer_mark, keyboard=verdict_keyboard(answer_id, wrong_kind))
        finally:
            # Always: until answered, the user's app shows the button as still working.
            await query.answer(words or None, show_alert=alert)

    async def correct(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/correct 7` in reply to one of the bot's answers."""
        message = update.message
        assert message is not None, "NEW_MESSAGES lets only updates with a message through"
        replied = message.reply_to_message
        from_bot = (
            replied is not None and replied.from_user is not None and replied.from_user.id == message.get_bot().id
        )
        found = answer_id_on(replied) if from_bot else None
        verdict = " ".join(context.args or ())
        if found is None:
            await send_replies([message], [how_to_correct_reply()])
            return
        answer_id, wrong_kind = found
        sender = message.from_user or message.sender_chat or message.chat
        rating = await self.service.rate("telegram", ("telegram", sender.id), answer_id, verdict)
        if rating.answer_mark is not None:
            await self._edit(replied, mark=rating.answer_mark, keyboard=verdict_keyboard(answer_id, wrong_kind))
        await send_replies([message], [rating.reply])

    async def forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        assert message is not None, "NEW_MESSAGES lets only updates with a message through"
        sender = message.from_user or message.sender_chat or message.chat
        await send_replies([message], [await self.service.forget("telegram", ("telegram", sender.id))])

    @staticmethod
    async def _edit(message: Message | None, *, keyboard: InlineKeyboardMarkup, mark: str | None = None) -> None:
        """The answer's keyboard (and with `mark`, its verdict line) changed; a message gone or unchanged is let be."""
        if message is None:
            return  # too old for Telegram to show it to the bot: the verdict is saved all the same
        try:
            if mark is None:
                await message.edit_reply_markup(reply_markup=keyboard)
            elif message.caption is not None or message.photo:
                caption, entities = with_mark(message, mark)
                await message.edit_caption(caption=caption, caption_entities=entities, reply_markup=keyboard)
            else:
                text, entities = with_mark(message, mark)
                await message.edit_text(text, entities=entities, reply_markup=keyboard)
        except BadRequest as error:
            if "not modified" not in error.message.lower():  # the same verdict again shows the same
                log.warning("Could not mark an answer on Telegram: %s", error.message)
        except TelegramError as error:
            log.warning("Could not mark an answer on Telegram: %s", error.message)


def _may_rate(answer: Message | None, user_id: int) -> bool:
    """Whether `user_id` sent the picture `answer` replies to (unknown, e.g. their message deleted: yes; the core
    decides on the verdict itself)."""
    picture = answer.reply_to_message if answer is not None else None
    return picture is None or picture.from_user is None or picture.from_user.id == user_id


def how_to_correct_reply() -> Reply:
    return Reply(
        headline="Which answer of mine should I correct?",
        details=("Reply to my answer with /correct and the digits the picture really shows, e.g. /correct 7.",),
        is_error=True,
    )
