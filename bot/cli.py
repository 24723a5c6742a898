"""`python -m bot`: the chat front ends whose tokens are set, the console chat without any, or `predict` on files."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.discord.settings import DiscordSettings, read_discord_settings
from bot.errors import DigitBotError
from bot.feedback.corrections import add_corrections_command, print_corrections
from bot.pictures import Picture
from bot.recognizer import Prediction, Recognizer
from bot.replies import error_reply, prediction_reply
from bot.settings import (
    Settings,
    SettingsError,
    SettingsReader,
    configure_logging,
    read_core_settings,
    read_environment,
)
from bot.telegram.settings import TelegramSettings, read_telegram_settings

if TYPE_CHECKING:  # the service loads the database library: `predict` reads files without either
    from bot.lifecycle import FrontEnd
    from bot.service import DigitService

EXIT_OK, EXIT_SOME_UNREAD, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digit-bot",
        description="digit-bot (or python -m bot) reads the handwritten digit, or number, in a picture. With no "
        "command it "
        "runs the Discord bot when DISCORD_TOKEN is set (in the environment or .env), the Telegram bot when "
        "TELEGRAM_TOKEN is, both in one process when both are, else a console chat.",
        epilog="Settings come from the environment and .env; see .env.example.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    predict = commands.add_parser(
        "predict",
        help="read the digit or number in picture files and print one line per file",
        description="Read the digit, or every digit of the number (up to 12, on one line), in each picture file. "
        "Exit status: 0 when every file was read, 1 when some could not be, 2 for usage errors.",
    )
    predict.add_argument("files", nargs="+", metavar="FILE", help="picture files (PNG, JPEG, WebP, GIF, BMP, TIFF)")
    predict.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line: file, number (the digits read, as a string), digits ([digit, confidence] "
        "left to right), digit (null unless one digit), confidence and sure (of the whole number), top (a single "
        "digit's best guesses), error",
    )
    commands.add_parser("console", help="chat with the bot in this terminal (!predict PATH, !stats, !help)")
    commands.add_parser(
        "serve", help="run every chat front end whose token is set, for systemd and Docker (exit 1 when none is)"
    )
    commands.add_parser("discord", help="run the Discord bot (needs DISCORD_TOKEN)")
    commands.add_parser("telegram", help="run the Telegram bot (needs TELEGRAM_TOKEN)")
    add_corrections_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reader = SettingsReader(read_environment())
    settings = read_core_settings(reader)
    discord_settings = read_discord_settings(reader)
    telegram_settings = read_telegram_settings(reader)
    try:
        reader.raise_problems()
    except SettingsError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level)
    if args.command == "corrections":
        return print_corrections(args.database or settings.database_url, sys.stdout, as_json=args.json)
    if args.command == "predict":
        return predict_files(Recognizer.from_settings(settings), args.files, as_json=args.json, out=sys.stdout)
    if args.command == "discord":
        return run_discord(settings, discord_settings)
    if args.command == "telegram":
        return run_telegram(settings, telegram_settings)
    if args.command == "serve" or (args.command is None and (discord_settings.token or telegram_settings.token)):
        return run_chat_front_ends(settings, discord_settings, telegram_settings)
    return run_console(settings)


def predict_files(recognizer: Recognizer, files: Sequence[str], *, as_json: bool, out: TextIO) -> int:
    every_file_read = True
    for name in files:
        picture = Picture.from_file(Path(name), recognizer.limits)
        try:
            result: Prediction | DigitBotError = picture.refusal or recognizer.read(picture.data)
        except DigitBotError as error:
            result = error
        every_file_read &= isinstance(result, Prediction)
        out.write((_json_line(name, result) if as_json else _plain_line(name, result)) + "\n")
        out.flush()
    return EXIT_OK if every_file_read else EXIT_SOME_UNREAD


def _plain_line(name: str, result: Prediction | DigitBotError) -> str:
    reply = error_reply(result) if isinstance(result, DigitBotError) else prediction_reply(result)
    return f"{name}: {reply.line}"


def _json_line(name: str, result: Prediction | DigitBotError) -> str:
    if isinstance(result, DigitBotError):
        fields = {
            "number": None,
            "digits": [],
            "digit": None,
            "confidence": None,
            "top": [],
            "sure": None,
            "error": " ".join(error_reply(result).text.splitlines()),
        }
    else:
        fields = {
            "number": result.number,
            "digits": [[reading.digit, round(reading.confidence, 6)] for reading in result.digits],
            "digit": result.digit,
            "confidence": round(result.confidence, 6),
            "top": [[digit, round(probability, 6)] for digit, probability in result.top],
            "sure": result.is_sure,
            "error": None,
        }
    return json.dumps({"file": name, **fields})


def run_console(settings: Settings) -> int:
    from bot.console import ConsoleChat

    print(
        "No DISCORD_TOKEN or TELEGRAM_TOKEN set: starting the console chat (see README to run on Discord or Telegram).",
        file=sys.stderr,
    )
    from bot.service import DigitService

    return ConsoleChat(DigitService.from_settings(settings)).run()


def run_discord(settings: Settings, discord_settings: DiscordSettings) -> int:
    if not discord_settings.token:
        print("error: DISCORD_TOKEN is not set: put your bot's token in .env (see README)", file=sys.stderr)
        return 1
    return run_chat_front_ends(settings, discord_settings, TelegramSettings())


def run_telegram(settings: Settings, telegram_settings: TelegramSettings) -> int:
    if not telegram_settings.token:
        print("error: TELEGRAM_TOKEN is not set: put your bot's token in .env (see README)", file=sys.stderr)
        return 1
    return run_chat_front_ends(settings, DiscordSettings(), telegram_settings)


def run_chat_front_ends(
    settings: Settings, discord_settings: DiscordSettings, telegram_settings: TelegramSettings
) -> int:
    """Every chat front end whose token is set, on one event loop over one DigitService (so /stats counts all)."""
    if not discord_settings.token and not telegram_settings.token:
        print(
            "error: neither DISCORD_TOKEN nor TELEGRAM_TOKEN is set: put a bot's token in .env (see README)",
            file=sys.stderr,
        )
        return 1

    def front_ends(service: DigitService) -> list[FrontEnd]:
        chosen: list[FrontEnd] = []
        if discord_settings.token:
            from bot.discord.client import DiscordFrontEnd

            chosen.append(DiscordFrontEnd(discord_settings, service))
        if telegram_settings.token:
            from bot.telegram.application import TelegramFrontEnd

            chosen.append(TelegramFrontEnd(telegram_settings, service))
        return chosen

    return asyncio.run(serve_front_ends(settings, front_ends))


async def serve_front_ends(settings: Settings, make_front_ends: Callable[[DigitService], list[FrontEnd]]) -> int:
    """The service and its front ends on this event loop, until SIGTERM, SIGINT or a failed start."""
    from bot.lifecycle import serve
    from bot.service import DigitService

    service = DigitService.from_settings(settings)
    try:
        return await serve(service, make_front_ends(service))
    finally:
        service.close()
