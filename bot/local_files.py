"""Reading a picture file named on the console or command line, safely: no hang, no crash, no read past the limit."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from bot.errors import ImageTooLarge, UnreadableFile

LONGEST_NAME_SHOWN = 120  # a name typed or pasted by a user can be thousands of characters long
OPEN_WITHOUT_BLOCKING = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # Windows has no FIFO to block on, nor the flag


def expand_home(word: str) -> Path:
    """`~` and `~user` made a home folder where there is one; any other word, `~nosuchuser` too, as it is.

    A word with no home to expand may still be a file's name, so it is left for reading to find or not.
    """
    path = Path(word)
    try:
        return path.expanduser()
    except (RuntimeError, ValueError):  # no such user or no HOME; a NUL byte in the user's name
        return path


def path_exists(path: Path) -> bool:
    """Whether something is there, a file, a folder or a device, without an error for a name that can't exist."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def printable_path(path: Path | str) -> str:
    """The path as text safe to show in a reply: control characters and stray surrogates escaped, a long one cut."""
    text = "".join(character if character.isprintable() else repr(character)[1:-1] for character in str(path))
    return text if len(text) <= LONGEST_NAME_SHOWN else text[: LONGEST_NAME_SHOWN - 1] + "…"


def read_picture_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; raises UnreadableFile or ImageTooLarge, nothing else.

    A folder, a FIFO, a device or a socket is refused before it is opened, as opening or reading one can block
    forever (a FIFO with no writer, a terminal) or never end (/dev/zero). The file is opened without blocking and
    checked again, for a FIFO put in its place between the two looks.
    """
    shown = printable_path(path)
    try:
        _refuse_unless_regular(os.stat(path), shown)
        descriptor = os.open(path, OPEN_WITHOUT_BLOCKING)
        with open(descriptor, "rb") as file:
            status = os.fstat(file.fileno())
            _refuse_unless_regular(status, shown)
            if status.st_size > max_bytes:
                raise ImageTooLarge(f"{shown} has {status.st_size} bytes", limit_bytes=max_bytes)
            data = file.read(max_bytes + 1)  # one byte more tells a file that grew past the limit since fstat
    except ValueError as error:  # a NUL byte, or a surrogate the file system encoding has no bytes for
        raise UnreadableFile("That path has a character files can't have.") from error
    except OSError as error:
        raise UnreadableFile(_problem_words(error, shown)) from error
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{shown} has more than {max_bytes} bytes", limit_bytes=max_bytes)
    return data


def _refuse_unless_regular(status: os.stat_result, shown: str) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise UnreadableFile(f"{shown} is a folder, not a picture file.")
    if not stat.S_ISREG(status.st_mode):
        raise UnreadableFile(f"{shown} is not a regular file.")


def _problem_words(error: OSError, shown: str) -> str:
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"There is no file {shown}."
    if error.errno == errno.ENAMETOOLONG:
        return "That file name is too long."
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"I'm not allowed to read {shown}."
    if error.errno == errno.EISDIR:
        return f"{shown} is a folder, not a picture file."
    return f"{shown}: {error.strerror or error}."
