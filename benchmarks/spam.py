"""Prints how the Discord bot treats a spammer next to ordinary users under Discord's per-channel send limit: one user
posts 100 pictures in 5 s while 5 others post a picture each every --others-every seconds; notices, answers, others'
wait, 429s.

The fake answers 429 past --send-limit message creates per channel per window (default 5 per 5 s, the figure
Discord's per-channel message bucket shows in its X-RateLimit headers), and discord.py waits and retries as it does
on Discord. Production settings (a 1 s cooldown per user); the bot runs as its own process.
Run: .venv/bin/python benchmarks/spam.py [--send-limit 5/5 | --send-limit none] [--others-channel digits]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.harness import (  # noqa: E402
    AnswerBook,
    BotProcess,
    answer_latency_ms,
    benchmark_parser,
    bot_environment,
    check,
    count_kinds,
    headlines,
    machine_load,
    mnist_test_split,
    predicted_digit,
)
from fakes.discord_server import FakeDiscord, Upload  # noqa: E402
from model_training.chat_pictures import rendered_examples  # noqa: E402

SPAM_PICTURES, SPAM_SECONDS = 100, 5.0
OTHER_USERS = 5
NOTICE = "One moment, please."
NOTICES_TARGET = 10
OTHERS_MEDIAN_TARGET_SECONDS = 2.0
ANSWER_TIMEOUT_SECONDS = 120.0  # for all the others' answers together
QUIET_SECONDS = 6.0  # longer than the send window, so no answer is still waiting for it


def send_limit(raw: str) -> tuple[int, float] | None:
    """ "5/5" → (5, 5.0): messages per seconds; "none" → no limit."""
    if raw == "none":
        return None
    messages, seconds = raw.split("/")
    return int(messages), float(seconds)


async def post_at(
    fake: FakeDiscord, delay: float, user: dict[str, Any], upload: Upload, channel_id: int
) -> dict[str, Any]:
    await asyncio.sleep(delay)
    return await fake.post_message("!predict", author=user, uploads=[upload], channel_id=channel_id)


async def run(args: argparse.Namespace) -> None:
    images, labels = mnist_test_split(args.mnist)
    pictures = [
        Upload.picture(f"{index}-{style}", data)
        for index, (style, _, data) in enumerate(rendered_examples(images, labels, 24))
    ]
    gc.freeze()  # full collections here would stall the fake's loop and blur answer times
    limit = "none" if args.send_limit is None else f"{args.send_limit[0]} per {args.send_limit[1]:g} s"
    async with (
        FakeDiscord(channel_send_limit=args.send_limit) as fake,
        AnswerBook(fake) as answers,
        BotProcess(bot_environment(fake, args.model)) as bot,
    ):
        await bot.wait_until_answering(fake, pictures[0])
        others_channel = fake.digits_channel_id if args.others_channel == "digits" else fake.general_channel_id
        print(
            f"send limit per channel: {limit}; spammer in #general, the {OTHER_USERS} others in "
            f"#{args.others_channel}, one picture each every {args.others_every:g} s for {args.others_seconds:g} s "
            f"({machine_load()})"
        )
        spammer = fake.make_user("spammer")
        others = [fake.make_user(f"user{n}") for n in range(OTHER_USERS)]
        limited_before = len(fake.rate_limited)
        started = time.perf_counter()
        spam = [
            post_at(
                fake,
                index * SPAM_SECONDS / SPAM_PICTURES,
                spammer,
                pictures[index % len(pictures)],
                fake.general_channel_id,
            )
            for index in range(SPAM_PICTURES)
        ]
        ticks = max(1, round(args.others_seconds / args.others_every))
        ordinary = [  # each user posts once a tick; the users are spread over the tick
            post_at(
                fake,
                (tick + n / OTHER_USERS) * args.others_every,
                user,
                pictures[(tick * OTHER_USERS + n) % len(pictures)],
                others_channel,
            )
            for tick in range(ticks)
            for n, user in enumerate(others)
        ]
        posted = await asyncio.gather(*spam, *ordinary)
        spam_posts, other_posts = posted[:SPAM_PICTURES], posted[SPAM_PICTURES:]
        waits = []  # seconds from each other user's post to its answer, on the fake's clock; inf: none came
        deadline = time.perf_counter() + ANSWER_TIMEOUT_SECONDS
        for message in other_posts:
            try:
                answer = await answers.first_answer(message, max(0.0, deadline - time.perf_counter()))
            except TimeoutError:
                waits.append(math.inf)
                continue
            waits.append(answer_latency_ms(message, answer) / 1000)
        settled = await answers.quiet_for(QUIET_SECONDS, ANSWER_TIMEOUT_SECONDS)
        seconds = time.perf_counter() - started - QUIET_SECONDS
        rate_limited = len(fake.rate_limited) - limited_before

    to_spammer = [
        headline for message in spam_posts for answer in answers.answers_to(message) for headline in headlines(answer)
    ]
    notices = sum(headline == NOTICE for headline in to_spammer)
    spam_read = sum(predicted_digit(headline) is not None for headline in to_spammer)
    print(f"\nmodel: {args.model}; {machine_load()}")
    check(
        "notices (“One moment”) to the spammer", str(notices), f"target ≤ {NOTICES_TARGET}", notices <= NOTICES_TARGET
    )
    check("spammer's pictures answered with a digit", f"{spam_read} of {SPAM_PICTURES}")
    check("spammer's pictures left unanswered", f"{SPAM_PICTURES - len(to_spammer)} of {SPAM_PICTURES}")
    answered = sum(wait < math.inf for wait in waits)
    check("others' pictures answered", f"{answered} of {len(waits)}", "target all", answered == len(waits))
    others_median = statistics.median(waits)  # an unanswered picture counts as the longest wait
    median_target = f"target < {OTHERS_MEDIAN_TARGET_SECONDS:.0f} s"
    check(
        "others' post → answer, median",
        f"{others_median:.2f} s",
        median_target,
        others_median < OTHERS_MEDIAN_TARGET_SECONDS,
    )
    check("others' post → answer, max", f"{max(waits):.2f} s")
    check("429s the bot met", str(rate_limited))
    check("first post → last answer", f"{seconds:.1f} s" + ("" if settled else " (still sending)"))
    print("answers to the spammer:", count_kinds(to_spammer))
    bot.print_trouble()


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--send-limit", type=send_limit, default=(5, 5.0), help="MESSAGES/SECONDS or none")
    parser.add_argument("--others-channel", choices=("general", "digits"), default="general")
    parser.add_argument("--others-seconds", type=float, default=10.0, help="how long the others keep posting")
    parser.add_argument(
        "--others-every",
        type=float,
        default=5.0,
        help="seconds between two pictures of one of the others (5: together they post one a second, the channel's "
        "whole send limit; 1: five times what the channel can carry, which no bot can answer in 2 s)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
