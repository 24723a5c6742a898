"""Reading digits on Telegram: pictures in private chats and auto-read groups, /predict, /stats, /start and /help."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from telegram import BotCommand, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.outbox import FairOutbox
from bot.replies import Reply
from bot.service import DigitService, IncomingFile, Request
from bot.telegram.albums import Albums
from bot.telegram.files import TelegramDownloads
from bot.telegram.rendering import send_replies
from bot.telegram.settings import TelegramSettings

MENU = (
    BotCommand("start", "What I do"),
    BotCommand("help", "What I do and how to ask"),
    BotCommand("predict", "Read the digit in a photo: as its caption, or in reply to it"),
    BotCommand("correct", "In reply to my answer: the digits the picture really shows, e.g. /correct 7"),
    BotCommand("forget", "Delete every answer I kept from your pictures"),
    BotCommand("stats", "The model's test accuracy, what I've read and how right I was"),
)
COMMAND_LINES = (
    "Send me a photo of a digit, or a picture as a file: I answer each one, albums too.",
    "/predict as a photo's caption, or in reply to a message with a picture: read it (that's how to ask in groups)",
    "✓ Right or ✗ Wrong under my answer (then the right digit): teach me. Only the picture's sender can rate it, "
    "again to change the verdict.",
    "/correct 7 in reply to my answer: correct it with the digits the picture really shows (2024 for a number)",
    "/forget: delete every answer I kept from your pictures",
    "/stats: the model's test accuracy, what I've read, and how right I was in the wild",
    "/help: this message",
)


class CaptionCommand(filters.MessageFilter):
    """A caption starting with /name or /name@this_bot: CommandHandler reads only a message's text, never captions."""

    def __init__(self, command: str) -> None:
        super().__init__(name=f"CaptionCommand({command})")
        self.command = command

    def filter(self, message: Message) -> bool:
        first = message.caption_entities[0] if message.caption_entities else None
        if first is None or first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
            return False
        command, _, addressee = message.parse_caption_entity(first).removeprefix("/").partition("@")
        return command.lower() == self.command and addressee.lower() in ("", message.get_bot().username.lower())


PREDICT_CAPTION = CaptionCommand("predict")
# An edit is not a new request, and its update has no `message`: handlers see new messages only.
NEW_MESSAGES = filters.UpdateType.MESSAGE


class Digits:
    """The handlers; what they answer comes from the DigitService, how it looks from bot.telegram.rendering."""

    def __init__(self, settings: TelegramSettings, service: DigitService, downloads: TelegramDownloads) -> None:
        self.service = service
        self.downloads = downloads
        self.albums = Albums()
        self.outbox = FairOutbox()
        self.reads_everything = filters.ChatType.PRIVATE | filters.Chat(chat_id=settings.auto_predict_chats)

    def add_to(self, application: Application) -> None:
        """In order: the first handler whose filter matches a message handles it."""
        application.add_handlers(
            [
                CommandHandler(("start", "help"), self.help, filters=NEW_MESSAGES),
                CommandHandler("stats", self.stats, filters=NEW_MESSAGES),
                CommandHandler("predict", self.predict_replied_to, filters=NEW_MESSAGES),
                MessageHandler(NEW_MESSAGES & PREDICT_CAPTION, self.predict_captioned),
                MessageHandler(NEW_MESSAGES & self.reads_everything & filters.ATTACHMENT, self.read_posted),
                MessageHandler(NEW_MESSAGES & filters.ChatType.PRIVATE, self.hint),
            ]
        )

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await send_replies([_message(update)], [self.service.help(COMMAND_LINES)])

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await send_replies([_message(update)], [await self.service.stats_async()])

    async def predict_replied_to(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/predict` as a text: reads the picture of the message it replies to."""
        message = _message(update)
        replied = message.reply_to_message
        files = self.downloads.incoming(replied) if replied is not None else []
        await self._answer([message], files, automatic=False)

    async def predict_captioned(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._read_pictures_of(_message(update), commanded=True)

    async def read_posted(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._read_pictures_of(_message(update), commanded=False)

    async def hint(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text or an unknown command in a private chat gets the core's "no picture" advice, not silence."""
        await self._answer([_message(update)], [], automatic=False)

    async def _read_pictures_of(self, message: Message, *, commanded: bool) -> None:
        messages = await self.albums.gather(message)
        if messages is None:
            return  # a later picture of an album: the album's first message answers for it
        # Everything in a private chat is sent to the bot, so a voice note or a PDF there gets a hint; in a group
        # only pictures are the bot's business unless it was asked, so other files pass in silence.
        automatic = not commanded and message.chat.type != ChatType.PRIVATE
        files = [file for part in messages for file in self.downloads.incoming(part)]
        await self._answer(messages, files, automatic=automatic)

    async def _answer(self, messages: Sequence[Message], files: list[IncomingFile], *, automatic: bool) -> None:
        first = messages[0]
        sender = first.from_user or first.sender_chat or first.chat  # an anonymous group admin posts as the group
        request = Request(user=("telegram", sender.id), platform="telegram", files=files, automatic=automatic)
        await self.service.handle(request, functools.partial(self._send_in_turn, messages, sender.id))

    async def _send_in_turn(self, messages: Sequence[Message], sender_id: int, replies: list[Reply]) -> None:
        """A group's answers take its users in turn under Telegram's per-chat limit (20 a minute in a group)."""
        send = functools.partial(send_replies, messages, replies)
        await self.outbox.send(messages[0].chat.id, sender_id, send)


def _message(update: Update) -> Message:
    assert update.message is not None, "NEW_MESSAGES lets only updates with a message through"
    return update.message
