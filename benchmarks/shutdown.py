"""Prints whether the Discord bot finishes its work when told to stop: with 20 pictures in flight it gets SIGTERM
(and, in a second run, SIGINT); how many are answered, its exit status, seconds from the signal to exit, its log.

Twenty users each post a picture the fake's CDN takes --delay seconds to serve; the signal comes once the first
downloads have begun. Production settings otherwise. The bot runs as its own process, as in production.
Run: .venv/bin/python benchmarks/shutdown.py [--delay 1.0] [--model models/digits.tflite]
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import signal
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.harness import (  # noqa: E402
    AnswerBook,
    BotProcess,
    benchmark_parser,
    bot_environment,
    check,
    count_kinds,
    first_headline,
    machine_load,
    mnist_test_split,
    predicted_digit,
)
from bot.settings import Settings  # noqa: E402
from fakes.discord_server import FakeDiscord, Upload  # noqa: E402
from model_training.chat_pictures import rendered_examples  # noqa: E402

PICTURES = 20
EXIT_TARGET_SECONDS = 6.0
SIGNAL_TIMEOUT_SECONDS = 30.0  # a bot still running this long after the signal has hung
FIRST_DOWNLOAD_TIMEOUT_SECONDS = 10.0
SETTLE_SECONDS = 0.2  # after the first download began, so every message has reached the bot


async def stop_while_busy(signal_number: int, pictures: list[tuple[int, Upload]], model_path: Path) -> None:
    print(f"\n{signal.Signals(signal_number).name} with {len(pictures)} pictures in flight ({machine_load()})")
    async with (
        FakeDiscord() as fake,
        AnswerBook(fake) as answers,
        BotProcess(bot_environment(fake, model_path)) as bot,
    ):
        await bot.wait_until_answering(fake, Upload.picture("probe", pictures[0][1].data))
        downloads_before = len(fake.downloads)
        posted = await asyncio.gather(
            *(
                fake.post_message("!predict", author=fake.make_user(f"user{index}"), uploads=[upload])
                for index, (_, upload) in enumerate(pictures)
            )
        )
        async with asyncio.timeout(FIRST_DOWNLOAD_TIMEOUT_SECONDS):
            while len(fake.downloads) == downloads_before:
                await asyncio.sleep(0.01)
        await asyncio.sleep(SETTLE_SECONDS)
        downloading = len(fake.downloads) - downloads_before
        log_mark = len(bot.log_lines)
        exit_status, seconds = await bot.stop(signal_number, SIGNAL_TIMEOUT_SECONDS)
        await asyncio.sleep(SETTLE_SECONDS)  # for the answer book to file the last answers
        replies = [answers.answers_to(message) for message in posted]
        stop_lines = [line for line in bot.log_lines[log_mark:] if " read " not in line]

    said = [first_headline(reply) for reply in replies]
    read = [predicted_digit(headline) for headline in said]
    answered = sum(digit is not None for digit in read)
    right = sum(digit == label for digit, (label, _) in zip(read, pictures, strict=True))
    check("downloads begun when the signal came", f"{downloading} of {len(pictures)}")
    target = f"target {len(pictures)} of {len(pictures)}"
    check("pictures answered with a digit", f"{answered} of {len(pictures)}", target, answered == len(pictures))
    check("… read right", f"{right} of {len(pictures)}")
    check("exit status", "still running" if exit_status is None else str(exit_status), "target 0", exit_status == 0)
    exited_in_time = exit_status is not None and seconds <= EXIT_TARGET_SECONDS
    check("signal → exit", f"{seconds:.2f} s", f"target ≤ {EXIT_TARGET_SECONDS:.0f} s", exited_in_time)
    print("answers:", count_kinds(said))
    print("the bot's log from the signal on (reads left out):")
    for line in stop_lines:
        print(f"  {line}")


async def run(model_path: Path, mnist_path: Path, delay: float) -> None:
    images, labels = mnist_test_split(mnist_path)
    pictures = [
        (label, Upload.picture(f"{index}-{style}", data))
        for index, (style, label, data) in enumerate(rendered_examples(images, labels, PICTURES))
    ]
    slow = [(label, dataclasses.replace(upload, download_delay_seconds=delay)) for label, upload in pictures]
    gc.freeze()  # full collections here would stall the fake's loop, and with it the bot's downloads
    grace = Settings().shutdown_grace_seconds
    print(f"model: {model_path}; CDN delay {delay} s a picture; SHUTDOWN_GRACE_SECONDS {grace} (production)")
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        await stop_while_busy(signal_number, slow, model_path)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds the fake CDN takes to serve each picture")
    args = parser.parse_args()
    asyncio.run(run(args.model, args.mnist, args.delay))


if __name__ == "__main__":
    main()
