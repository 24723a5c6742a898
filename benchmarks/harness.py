"""What the Discord benchmarks share: a fake Discord, the bot as its own process, its memory read from /proc, and
answer times on the fake's clock (a message's id carries the millisecond the fake made it, as Discord's do)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.settings import DEFAULT_MODEL_PATH
from fakes.discord_server import DISCORD_EPOCH_MS, FakeDiscord, SentMessage, Upload
from model_training.data import MNIST_NPZ

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUILD_READY_SECONDS = 2.5  # past discord.py's 2 s guild_ready_timeout, so on_ready has run
STOP_SECONDS = 10.0  # for the bot to exit on SIGINT when a benchmark ends, before it is killed
LOG_RECORD_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # bot.settings.LOG_FORMAT's asctime
TROUBLE = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback")
FOLLOW_INTERVAL_SECONDS = 0.005  # answer times come from the fake's ids: this only paces what is posted next


def benchmark_parser(docstring: str) -> argparse.ArgumentParser:
    """The command line every Discord benchmark starts from: its docstring's first line, --model and --mnist."""
    parser = argparse.ArgumentParser(description=docstring.splitlines()[0])
    parser.add_argument("--model", type=lambda raw: Path(raw).resolve(), default=DEFAULT_MODEL_PATH)
    parser.add_argument("--mnist", type=Path, default=MNIST_NPZ, help="the MNIST file its pictures are drawn from")
    return parser


def mnist_test_split(mnist_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's test images (uint8, N × 28 × 28) and labels."""
    with np.load(mnist_path) as mnist:
        return mnist["x_test"], mnist["y_test"]


def bot_environment(fake: FakeDiscord, model_path: Path, **settings: object) -> dict[str, str]:
    """This process's environment pointed at `fake`, plus `settings` (e.g. USER_COOLDOWN_SECONDS=0)."""
    return {
        **os.environ,
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "DEV_GUILD_ID": str(fake.guild_id),
        "MODEL_PATH": str(model_path),
        "LOG_LEVEL": "INFO",
        **{name: str(value) for name, value in settings.items()},
    }


class BotProcess:
    """`python -m bot discord` (or other `arguments`) as in production, its log kept; leaving the block stops it
    (SIGINT, then SIGKILL)."""

    def __init__(self, environment: Mapping[str, str], arguments: Sequence[str] = ("discord",)) -> None:
        self._environment = dict(environment)
        self._arguments = tuple(arguments)
        self._process: asyncio.subprocess.Process | None = None
        self._log_reader: asyncio.Task[None] | None = None
        self.log_lines: list[str] = []
        self.started_at = 0.0  # time.perf_counter(), the fake's clock too

    async def __aenter__(self) -> BotProcess:
        self.started_at = time.perf_counter()
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *self._arguments,
            env=self._environment,
            cwd=PROJECT_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._log_reader = asyncio.create_task(self._collect_log())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.returncode is None:
            exit_status, _ = await self.stop(signal.SIGINT, STOP_SECONDS)
            if exit_status is None:
                self.process.kill()
                await self.process.wait()
        if self._log_reader is not None:
            await self._log_reader

    @property
    def process(self) -> asyncio.subprocess.Process:
        assert self._process is not None, "the bot has not been started"
        return self._process

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait_until_answering(
        self, fake: FakeDiscord, probe: Upload, timeout: float = 30.0
    ) -> tuple[float, float]:
        """Seconds from start to READY sent and to the first answer; then waits until on_ready has run."""
        await fake.wait_until_ready_sent(timeout=timeout)
        connected = time.perf_counter() - self.started_at
        await fake.answer_to(await fake.post_message("!predict", uploads=[probe]), timeout=timeout)
        first_answer = time.perf_counter() - self.started_at
        await asyncio.sleep(GUILD_READY_SECONDS)
        return connected, first_answer

    async def stop(self, signal_number: int, timeout: float) -> tuple[int | None, float]:
        """Sends the signal; returns the exit status (None: still running after `timeout`) and seconds to exit."""
        sent_at = time.perf_counter()
        self.process.send_signal(signal_number)
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            return None, timeout
        return self.process.returncode, time.perf_counter() - sent_at

    def memory(self) -> Memory:
        return memory_of(self.pid)

    def allowed_cpus(self) -> str:
        return proc_status(self.pid)["Cpus_allowed_list"]

    def log_records(self) -> list[str]:
        """The log a record at a time: a time-stamped line with the lines that follow it (a traceback)."""
        records: list[str] = []
        for line in self.log_lines:
            if records and not LOG_RECORD_START.match(line):
                records[-1] += "\n" + line
            else:
                records.append(line)
        return records

    def trouble(self) -> list[str]:
        """The records an operator must look at: warnings, errors and tracebacks."""
        return [record for record in self.log_records() if TROUBLE.search(record)]

    def print_trouble(self, kinds: int = 12) -> None:
        """Each kind of warning, error or traceback in the log once, in full, with how often it came."""
        trouble = self.trouble()
        print(f"warnings, errors and tracebacks in the bot's log: {len(trouble)}")
        first_of_kind: dict[str, str] = {}
        counts: Counter[str] = Counter()
        for record in trouble:
            kind = blank_numbers(record.split("\n", 1)[0].split(" ", 2)[-1])  # without its time stamp
            first_of_kind.setdefault(kind, record)
            counts[kind] += 1
        for kind, count in counts.most_common(kinds):
            print(f"  {count} × " + first_of_kind[kind].replace("\n", "\n      "))

    async def _collect_log(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.log_lines.append(line.decode(errors="replace").rstrip("\n"))


def proc_status(pid: int) -> dict[str, str]:
    fields = (line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {name: value.strip() for name, value in fields}


@dataclass(frozen=True)
class Memory:
    rss_mb: float  # VmRSS: resident now
    peak_mb: float  # VmHWM: the most resident since start, or since `reset_peak`


def memory_of(pid: int) -> Memory:
    status = proc_status(pid)
    return Memory(int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024)


def reset_peak(pid: int) -> bool:
    """Starts VmHWM again from the current RSS (Linux 4.0+); False where this process may not."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class MemorySampler:
    """Reads a process's memory every `interval` seconds in a thread, so a busy event loop here delays no sample."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, Memory]] = []  # (time.perf_counter(), memory)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="memory-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_rss_mb(self, since: float) -> float:
        """The most RSS sampled after `since` (time.perf_counter())."""
        return max((memory.rss_mb for at, memory in self.samples if at >= since), default=0.0)

    def first_at_or_below(self, rss_mb: float, since: float) -> float | None:
        """When RSS was first sampled at or below `rss_mb` after `since`; None if never."""
        return next((at for at, memory in self.samples if at >= since and memory.rss_mb <= rss_mb), None)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.samples.append((time.perf_counter(), memory_of(self.pid)))
            except (FileNotFoundError, ProcessLookupError, KeyError):
                return  # the process has exited


def fake_time_ms(message_id: int) -> int:
    """When the fake made a message, in ms since the Unix epoch: the time part of its snowflake id."""
    return (message_id >> 22) + DISCORD_EPOCH_MS


def answer_latency_ms(request: Mapping[str, Any], answer: SentMessage) -> int:
    """From the fake dispatching a user's message to the fake receiving the bot's answer, to the millisecond."""
    return fake_time_ms(answer.id) - fake_time_ms(int(request["id"]))


class AnswerBook:
    """Every message the bot sends, filed under the message it replies to as it arrives.

    One follower polling `fake.sent` for the whole run: thousands of `fake.answer_to` waiters would each rescan it
    on every change, and a wait on the fake's loop cancelled at exit outlives that loop.
    """

    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake
        self._by_request: dict[int | None, list[SentMessage]] = {}
        self._waiters: dict[int, asyncio.Future[SentMessage]] = {}
        self._follower: asyncio.Task[None] | None = None
        self.received = 0

    async def __aenter__(self) -> AnswerBook:
        self.received = len(self._fake.sent)
        self._follower = asyncio.create_task(self._follow())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower

    def answers_to(self, request: Mapping[str, Any]) -> list[SentMessage]:
        return self._by_request.get(int(request["id"]), [])

    async def first_answer(self, request: Mapping[str, Any], timeout: float) -> SentMessage:
        """The bot's first reply to `request`; raises TimeoutError after `timeout` seconds without one."""
        if answers := self.answers_to(request):
            return answers[0]
        request_id = int(request["id"])
        if request_id not in self._waiters:
            self._waiters[request_id] = asyncio.get_running_loop().create_future()
        return await asyncio.wait_for(asyncio.shield(self._waiters[request_id]), timeout)

    async def quiet_for(self, seconds: float, timeout: float) -> bool:
        """Waits until the bot has sent nothing for `seconds`; False if it was still sending after `timeout`."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            before = self.received
            await asyncio.sleep(seconds)
            if self.received == before:
                return True
        return False

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(FOLLOW_INTERVAL_SECONDS)
            for message in self._fake.sent[self.received :]:
                self.received += 1
                self._by_request.setdefault(message.reply_to, []).append(message)
                waiter = self._waiters.pop(message.reply_to, None) if message.reply_to else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)


def headlines(message: SentMessage) -> list[str]:
    """What each reply in a bot's message says first: its embeds' titles (or the plain text)."""
    return [embed.get("title", "") for embed in message.embeds] or [message.content]


def blank_numbers(text: str) -> str:
    """The text with its numbers as #, so that every answer (or log line) of one kind counts together."""
    return re.sub(r"\d+(\.\d+)?", "#", text)


def predicted_digit(headline: str) -> int | None:
    """The digit a prediction's headline gives ("7 — 98.1% sure", "7? I'm not sure…"); None for any refusal."""
    match = re.match(r"(\d)(?: —|\?)", headline)
    return int(match.group(1)) if match else None


def first_headline(replies: Sequence[SentMessage]) -> str:
    """The first thing the bot said to a request, or "(no answer)"."""
    return headlines(replies[0])[0] if replies else "(no answer)"


def count_kinds(headline_list: Sequence[str]) -> str:
    """ "3 × '# — #% sure', 1 × 'One moment, please.'": how many headlines of each kind, most common first."""
    kinds = Counter(blank_numbers(headline) for headline in headline_list)
    return ", ".join(f"{count} × {kind!r}" for kind, count in kinds.most_common())


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: a value that was measured, never one between two."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(np.ceil(fraction * len(ordered))) - 1))]


def machine_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def check(label: str, value: str, target: str = "", met: bool | None = None) -> None:
    """Prints a measured value beside its target, and met/MISSED when there is one."""
    verdict = "" if met is None else ("met" if met else "MISSED")
    print(f"{label:<46} {value:>16}   {target:<26} {verdict}".rstrip())
