"""Prints the Discord bot's start-up time, a 40-picture burst's wall time, heartbeat lag and memory, on a fake Discord.

The bot runs as its own process (`python -m bot discord`), as in production; the fake Discord runs here.
Run: .venv/bin/python benchmarks/discord_burst.py [--model models/digits.tflite]. This machine is shared, so
timings are noisy; the fake's own worst stall says how much of the heartbeat lag is the machine's.
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
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bot.settings import DEFAULT_MODEL_PATH
from model_training.chat_pictures import render_chat_picture
from model_training.data import MNIST_NPZ
from fakes.discord_server import FakeDiscord, Upload

USERS, PICTURES_EACH = 8, 5
HEARTBEAT_INTERVAL_MS = 100
STYLES = ("paper_photo", "canvas_screenshot", "transparent_png", "notebook", "drawing_png")


def burst_pictures(mnist_path: Path) -> list[tuple[int, Upload]]:
    with np.load(mnist_path) as mnist:
        images, labels = mnist["x_test"][:200], mnist["y_test"][:200]
    rng = np.random.default_rng(0)
    chosen = []
    for index in range(USERS * PICTURES_EACH):
        style = STYLES[index % len(STYLES)]
        data = render_chat_picture(images[index], style, rng)
        chosen.append((int(labels[index]), Upload.picture(f"{index}-{style}", data)))
    return chosen


def first_digit(text: str) -> int | None:
    match = re.search(r"\d", text)
    return int(match.group()) if match else None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc")


def maps_tensorflow(pid: int) -> bool:
    return "tensorflow" in Path(f"/proc/{pid}/maps").read_text()


async def run(model_path: Path, mnist_path: Path) -> None:
    pictures = burst_pictures(mnist_path)
    gc.freeze()  # as the bot does: full collections here would stall the fake's clock and blur the bot's lag
    async with FakeDiscord(heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS) as fake:
        environment = {
            **os.environ,
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "DEV_GUILD_ID": str(fake.guild_id),
            "MODEL_PATH": str(model_path),
            "USER_COOLDOWN_SECONDS": "0",
            "LOG_LEVEL": "INFO",
        }
        started = time.perf_counter()
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "discord",
            env=environment,
            cwd=PROJECT_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        log_lines: list[str] = []
        log_reader = asyncio.create_task(collect_lines(bot.stdout, log_lines))
        try:
            await fake.wait_until_ready_sent(timeout=30)
            connected = time.perf_counter() - started
            probe = await fake.post_message("!predict", uploads=[pictures[0][1]])
            await fake.answer_to(probe, timeout=30)
            first_answer = time.perf_counter() - started
            await asyncio.sleep(2.5)  # past discord.py's 2 s guild_ready_timeout, so on_ready has run
            memory_after_ready = rss_mb(bot.pid)

            users = [fake.make_user(f"user{n}") for n in range(USERS)]
            burst_started_at = fake.clock()
            burst_started = time.perf_counter()
            posted = await asyncio.gather(
                *(
                    fake.post_message("!predict", author=users[index % USERS], uploads=[upload])
                    for index, (_, upload) in enumerate(pictures)
                )
            )
            answers = [await fake.answer_to(message, timeout=60) for message in posted]
            burst_seconds = time.perf_counter() - burst_started
            await fake.wait_for_heartbeats(len(fake.heartbeats) + 2)
            lags = fake.heartbeat_lags_ms(since=burst_started_at)
            fake_stall = fake.own_stall_ms(since=burst_started_at)
            memory_after_burst = rss_mb(bot.pid)
            right = sum(first_digit(answer.text) == digit for (digit, _), answer in zip(pictures, answers, strict=True))
            uses_tensorflow = maps_tensorflow(bot.pid)
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(bot.wait(), 10)
                except TimeoutError:
                    bot.kill()
            await log_reader

    print(f"model: {model_path}")
    print(f"start → connected (READY sent):     {connected:6.2f} s")
    print(f"start → first answer:               {first_answer:6.2f} s   (target ≤ 2 s)")
    print(
        f"burst of {len(pictures)} pictures from {USERS} users:  {burst_seconds:6.2f} s   (target ≤ 5 s), "
        f"{right}/{len(pictures)} read right"
    )
    print(
        f"max heartbeat lag during the burst: {max(lags):6.1f} ms  (target ≤ 100 ms; {len(lags)} heartbeats, "
        f"every {HEARTBEAT_INTERVAL_MS} ms)"
    )
    print(f"the fake Discord's own worst stall: {fake_stall:6.1f} ms  (heartbeat lag below this is the machine's)")
    print(f"bot RSS after ready:                {memory_after_ready:6.1f} MB  (target ≤ 120 MB)")
    print(f"bot RSS after the burst:            {memory_after_burst:6.1f} MB")
    print(f"TensorFlow mapped in the bot:       {'yes' if uses_tensorflow else 'no'}")
    print(f"token in the bot's log:             {'YES' if any(fake.token in line for line in log_lines) else 'no'}")


async def collect_lines(stream: asyncio.StreamReader | None, lines: list[str]) -> None:
    assert stream is not None
    async for line in stream:
        lines.append(line.decode(errors="replace"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--mnist", type=Path, default=MNIST_NPZ)
    args = parser.parse_args()
    asyncio.run(run(args.model.resolve(), args.mnist))


if __name__ == "__main__":
    main()
