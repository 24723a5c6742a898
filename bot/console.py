"""The console front end: chat with the bot in a terminal, no Discord needed."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TextIO

from bot.replies import Reply
from bot.service import DigitService

QUIT_WORDS = {"quit", "exit", "bye"}


class ConsoleChat:
    """Reads one message a line, answers the way the Discord bot would."""

    def __init__(
        self, service: DigitService, prefix: str = "!", *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
    ) -> None:
        self.service = service
        self.prefix = prefix
        self.stdin = stdin
        self.stdout = stdout

    def command_lines(self) -> list[str]:
        return [
            f"{self.prefix}predict PATH... — read the digit in one or more picture files",
            "PATH — a line naming picture files is read as if you had posted them",
            f"{self.prefix}stats — the model's test accuracy and what I've read so far",
            f"{self.prefix}help — this message",
            "quit — leave",
        ]

    def run(self) -> int:
        self._say(self.service.help(self.command_lines()))
        while True:
            self.stdout.write("> ")
            self.stdout.flush()
            line = self.stdin.readline()
            if not line or line.strip().lower() in QUIT_WORDS:
                self.stdout.write("\n" if not line else "")
                return 0
            for reply in self.answer(line):
                self._say(reply)

    def answer(self, message: str) -> list[Reply]:
        message = message.strip()
        if not message:
            return []
        try:
            words = shlex.split(message)
        except ValueError:
            words = message.split()
        command, arguments = words[0], words[1:]
        if command == f"{self.prefix}predict":
            return self.service.read_files([Path(argument).expanduser() for argument in arguments])
        if command == f"{self.prefix}stats":
            return [self.service.stats()]
        if command == f"{self.prefix}help":
            return [self.service.help(self.command_lines())]
        paths = [Path(word).expanduser() for word in words]
        if not command.startswith(self.prefix) and all(path.is_file() for path in paths):
            return self.service.read_files(paths)
        return [Reply(headline=f"I didn't get that. Type {self.prefix}help to see what I can do.")]

    def _say(self, reply: Reply) -> None:
        self.stdout.write(reply.text + "\n")
        if reply.picture_name:
            self.stdout.write(f"[picture attached in chat: {reply.picture_name}]\n")
        self.stdout.flush()
