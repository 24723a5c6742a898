"""Problems a user can cause with what they send. `bot.replies` turns each into friendly words."""

from __future__ import annotations


class DigitBotError(Exception):
    """Something about a picture (or a request) that we answer with advice, never a traceback."""


class NotAnImage(DigitBotError):
    """The bytes are not a picture in a format we read (PNG, JPEG, WebP, GIF, BMP, TIFF)."""


class ImageTooLarge(DigitBotError):
    """The file or its pixel count is over the limit we read."""

    def __init__(self, message: str, *, limit_bytes: int | None = None, limit_pixels: int | None = None) -> None:
        super().__init__(message)
        self.limit_bytes = limit_bytes
        self.limit_pixels = limit_pixels


class BrokenImage(DigitBotError):
    """It claims to be a picture, but the data is truncated or corrupt."""


class NoDigitFound(DigitBotError):
    """The picture decodes, but nothing on it looks like writing (a blank page, a flat colour)."""


class NotOneNumber(DigitBotError):
    """The picture holds writing on several lines, or more digits than one number we read may have."""


class DownloadFailed(DigitBotError):
    """The chat service did not hand over a picture's bytes (in time)."""


class NoPicture(DigitBotError):
    """A request to read a digit came without any picture."""


class SlowDown(DigitBotError):
    """The same user asked again while a request of theirs was already waiting for their cooldown to end."""

    def __init__(self, retry_after_seconds: float, *, notify: bool = True) -> None:
        super().__init__(f"retry after {retry_after_seconds:.1f} s")
        self.retry_after_seconds = retry_after_seconds
        self.notify = notify  # only the first refusal in a cooldown window is answered, so spam gets one notice


class Busy(DigitBotError):
    """The bot is already reading as many pictures as it allows itself at once."""


class ShuttingDown(DigitBotError):
    """The bot is stopping (a restart or an update) and takes no new work."""


class UnreadableFile(DigitBotError):
    """A local file named on the console or command line could not be opened."""


class StorageError(Exception):
    """The feedback database could not do what was asked; the message is one line for the log."""


class StorageUnavailable(StorageError):
    """The database is there but not answering now (locked, disk full, server down): the bot goes on without it."""


class CorruptDatabase(StorageError):
    """The database file is not one this bot can use (damaged, not a database, or from a newer bot)."""
