"""The bot as production runs it, for the tests that stop it with a signal: `python -m bot …` in a process of its
own, its output read as it comes, so that a full pipe never holds it up."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from tests.conftest import temporary_database_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class BotProcess:
    """A running `python -m bot`; `log` holds its output (stdout and stderr together), one line an item."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.log: list[str] = []
        self._log_reader = asyncio.create_task(self._read_log())

    @property
    def output(self) -> str:
        return "\n".join(self.log)

    async def stop(self, stop_signal: signal.Signals, timeout: float) -> int:
        """Sends `stop_signal` (as systemd, Docker or Ctrl-C do); the exit status, if it comes within `timeout` s."""
        self._process.send_signal(stop_signal)
        return await asyncio.wait_for(self._process.wait(), timeout)

    async def _read_log(self) -> None:
        assert self._process.stdout is not None
        async for line in self._process.stdout:
            self.log.append(line.decode(errors="replace").rstrip())

    async def _end(self) -> None:
        """Kills the bot if it still runs, then waits for the rest of its output."""
        if self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        await self._log_reader


@asynccontextmanager
async def bot_process(*arguments: str, environment: Mapping[str, str]) -> AsyncIterator[BotProcess]:
    """`python -m bot *arguments` with `environment` over this process's; once the block ends, `log` is complete.

    Its answers go to a temporary SQLite file unless `environment` names a DATABASE_URL.
    """
    environment = {"DATABASE_URL": temporary_database_url(), **environment}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *arguments,
        env={**os.environ, **environment},
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    bot = BotProcess(process)
    try:
        yield bot
    finally:
        await bot._end()
