"""Prints how the Discord bot holds up under a long, steady load: 3,000 pictures from 50 users in mixed chat styles,
all answered; its memory at the 1,000th and the last answer; post→reply latency on the fake's clock; accuracy.

Pictures go out at --rate a second with at most --in-flight unanswered, a pace the bot sustains, so latency is the
bot's own and not a queue's. USER_COOLDOWN_SECONDS=0, production settings otherwise; the bot runs as its own process.
--distinct pictures are rendered (model_training.chat_pictures, every style in turn) and posted again in turn.
Run: .venv/bin/python benchmarks/soak.py [--pictures 3000] [--rate 20] [--in-flight 8]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.harness import (  # noqa: E402
    AnswerBook,
    BotProcess,
    Memory,
    answer_latency_ms,
    benchmark_parser,
    bot_environment,
    check,
    count_kinds,
    first_headline,
    machine_load,
    mnist_test_split,
    percentile,
    predicted_digit,
)
from fakes.discord_server import FakeDiscord, Upload  # noqa: E402
from model_training.chat_pictures import rendered_examples  # noqa: E402

USERS = 50
MEMORY_AT_ANSWER = 1000
GROWTH_TARGET_MB = 20.0
P99_TARGET_MS = 100.0
ANSWER_TIMEOUT_SECONDS = 30.0
PROGRESS_EVERY = 500


class Soak:
    """Posts the pictures at a steady pace and keeps each one's answer, latency and the bot's memory on the way."""

    def __init__(self, fake: FakeDiscord, answers: AnswerBook, bot: BotProcess, total: int) -> None:
        self.fake, self.answers, self.bot, self.total = fake, answers, bot, total
        self.users = [fake.make_user(f"user{n}") for n in range(USERS)]
        self.headlines: list[str] = []
        self.latencies_ms: list[int] = []
        self.latencies_by_style: dict[str, list[int]] = {}
        self.right = 0
        self.memory_at: dict[int, Memory] = {}
        self.started = 0.0

    async def run(
        self, pictures: list[tuple[str, int, Upload]], rate: float, in_flight: int, max_seconds: float
    ) -> int:
        """Posts up to `total` pictures; returns how many were posted before `max_seconds` ran out."""
        slots = asyncio.Semaphore(in_flight)
        waiting: set[asyncio.Task[None]] = set()
        self.started = time.perf_counter()
        posted = 0
        for index in range(self.total):
            await asyncio.sleep(max(0.0, self.started + index / rate - time.perf_counter()))
            await slots.acquire()
            if time.perf_counter() - self.started > max_seconds:
                break
            style, label, upload = pictures[index % len(pictures)]
            user = self.users[index % USERS]
            task = asyncio.create_task(self._post_and_wait(style, label, upload, user, slots))
            waiting.add(task)
            task.add_done_callback(waiting.discard)
            posted += 1
        await asyncio.gather(*waiting)
        return posted

    async def _post_and_wait(
        self, style: str, label: int, upload: Upload, user: dict[str, Any], slots: asyncio.Semaphore
    ) -> None:
        try:
            message = await self.fake.post_message("!predict", author=user, uploads=[upload])
            try:
                answer = await self.answers.first_answer(message, ANSWER_TIMEOUT_SECONDS)
            except TimeoutError:
                self.headlines.append("(no answer)")
                return
        finally:
            slots.release()
        headline = first_headline([answer])
        self.headlines.append(headline)
        latency_ms = answer_latency_ms(message, answer)
        self.latencies_ms.append(latency_ms)
        self.latencies_by_style.setdefault(style, []).append(latency_ms)
        self.right += predicted_digit(headline) == label
        done = len(self.headlines)
        if done in (MEMORY_AT_ANSWER, self.total):
            self.memory_at[done] = self.bot.memory()
        if done % PROGRESS_EVERY == 0:
            elapsed = time.perf_counter() - self.started
            print(
                f"  {done:5d} answered in {elapsed:5.1f} s ({done / elapsed:4.1f}/s), "
                f"p99 so far {percentile(self.latencies_ms, 0.99):4.0f} ms, RSS {self.bot.memory().rss_mb:5.1f} MB, "
                f"{machine_load()}",
                flush=True,
            )


async def run(args: argparse.Namespace) -> None:
    images, labels = mnist_test_split(args.mnist)
    rendering = time.perf_counter()
    pictures = [
        (style, label, Upload.picture(f"{index}-{style}", data))
        for index, (style, label, data) in enumerate(rendered_examples(images, labels, args.distinct))
    ]
    print(f"rendered {len(pictures)} distinct pictures in {time.perf_counter() - rendering:.1f} s")
    gc.freeze()  # full collections here would stall the fake's loop and blur the bot's latency
    async with (
        FakeDiscord() as fake,
        AnswerBook(fake) as answers,
        BotProcess(bot_environment(fake, args.model, USER_COOLDOWN_SECONDS=0)) as bot,
    ):
        await bot.wait_until_answering(fake, pictures[0][2])
        after_ready = bot.memory()
        print(
            f"posting {args.pictures} pictures from {USERS} users at {args.rate:g}/s, at most {args.in_flight} "
            f"in flight ({machine_load()})"
        )
        soak = Soak(fake, answers, bot, args.pictures)
        posted = await soak.run(pictures, args.rate, args.in_flight, args.max_seconds)
        seconds = time.perf_counter() - soak.started

    print(f"\nmodel: {args.model}; {machine_load()}")
    answered = sum(headline != "(no answer)" for headline in soak.headlines)
    read = sum(predicted_digit(headline) is not None for headline in soak.headlines)
    check("posted", f"{posted} in {seconds:.0f} s", f"{args.pictures} planned", posted == args.pictures)
    check("answered", f"{answered} of {posted}", f"target all {args.pictures}", answered == args.pictures)
    check("… with a digit", f"{read} of {posted}")
    check("… read right (side number)", f"{soak.right / max(1, posted):.1%}")
    check("bot RSS after ready", f"{after_ready.rss_mb:.1f} MB")
    first, last = soak.memory_at.get(MEMORY_AT_ANSWER), soak.memory_at.get(args.pictures)
    if first and last:
        check(f"bot RSS at answer {MEMORY_AT_ANSWER:,}", f"{first.rss_mb:.1f} MB")
        check(f"bot RSS at answer {args.pictures:,}", f"{last.rss_mb:.1f} MB")
        growth = last.rss_mb - first.rss_mb
        target = f"target ≤ {GROWTH_TARGET_MB:.0f} MB"
        check("growth between them", f"{growth:+.1f} MB", target, growth <= GROWTH_TARGET_MB)
        check("bot peak RSS (VmHWM)", f"{last.peak_mb:.1f} MB")
    if soak.latencies_ms:
        for name, fraction in (("p50", 0.5), ("p90", 0.9)):
            check(f"post → reply {name}", f"{percentile(soak.latencies_ms, fraction):.0f} ms")
        p99 = percentile(soak.latencies_ms, 0.99)
        check("post → reply p99", f"{p99:.0f} ms", f"target ≤ {P99_TARGET_MS:.0f} ms", p99 <= P99_TARGET_MS)
        check("post → reply max", f"{max(soak.latencies_ms):.0f} ms")
        print("post → reply by style, p50 / p99 / max (ms):")
        for style, latencies in sorted(soak.latencies_by_style.items(), key=lambda item: -percentile(item[1], 0.99)):
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            print(f"  {style:<22} {p50:5.0f} / {p99:5.0f} / {max(latencies):5.0f}   ({len(latencies)} pictures)")
    print("answers:", count_kinds(soak.headlines))
    bot.print_trouble()


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--pictures", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=20.0, help="pictures posted a second (default 20)")
    parser.add_argument("--in-flight", type=int, default=8, help="most pictures posted and not yet answered")
    parser.add_argument("--distinct", type=int, default=240, help="pictures rendered, then posted again in turn")
    parser.add_argument("--max-seconds", type=float, default=270.0, help="stop posting after this long")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
