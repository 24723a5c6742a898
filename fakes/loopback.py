"""A fake service on 127.0.0.1, run in a thread with its own event loop as the real one runs elsewhere: its clocks
see a stalled bot, and the test side waits on what it records without blocking the bot's loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Self, TypeVar

from aiohttp import web

T = TypeVar("T")
STALL_WATCH_SECONDS = 0.01


def what_the_bot_did(sent: Iterable[str], unknown_requests: list[str]) -> str:
    """A fake's `what_happened()`: the requests it does not serve, then each message the bot sent, one a line."""
    sent_lines = "\n".join(f"  {message}" for message in sent) or "  (nothing)"
    unknown = f"; unknown requests: {unknown_requests}" if unknown_requests else ""
    return f"{unknown}; the bot sent:\n{sent_lines}"


class LoopbackServer:
    """Serves `make_app()` on a free port of 127.0.0.1 from `start()` to `close()` (or as `async with`)."""

    name = "fake server"  # in the thread's name and in what a failed wait says

    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._changed: asyncio.Condition | None = None
        self._own_stalls: list[tuple[float, float]] = []
        self._stall_watch: asyncio.Task[None] | None = None

    def make_app(self) -> web.Application:
        raise NotImplementedError

    async def before_stop(self) -> None:
        """On the server's loop, before the server closes: e.g. end long polls or close websockets."""

    def what_happened(self) -> str:
        """What the bot did, for the message of a wait that timed out."""
        return ""

    # ---- lifecycle -------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self._start_server())
            except BaseException as error:
                failure.append(error)
                started.set()
                return
            started.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._stop_server())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name=self.name, daemon=True)
        self._thread.start()
        await asyncio.to_thread(started.wait)
        if failure:
            raise failure[0]

    async def close(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 10)
        self._loop = self._thread = None

    async def _start_server(self) -> None:
        self._changed = asyncio.Condition()
        self._runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        self._stall_watch = asyncio.get_running_loop().create_task(self._watch_own_loop())

    async def _watch_own_loop(self) -> None:
        while True:
            asleep_at = self.clock()
            await asyncio.sleep(STALL_WATCH_SECONDS)
            self._own_stalls.append((asleep_at, (self.clock() - asleep_at - STALL_WATCH_SECONDS) * 1000))

    async def _stop_server(self) -> None:
        if self._stall_watch is not None:
            self._stall_watch.cancel()
        await self.before_stop()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- time --------------------------------------------------------------------------------------------------

    @staticmethod
    def clock() -> float:
        """The clock of every time the server records: time.perf_counter(), the same in every thread."""
        return time.perf_counter()

    def own_stall_ms(self, since: float = 0.0) -> float:
        """The longest the server's own loop was late since `since`: a delay below this is not the bot's."""
        return max((stall for asleep_at, stall in self._own_stalls if asleep_at >= since), default=0.0)

    # ---- between the test's loop and the server's loop ---------------------------------------------------------

    async def _on_server_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, f"the {self.name} is not running"
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def _wait_until(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Until `done()` holds, checked each time the server calls `_changed_now()`; fails after `timeout` s."""

        async def wait() -> bool:
            assert self._changed is not None
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait_for(done), timeout)
                except TimeoutError:
                    return False
            return True

        if not await self._on_server_loop(wait()):
            raise AssertionError(f"the {self.name} waited {timeout} s for {what}{self.what_happened()}")

    async def _changed_now(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
