"""Prints the Discord bot's memory under hostile uploads: attachments that declare 50 KB while the CDN streams 200 MB,
ten messages of ten 10 MB files that are no pictures, and a 50 MP progressive JPEG of ~300 KB.

For each: the bot's peak RSS (sampled every 20 ms from /proc, and VmHWM), its RSS after 10 s idle, every answer's
headline, and whether a normal picture posted afterwards is still read right. One bot process, production settings,
lives through all the scenarios in turn, as it would in production.
Run: .venv/bin/python benchmarks/hostile_uploads.py [--model models/digits.tflite]
"""

from __future__ import annotations

import asyncio
import gc
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.harness import (  # noqa: E402
    AnswerBook,
    BotProcess,
    MemorySampler,
    answer_latency_ms,
    benchmark_parser,
    bot_environment,
    check,
    count_kinds,
    first_headline,
    headlines,
    machine_load,
    mnist_test_split,
    predicted_digit,
    reset_peak,
)
from fakes.discord_server import FakeDiscord, Upload  # noqa: E402
from model_training.chat_pictures import render_chat_picture  # noqa: E402

PEAK_TARGET_MB = 250.0
IDLE_TARGET_MB = 150.0
IDLE_SECONDS = 10.0
ANSWER_TIMEOUT_SECONDS = 120.0
DECLARED_BYTES = 50_000
STREAMED_BYTES = 200_000_000
NEAR_LIMIT_BYTES = 10_000_000  # under the 10 MiB limit: downloaded whole, then refused
HUGE_SIDES = (8640, 5760)  # 49.8 MP: just under MAX_IMAGE_PIXELS, so only what decoding it costs may refuse it
PAPER = 235


@dataclass(frozen=True)
class Scenario:
    name: str
    messages: list[list[Upload]]  # each message's attachments; every message comes from a user of its own
    peak_target_mb: float | None  # None: measured, no target


def oversize_stream(index: int, *, chunked: bool) -> Upload:
    """Declares 50 KB; the CDN streams 200 MB, with a Content-Length of 200 MB or none at all."""
    return Upload(f"small-{index}.png", b"", declared_size=DECLARED_BYTES, served_size=STREAMED_BYTES, chunked=chunked)


def near_limit_file(index: int, noise: bytes) -> Upload:
    """10,000,000 bytes named as a PNG: a PNG signature then zeros (streamed by the CDN), or random bytes."""
    if index % 2:
        return Upload(f"noise-{index}.png", noise)
    return Upload(f"zeros-{index}.png", b"", declared_size=NEAR_LIMIT_BYTES, served_size=NEAR_LIMIT_BYTES)


def huge_progressive_jpeg(digit: np.ndarray) -> bytes:
    """A 49.8 MP photo of paper with one big dark digit, saved as a progressive JPEG of about 300 KB."""
    width, height = HUGE_SIDES
    page = Image.new("L", HUGE_SIDES, PAPER)
    side = height // 2
    ink = Image.fromarray(255 - digit).resize((side, side), Image.Resampling.BICUBIC)
    page.paste(ink.point(lambda level: min(level, PAPER)), ((width - side) // 2, (height - side) // 2))
    encoded = io.BytesIO()
    page.convert("RGB").save(encoded, "JPEG", quality=75, progressive=True)
    return encoded.getvalue()


def scenarios(images: np.ndarray) -> list[Scenario]:
    noise = np.random.default_rng(0).bytes(NEAR_LIMIT_BYTES)
    return [
        Scenario(
            "(a1) one 50 KB attachment, 200 MB streamed without Content-Length",
            [[oversize_stream(0, chunked=True)]],
            PEAK_TARGET_MB,
        ),
        Scenario(
            "(a2) ten in one message, without Content-Length",
            [[oversize_stream(index, chunked=True) for index in range(10)]],
            PEAK_TARGET_MB,
        ),
        Scenario(
            "(a3) ten in one message, Content-Length 200 MB",
            [[oversize_stream(index, chunked=False) for index in range(10)]],
            PEAK_TARGET_MB,
        ),
        Scenario(
            "(b) ten messages of ten 10,000,000-byte non-pictures",
            [[near_limit_file(10 * message + index, noise) for index in range(10)] for message in range(10)],
            PEAK_TARGET_MB,
        ),
        Scenario(
            f"(c) a {HUGE_SIDES[0] * HUGE_SIDES[1] / 1e6:.1f} MP progressive JPEG",
            [[Upload("huge.jpg", huge_progressive_jpeg(images[0]))]],
            None,
        ),
    ]


async def play(
    scenario: Scenario,
    fake: FakeDiscord,
    answers: AnswerBook,
    bot: BotProcess,
    sampler: MemorySampler,
    normal: tuple[int, Upload],
) -> None:
    print(f"\n{scenario.name} ({machine_load()})")
    before = bot.memory()
    peak_reset = reset_peak(bot.pid)
    started = time.perf_counter()
    served_before = sum(fake.bytes_served.values())
    posted = await asyncio.gather(
        *(
            fake.post_message("!predict", author=fake.make_user(f"uploader{index}"), uploads=uploads)
            for index, uploads in enumerate(scenario.messages)
        )
    )
    unanswered = 0
    for message in posted:
        try:
            await answers.first_answer(message, ANSWER_TIMEOUT_SECONDS)
        except TimeoutError:
            unanswered += 1
    answered_at = time.perf_counter()
    await asyncio.sleep(IDLE_SECONDS)
    idle = bot.memory()
    peak_sampled = sampler.peak_rss_mb(since=started)
    back_at = sampler.first_at_or_below(IDLE_TARGET_MB, since=answered_at)
    said = [headline for message in posted for answer in answers.answers_to(message) for headline in headlines(answer)]
    served_mb = (sum(fake.bytes_served.values()) - served_before) / 1e6

    label, picture = normal
    try:
        after = first_headline([await answers.first_answer(await fake.post_message("!predict", uploads=[picture]), 30)])
    except TimeoutError:
        after = "(no answer)"

    check("bot RSS before", f"{before.rss_mb:.1f} MB")
    target = f"target ≤ {scenario.peak_target_mb:.0f} MB" if scenario.peak_target_mb else "(no target)"
    peak = max(peak_sampled, idle.peak_mb if peak_reset else 0.0)
    check("bot peak RSS, sampled every 20 ms", f"{peak_sampled:.1f} MB")
    check("bot peak RSS, VmHWM" + ("" if peak_reset else " since start"), f"{idle.peak_mb:.1f} MB")
    met = None if scenario.peak_target_mb is None else peak <= scenario.peak_target_mb
    check("bot peak RSS", f"{peak:.1f} MB", target, met)
    check(
        f"bot RSS {IDLE_SECONDS:.0f} s after the last answer",
        f"{idle.rss_mb:.1f} MB",
        f"target ≤ {IDLE_TARGET_MB:.0f} MB",
        idle.rss_mb <= IDLE_TARGET_MB,
    )
    settled = "never" if back_at is None else f"after {back_at - answered_at:.1f} s"
    check(f"… first at or below {IDLE_TARGET_MB:.0f} MB", settled)
    check("messages answered", f"{len(posted) - unanswered} of {len(posted)}", "", unanswered == 0)
    latencies = [
        answer_latency_ms(message, replies[-1]) for message in posted if (replies := answers.answers_to(message))
    ]
    check("post → last answer, on the fake's clock", f"{max(latencies, default=0)} ms")
    if served_mb:
        check("bytes the CDN streamed before the bot hung up", f"{served_mb:.1f} MB")
    check("a normal picture afterwards", after, f"target: reads {label}", predicted_digit(after) == label)
    print("answers:", count_kinds(said))


async def run(model_path: Path, mnist_path: Path) -> None:
    images, labels = mnist_test_split(mnist_path)
    normal_picture = render_chat_picture(images[1], "paper_photo", np.random.default_rng(1))
    normal = (int(labels[1]), Upload.picture("normal", normal_picture))
    plan = scenarios(images)
    gc.freeze()  # full collections here would stall the fake's loop, and with it the bot's downloads
    async with (
        FakeDiscord() as fake,
        AnswerBook(fake) as answers,
        BotProcess(bot_environment(fake, model_path)) as bot,
    ):
        await bot.wait_until_answering(fake, normal[1])
        print(f"model: {model_path}; production settings; bot RSS after ready {bot.memory().rss_mb:.1f} MB")
        with MemorySampler(bot.pid) as sampler:
            for scenario in plan:
                await play(scenario, fake, answers, bot, sampler, normal)
                if bot.returncode is not None:
                    print(f"the bot exited with status {bot.returncode}")
                    break
    print()
    bot.print_trouble()


def main() -> None:
    args = benchmark_parser(__doc__).parse_args()
    asyncio.run(run(args.model, args.mnist))


if __name__ == "__main__":
    main()
