"""What a Telegram message carries, described to the core before any download, and fetched through getFile."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import aiohttp
from telegram import Bot, Document, Message, PhotoSize, Sticker
from telegram.error import BadRequest, TelegramError

from bot.downloads import download_capped
from bot.errors import DownloadFailed, ImageTooLarge
from bot.imaging import ImageLimits
from bot.service import IncomingFile

TELEGRAM_DOWNLOAD_LIMIT = 20_000_000  # the Bot API serves files up to 20 MB; counted in 10^6 bytes to be safe
# A sticker is Telegram's emoji art, not someone's handwriting: described by a type that is no image, so the core
# answers it as a non-picture (a hint in a private chat, silence in a group) whatever its format (WEBP, TGS, WEBM).
STICKER_MEDIA_TYPE = "application/x-telegram-sticker"
PHOTO_MEDIA_TYPE = "image/jpeg"  # Telegram re-encodes every photo as JPEG


class TelegramDownloads:
    """Turns messages into the core's IncomingFile; fetching runs getFile, then a download capped at the limit."""

    def __init__(self, bot: Bot, limits: ImageLimits) -> None:
        self.bot = bot
        self.limits = limits
        self._session: aiohttp.ClientSession | None = None  # our own, so a picture's body is streamed and capped

    async def open(self) -> None:
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def incoming(self, message: Message) -> list[IncomingFile]:
        """The file a message carries (one at most on Telegram), or none for a text, a location, a poll…"""
        if message.photo:
            size = largest_photo_within(message.photo, self.limits)
            return [self._incoming(size.file_id, None, size.file_size, PHOTO_MEDIA_TYPE)]
        attachment = message.effective_attachment
        file_id = getattr(attachment, "file_id", None)
        if file_id is None:
            return []
        if isinstance(attachment, Sticker):
            media_type = STICKER_MEDIA_TYPE
        elif isinstance(attachment, Document):
            media_type = attachment.mime_type  # None: the core goes by the file name
        else:
            # A voice note, a video, a song: never a picture, even without a declared type (a round video has none).
            media_type = getattr(attachment, "mime_type", None) or "application/octet-stream"
        name = getattr(attachment, "file_name", None)
        return [self._incoming(file_id, name, getattr(attachment, "file_size", None), media_type)]

    def _incoming(self, file_id: str, name: str | None, size: int | None, media_type: str | None) -> IncomingFile:
        fetch = functools.partial(self._fetch, file_id, name, size)
        return IncomingFile(name, size, media_type, fetch)

    async def _fetch(self, file_id: str, name: str | None, declared_size: int | None, max_bytes: int) -> bytes:
        label = name or "a picture"
        if declared_size is not None and declared_size > TELEGRAM_DOWNLOAD_LIMIT:
            raise ImageTooLarge(f"{label} has {declared_size} bytes", limit_bytes=TELEGRAM_DOWNLOAD_LIMIT)
        try:
            telegram_file = await self.bot.get_file(file_id)
        except BadRequest as error:
            if "too big" in error.message:
                raise ImageTooLarge(f"{label} is too big for getFile", limit_bytes=TELEGRAM_DOWNLOAD_LIMIT) from None
            raise DownloadFailed(f"{label}: getFile said {error.message}") from None
        except TelegramError as error:
            raise DownloadFailed(f"{label}: getFile failed ({type(error).__name__})") from None
        if not telegram_file.file_path:
            raise DownloadFailed(f"{label}: getFile gave no file path")
        assert self._session is not None, "the front end opens the downloads before polling"
        # file_path is a URL with the bot's token in it: it goes to the download alone, never to a log or an error.
        return await download_capped(self._session, telegram_file.file_path, max_bytes, name=label)


def largest_photo_within(sizes: Sequence[PhotoSize], limits: ImageLimits) -> PhotoSize:
    """The largest of the copies Telegram keeps that fits the limits (a copy may not say its size: the download is
    capped anyway); when none fits, the smallest, which the core then refuses with the words for a large picture.
    """
    fitting = [
        size
        for size in sizes
        if (size.file_size is None or size.file_size <= limits.max_bytes)
        and size.width * size.height <= limits.max_pixels
    ]
    return max(fitting, key=_area) if fitting else min(sizes, key=_area)


def _area(size: PhotoSize) -> int:
    return size.width * size.height
