"""The console front end: chat with the bot in a terminal, no Discord needed."""

from __future__ import annotations

import io
import logging
import shlex
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.feedback.words import not_a_verdict_reply, nothing_to_rate_reply, verdict_not_saved_reply
from bot.local_files import expand_home, path_exists
from bot.replies import Reply, unexpected_error_reply
from bot.service import CONSOLE_USER, MAX_PICTURES_PER_REQUEST, DigitService

log = logging.getLogger(__name__)

QUIT_WORDS = {"quit", "exit", "bye"}
# shlex.split needs seconds for a line of a megabyte; no one types more than a few paths.
MAX_LINE_CHARACTERS = 4096


class ConsoleChat:
    """Reads one message a line, answers the way the Discord bot would."""

    def __init__(
        self, service: DigitService, prefix: str = "!", *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
    ) -> None:
        self.service = service
        self.prefix = prefix
        self.stdin = stdin
        self.stdout = stdout
        self.latest_reading: Reply | None = None  # what !right and !correct rate

    def command_lines(self) -> list[str]:
        return [
            f"{self.prefix}predict PATH... — read the digit in one or more picture files "
            f"(up to {MAX_PICTURES_PER_REQUEST} at a time)",
            "PATH — a line naming picture files is read as if you had posted them",
            f"{self.prefix}right — say my latest answer was right",
            f"{self.prefix}correct 7 — say what my latest answer should have been (all the digits of a number)",
            f"{self.prefix}forget — delete every answer I kept from this chat, with your verdicts",
            f"{self.prefix}stats — the model's test accuracy, what I've read so far, and how I do in the wild",
            f"{self.prefix}help — this message",
            "quit — leave",
        ]

    def run(self) -> int:
        """Answers line after line until quit, end of input or Ctrl-C: 0; 1 when the database is unusable."""
        if self.service.storage_problem:
            print(f"error: {self.service.storage_problem}", file=sys.stderr)
            return 1
        self._tolerate_undecodable_text()
        try:
            self._say(self.service.help(self.command_lines()))
            while True:
                self.stdout.write("> ")
                self.stdout.flush()
                line = self._read_line()
                if not line or line.strip().lower() in QUIT_WORDS:
                    self.stdout.write("\n" if not line else "")
                    return 0
                for reply in self._answer_anything(line.removesuffix("\n")):
                    self._say(reply)
        except KeyboardInterrupt:
            self.stdout.write("\n")
            return 0

    def answer(self, message: str) -> list[Reply]:
        if len(message) > MAX_LINE_CHARACTERS:
            return [too_long_reply()]
        message = message.strip()
        if not message:
            return []
        try:
            words = shlex.split(message)
        except ValueError:  # an unbalanced quote: read the words as they are
            words = message.split()
        if not words:
            return []
        command, arguments = words[0], words[1:]
        if command == f"{self.prefix}predict":
            return self.read_pictures(arguments)
        if command == f"{self.prefix}right" and not arguments:
            return [self.rate("right")]
        if command == f"{self.prefix}correct" and len(arguments) == 1:
            return [self.rate(arguments[0])]
        if command == f"{self.prefix}correct":
            return [not_a_verdict_reply()]
        if command == f"{self.prefix}forget" and not arguments:
            self.latest_reading = None
            return [self.service.forget_now("console", CONSOLE_USER)]
        if command == f"{self.prefix}stats":
            return [self.service.stats()]
        if command == f"{self.prefix}help":
            return [self.service.help(self.command_lines())]
        if not command.startswith(self.prefix) and all(word and path_exists(expand_home(word)) for word in words):
            return self.read_pictures(words)
        return [Reply(headline=f"I didn't get that. Type {self.prefix}help to see what I can do.")]

    def read_pictures(self, path_words: Sequence[str]) -> list[Reply]:
        replies = self.service.read_files([expand_home(word) for word in path_words])
        readings = [reply for reply in replies if reply.answer is not None]
        if readings:
            self.latest_reading = readings[-1]
        return replies

    def rate(self, verdict: str) -> Reply:
        """The verdict on the latest reading: the acknowledgement, then the mark the answer now carries."""
        if self.latest_reading is None:
            return nothing_to_rate_reply(self.prefix)
        if self.latest_reading.answer_id is None:  # the database was out of reach when it was read
            return verdict_not_saved_reply()
        rating = self.service.rate_now("console", CONSOLE_USER, self.latest_reading.answer_id, verdict)
        if rating.answer_mark is None:
            return rating.reply
        return Reply(headline=rating.reply.headline, details=(*rating.reply.details, rating.answer_mark))

    def _answer_anything(self, line: str) -> list[Reply]:
        """The one place a bug of ours meets the chat: logged for us, an apology for the user, and the chat goes on."""
        try:
            return self.answer(line)
        except Exception:
            log.error("Unexpected error answering a console line", exc_info=True)
            return [unexpected_error_reply()]

    def _read_line(self) -> str:
        """The next line, or as much of it as shows it is too long: the rest of a longer line is read and dropped."""
        line = self.stdin.readline(MAX_LINE_CHARACTERS + 1)
        if len(line) > MAX_LINE_CHARACTERS and not line.endswith("\n"):
            while (rest := self.stdin.readline(MAX_LINE_CHARACTERS)) and not rest.endswith("\n"):
                pass
        return line

    def _tolerate_undecodable_text(self) -> None:
        # Bytes that aren't UTF-8 on stdin, or a reply the terminal's encoding can't show, would end the chat with
        # a UnicodeError; this must happen before the first read, as a text stream decodes a whole chunk at once.
        for stream, errors in ((self.stdin, "replace"), (self.stdout, "backslashreplace")):
            if isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors=errors)

    def _say(self, reply: Reply) -> None:
        self.stdout.write(reply.text + "\n")
        if reply.picture_name:
            self.stdout.write(f"[picture attached in chat: {reply.picture_name}]\n")
        self.stdout.flush()


def too_long_reply() -> Reply:
    return Reply(
        headline="That line is too long for me.",
        details=(f"I read lines of up to {MAX_LINE_CHARACTERS:,} characters: name fewer files, or shorter paths.",),
        is_error=True,
    )
