"""Prints the Discord bot's start-up time, a 40-picture burst's wall time, heartbeat lag and memory, on a fake Discord.

The bot runs as its own process (`python -m bot discord`), as in production; the fake Discord runs here.
Run: .venv/bin/python benchmarks/discord_burst.py [--model models/digits.tflite]. This machine is shared, so
timings are noisy; the fake's own worst stall says how much of the heartbeat lag is the machine's.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.harness import (  # noqa: E402
    BotProcess,
    benchmark_parser,
    bot_environment,
    first_headline,
    machine_load,
    predicted_digit,
)
from fakes.discord_server import FakeDiscord, Upload  # noqa: E402
from model_training.chat_pictures import render_chat_picture  # noqa: E402

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


def maps_tensorflow(pid: int) -> bool:
    return "tensorflow" in Path(f"/proc/{pid}/maps").read_text()


async def run(model_path: Path, mnist_path: Path) -> None:
    pictures = burst_pictures(mnist_path)
    gc.freeze()  # as the bot does: full collections here would stall the fake's clock and blur the bot's lag
    async with (
        FakeDiscord(heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS) as fake,
        BotProcess(bot_environment(fake, model_path, USER_COOLDOWN_SECONDS=0)) as bot,
    ):
        connected, first_answer = await bot.wait_until_answering(fake, pictures[0][1])
        memory_after_ready = bot.memory().rss_mb
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
        memory_after_burst = bot.memory().rss_mb
        right = sum(
            predicted_digit(first_headline([answer])) == digit
            for (digit, _), answer in zip(pictures, answers, strict=True)
        )
        uses_tensorflow = maps_tensorflow(bot.pid)
        cpus = bot.allowed_cpus()

    here = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    print(f"model: {model_path}; {machine_load()}; CPUs allowed to the bot: {cpus} (to this benchmark: {here})")
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
    print(f"token in the bot's log:             {'YES' if any(fake.token in line for line in bot.log_lines) else 'no'}")


def main() -> None:
    args = benchmark_parser(__doc__).parse_args()
    asyncio.run(run(args.model, args.mnist))


if __name__ == "__main__":
    main()
