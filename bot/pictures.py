"""A picture as the core reads it: its bytes and the name to show, or why it was refused before reading. Apart from
the service, so that reading files from the command line loads neither the service nor its database library."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.errors import DigitBotError
from bot.imaging import ImageLimits
from bot.local_files import printable_path, read_picture_file


@dataclass(frozen=True)
class Picture:
    """Bytes a user sent, with the name to show in the answer, or why they were refused before reading."""

    data: bytes
    name: str | None = None
    refusal: DigitBotError | None = None  # e.g. too large to download, or a file that isn't there

    @classmethod
    def refused(cls, error: DigitBotError, name: str | None) -> Picture:
        return cls(b"", name, error.with_traceback(None))  # a traceback would keep the refused bytes' frames alive

    @classmethod
    def from_file(cls, path: Path, limits: ImageLimits) -> Picture:
        """A local file's bytes; anything but a regular file within the byte limit is refused before it is read."""
        name = printable_path(path.name)
        try:
            return cls(read_picture_file(path, limits.max_bytes), name)
        except DigitBotError as refusal:  # UnreadableFile or ImageTooLarge
            return cls.refused(refusal, name)
