"""How a Reply looks on Telegram: a reply to the user's message, with the picture and the answer as its caption, and
under a kept answer, the keyboard to rate it.

Its buttons' callback_data (at most 64 bytes) name the answer: r:<id> right, w:<id> wrong (one digit: show the ten),
n:<id> wrong (a number: ask for /correct), c:<id>:<digit> the digit picked, b:<id> back to Right and Wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity

from bot.replies import Reply

CAPTION_LIMIT, TEXT_LIMIT = 1024, 4096  # what Telegram accepts, counted in UTF-16 code units
CALLBACK = re.compile(r"(?P<kind>[rwnbc]):(?P<answer_id>[0-9a-f]{1,40})(?::(?P<digit>\d))?")


async def send_replies(messages: Sequence[Message], replies: Sequence[Reply]) -> None:
    """One reply per message when they pair up, so each picture of an album gets its answer under it; a reply
    about the request as a whole (slow down, busy) answers its first message.
    """
    one_each = len(replies) == len(messages)
    for index, reply in enumerate(replies):
        await send_reply(messages[index] if one_each else messages[0], reply)


async def send_reply(message: Message, reply: Reply) -> None:
    # A private chat's answer is a reply too (python-telegram-bot quotes only in groups by default), and it is
    # still sent when the user deleted their message meanwhile.
    keyboard = None
    if reply.answer_id and reply.answer:
        keyboard = verdict_keyboard(reply.answer_id, "w" if len(reply.answer) == 1 else "n")
    if reply.picture_png is not None:
        caption, entities = formatted(reply, CAPTION_LIMIT)
        await message.reply_photo(
            reply.picture_png,
            filename=reply.picture_name,
            caption=caption,
            caption_entities=entities,
            do_quote=True,
            allow_sending_without_reply=True,
            reply_markup=keyboard,
        )
    else:
        text, entities = formatted(reply, TEXT_LIMIT)
        await message.reply_text(
            text, entities=entities, do_quote=True, allow_sending_without_reply=True, reply_markup=keyboard
        )


def verdict_keyboard(answer_id: str, wrong_kind: str) -> InlineKeyboardMarkup:
    """Right and Wrong; Wrong (`wrong_kind` "n") on a number asks for /correct: no keyboard holds every number."""
    right = InlineKeyboardButton("✓ Right", callback_data=f"r:{answer_id}")
    return InlineKeyboardMarkup([[right, InlineKeyboardButton("✗ Wrong", callback_data=f"{wrong_kind}:{answer_id}")]])


def digits_keyboard(answer_id: str) -> InlineKeyboardMarkup:
    """The ten digits to pick the right one from, and the way back."""
    digits = [InlineKeyboardButton(str(digit), callback_data=f"c:{answer_id}:{digit}") for digit in range(10)]
    back = InlineKeyboardButton("↩ Back", callback_data=f"b:{answer_id}")
    return InlineKeyboardMarkup([digits[:5], digits[5:], [back]])


def formatted(reply: Reply, limit: int) -> tuple[str, list[MessageEntity]]:
    """Plain text with the headline in bold, within `limit`: entities need no escaping, unlike HTML or Markdown."""
    text = _within(reply.text, limit)
    bold = min(utf16_length(reply.headline), utf16_length(text))
    return text, [MessageEntity(MessageEntity.BOLD, 0, bold)] if bold else []


def _within(text: str, limit: int) -> str:
    """`text`, or as much of it as fits in `limit` UTF-16 units with an ellipsis after it."""
    units = text.encode("utf-16-le")
    if len(units) <= 2 * limit:
        return text
    return units[: 2 * (limit - 1)].decode("utf-16-le", errors="ignore") + "…"


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
