"""Prints the Telegram bot's start-to-first-answer time, a 40-photo burst's time and event-loop stalls, and its memory
alone and next to Discord, each next to its target, against fake APIs on 127.0.0.1.

The bot runs as its own process (`python -m bot`), as in production; the fakes run here. Stalls are measured from
outside: the fake answers long polls at once, so the bot asks again and again, and each gap between an answer and
the next getUpdates is time its event loop was busy elsewhere. This machine may be shared, so timings are noisy;
the fake's own worst stall says how much of a gap is the machine's.
Run: .venv/bin/python benchmarks/telegram_burst.py [--model models/digits.tflite]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bot.recognizer import Recognizer  # noqa: E402
from bot.settings import DEFAULT_MODEL_PATH  # noqa: E402
from fakes.discord_server import FakeDiscord, Upload  # noqa: E402
from fakes.telegram_server import FakeTelegram, Photo  # noqa: E402
from model_training.chat_pictures import render_chat_picture  # noqa: E402
from model_training.data import MNIST_NPZ  # noqa: E402

USERS = 40  # one photo each
PER_DIGIT = USERS // 10
POLL_CAP_SECONDS = 0.02  # how long the fake holds a long poll: the stall measure's sampling period
SETTLE_SECONDS = 2.5  # after the first answers, before memory is read (discord.py's on_ready comes 2 s late)
STOP_SECONDS = 10.0
# Telegram allows about 30 messages a second and the bot's rate limiter keeps to that: back to back, 40 answers
# would take 40/30 s whatever the bot does, so each burst starts once the limiter has its full allowance again.
RATE_LIMIT_REFILL_SECONDS = 1.5

TARGET_BURST_SECONDS = 5.0
TARGET_RIGHT = 38
TARGET_STALL_MS = 100.0
TARGET_FIRST_ANSWER_SECONDS = 2.0
TARGET_RSS_TELEGRAM_MB = 100.0
TARGET_RSS_BOTH_MB = 130.0


def readable_photos(mnist_path: Path, model_path: Path) -> list[tuple[int, Photo]]:
    """PER_DIGIT photos of each digit that the recognizer reads right, so the burst measures the bot, not the model."""
    with np.load(mnist_path) as mnist:
        images, labels = mnist["x_test"], mnist["y_test"]
    recognizer = Recognizer(model_path)
    chosen: list[tuple[int, Photo]] = []
    for digit in range(10):
        found = 0
        for index in np.flatnonzero(labels == digit):
            data = render_chat_picture(images[index], "paper_photo", np.random.default_rng(int(index)))
            if recognizer.read(data).digit == digit:
                chosen.append((digit, Photo.of(data)))
                found += 1
                if found == PER_DIGIT:
                    break
    return chosen


def first_digit(text: str) -> int | None:
    match = re.search(r"\d", text)
    return int(match.group()) if match else None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc")


def verdict(value: float, target: float, *, at_most: bool = True) -> str:
    met = value <= target if at_most else value >= target
    return "met" if met else "MISSED"


@asynccontextmanager
async def bot_process(
    environment: Mapping[str, str], log_lines: list[str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot` with `environment`; leaving the block stops it with SIGINT (then SIGKILL)."""
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env={**os.environ, "DISCORD_TOKEN": "", "TELEGRAM_TOKEN": "", "LOG_LEVEL": "INFO", **environment},
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    log_reader = asyncio.create_task(collect_lines(bot.stdout, log_lines))
    try:
        yield bot
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(bot.wait(), STOP_SECONDS)
            except TimeoutError:
                bot.kill()
                await bot.wait()
        await log_reader


async def collect_lines(stream: asyncio.StreamReader | None, lines: list[str]) -> None:
    assert stream is not None
    async for line in stream:
        lines.append(line.decode(errors="replace"))


def telegram_environment(fake: FakeTelegram, model_path: Path) -> dict[str, str]:
    return {
        "TELEGRAM_TOKEN": fake.token,
        "TELEGRAM_API_BASE": fake.api_base,
        "MODEL_PATH": str(model_path),
        "USER_COOLDOWN_SECONDS": "0",
    }


@dataclass(frozen=True)
class Burst:
    seconds: float  # from the first photo posted to the last answer, on the fake's clock
    right: int
    worst_stall_ms: float
    gaps: int
    fake_stall_ms: float


async def burst(fake: FakeTelegram, photos: list[tuple[int, Photo]], users: list[dict]) -> Burst:
    """Every user posts one photo at once; waits for every answer."""
    started_at = fake.clock()
    posted = await asyncio.gather(
        *(fake.post_message(user=user, attachment=photo) for user, (_, photo) in zip(users, photos, strict=True))
    )
    answers = [await fake.answer_to(message, timeout=60) for message in posted]
    gaps = fake.poll_gaps_ms(since=started_at)
    return Burst(
        seconds=max(answer.sent_at for answer in answers) - started_at,
        right=sum(first_digit(answer.text) == digit for (digit, _), answer in zip(photos, answers, strict=True)),
        worst_stall_ms=max(gaps, default=float("nan")),
        gaps=len(gaps),
        fake_stall_ms=fake.own_stall_ms(since=started_at),
    )


async def telegram_alone(model_path: Path, photos: list[tuple[int, Photo]], rounds: int) -> None:
    log_lines: list[str] = []
    async with FakeTelegram(long_poll_cap_seconds=POLL_CAP_SECONDS) as fake:
        probe = await fake.post_message(attachment=photos[0][1])  # waiting for the bot when it starts
        started = time.perf_counter()
        async with bot_process(telegram_environment(fake, model_path), log_lines) as bot:
            await fake.answer_to(probe, timeout=30)
            first_answer = time.perf_counter() - started
            await asyncio.sleep(SETTLE_SECONDS)
            memory_after_ready = rss_mb(bot.pid)
            users = [fake.make_user(f"user{n}") for n in range(USERS)]
            bursts = []
            for _ in range(rounds):
                await asyncio.sleep(RATE_LIMIT_REFILL_SECONDS)
                bursts.append(await burst(fake, photos, users))
            memory_after_bursts = rss_mb(bot.pid)
        status = bot.returncode

    print("Telegram alone (python -m bot with TELEGRAM_TOKEN):")
    print(
        f"  start → first answer:                {first_answer:6.2f} s   "
        f"(target ≤ {TARGET_FIRST_ANSWER_SECONDS:.0f} s: {verdict(first_answer, TARGET_FIRST_ANSWER_SECONDS)})"
    )
    print(
        f"  RSS after ready:                     {memory_after_ready:6.1f} MB  "
        f"(target ≤ {TARGET_RSS_TELEGRAM_MB:.0f} MB: {verdict(memory_after_ready, TARGET_RSS_TELEGRAM_MB)})"
    )
    for number, result in enumerate(bursts, start=1):
        print(f"  burst {number}: {USERS} photos from {USERS} users:")
        print(
            f"    all answered in:                   {result.seconds:6.2f} s   "
            f"(target ≤ {TARGET_BURST_SECONDS:.0f} s: {verdict(result.seconds, TARGET_BURST_SECONDS)})"
        )
        print(
            f"    read right:                        {result.right:6d}/{USERS} "
            f"(target ≥ {TARGET_RIGHT}: {verdict(result.right, TARGET_RIGHT, at_most=False)})"
        )
        print(
            f"    worst event-loop stall:            {result.worst_stall_ms:6.1f} ms  "
            f"(target ≤ {TARGET_STALL_MS:.0f} ms: {verdict(result.worst_stall_ms, TARGET_STALL_MS)}; "
            f"{result.gaps} getUpdates gaps; the fake's own worst stall {result.fake_stall_ms:.1f} ms)"
        )
    print(f"  RSS after the bursts:                {memory_after_bursts:6.1f} MB")
    print(f"  exit status on SIGINT:               {status}")
    print(f"  token in the bot's log:              {'YES' if any(fake.token in line for line in log_lines) else 'no'}")


async def both_front_ends(model_path: Path, photos: list[tuple[int, Photo]]) -> None:
    log_lines: list[str] = []
    (discord_digit, discord_photo), (telegram_digit, telegram_photo) = photos[0], photos[-1]
    async with FakeDiscord() as discord_fake, FakeTelegram() as telegram_fake:
        environment = {
            **telegram_environment(telegram_fake, model_path),
            "DISCORD_TOKEN": discord_fake.token,
            "DISCORD_API_BASE": discord_fake.api_base,
            "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
        }
        on_telegram = await telegram_fake.post_message(attachment=telegram_photo)
        started = time.perf_counter()
        async with bot_process(environment, log_lines) as bot:
            await discord_fake.wait_until_ready_sent(timeout=30)
            on_discord = await discord_fake.post_message(
                "!predict", uploads=[Upload.picture("digit", discord_photo.data)]
            )
            answers = [
                (await discord_fake.answer_to(on_discord, timeout=30)).text,
                (await telegram_fake.answer_to(on_telegram, timeout=30)).text,
            ]
            first_answers = time.perf_counter() - started
            await asyncio.sleep(SETTLE_SECONDS)
            memory_after_ready = rss_mb(bot.pid)
        status = bot.returncode
    right = [first_digit(text) for text in answers] == [discord_digit, telegram_digit]
    tokens = (discord_fake.token, telegram_fake.token)

    print("Discord and Telegram in one process (python -m bot with both tokens):")
    print(f"  start → first answer on each:        {first_answers:6.2f} s   ({'both right' if right else 'WRONG'})")
    print(
        f"  RSS after ready:                     {memory_after_ready:6.1f} MB  "
        f"(target ≤ {TARGET_RSS_BOTH_MB:.0f} MB: {verdict(memory_after_ready, TARGET_RSS_BOTH_MB)})"
    )
    print(f"  exit status on SIGINT:               {status}")
    leaked = any(token in line for token in tokens for line in log_lines)
    print(f"  a token in the bot's log:            {'YES' if leaked else 'no'}")


async def run(model_path: Path, mnist_path: Path, rounds: int) -> None:
    photos = readable_photos(mnist_path, model_path)
    gc.freeze()  # as the bot does: full collections here would stall the fakes' clocks and blur the bot's stalls
    print(f"model: {model_path}")
    await telegram_alone(model_path, photos, rounds)
    await both_front_ends(model_path, photos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--mnist", type=Path, default=MNIST_NPZ)
    parser.add_argument(
        "--rounds", type=int, default=3, help="bursts in a row (the machine's noise shows between them)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.model.resolve(), args.mnist, args.rounds))


if __name__ == "__main__":
    main()
