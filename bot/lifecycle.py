"""Running front ends on one event loop over one service, and stopping them cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import Sequence
from typing import Protocol

from bot.metrics import start_metrics_server
from bot.service import DigitService

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED = 0, 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # what systemd and Docker send, and Ctrl-C
CLOSE_SECONDS = 5.0  # for a front end to say goodbye (close its gateway) once its work is done


class StartupFailed(Exception):
    """A front end could not start, or was turned away later (a token reset); the message is the one line to fix it."""


class FrontEnd(Protocol):
    name: str

    async def run(self) -> None:
        """Connects and serves until `close`; raises StartupFailed when it cannot start."""

    async def close(self) -> None:
        """Disconnects normally; work in flight has already finished or been given up."""


async def serve(service: DigitService, front_ends: Sequence[FrontEnd]) -> int:
    """Runs every front end until a signal or a failure; returns the process exit status."""
    if service.storage_problem:
        log.error("%s", service.storage_problem)
        return EXIT_FAILED
    keep_start_up_objects_out_of_garbage_collection()
    stop_signal = asyncio.Event()
    received: list[str] = []
    loop = asyncio.get_running_loop()
    handles_signals = threading.current_thread() is threading.main_thread()  # only the main thread can (tests)
    for signal_number in STOP_SIGNALS if handles_signals else ():
        loop.add_signal_handler(signal_number, _on_signal, signal_number, received, stop_signal)
    metrics_runner = None
    if service.settings.metrics_port is not None:
        try:
            metrics_runner = await start_metrics_server(
                service.metrics,
                service.settings.metrics_host,
                service.settings.metrics_port,
                lambda: not service.stopping,
            )
        except OSError as error:
            log.error("Could not serve metrics on port %d: %s", service.settings.metrics_port, error.strerror or error)
            return EXIT_FAILED
    running = {asyncio.create_task(front_end.run(), name=front_end.name): front_end for front_end in front_ends}
    stop_waiter = asyncio.create_task(stop_signal.wait())
    try:
        await asyncio.wait([*running, stop_waiter], return_when=asyncio.FIRST_COMPLETED)
        status = _status_of_ended(running)
        if received:
            log.info(
                "%s: finishing the requests in flight (up to %.0f s), then stopping",
                received[0],
                service.settings.shutdown_grace_seconds,
            )
        unfinished = await service.stop()
        await _close_all(running)
        if unfinished:
            log.warning("Stopped with %d requests unanswered after the grace period", unfinished)
        elif status == EXIT_OK:
            log.info("Stopped cleanly")
        return status
    finally:
        stop_waiter.cancel()
        for signal_number in STOP_SIGNALS if handles_signals else ():
            loop.remove_signal_handler(signal_number)
        if metrics_runner is not None:
            await metrics_runner.cleanup()


def keep_start_up_objects_out_of_garbage_collection() -> None:
    """What start-up made (the model, the libraries, the database engine) lives as long as the process. Left in the
    collector's oldest generation, each full collection walks all of it, stalling the event loop for tens of ms."""
    gc.freeze()


def _on_signal(signal_number: int, received: list[str], stop_signal: asyncio.Event) -> None:
    if stop_signal.is_set():
        return
    received.append(signal.Signals(signal_number).name)
    stop_signal.set()


def _status_of_ended(running: dict[asyncio.Task[None], FrontEnd]) -> int:
    """Failure when a front end ended by itself: one line for a failed start, a traceback only for a bug."""
    status = EXIT_OK
    for task, front_end in running.items():
        if not task.done() or task.cancelled():
            continue
        error = task.exception()
        if isinstance(error, StartupFailed):
            log.error("%s", error)
        elif error is not None:
            log.error("%s stopped on an unexpected error", front_end.name, exc_info=error)
        else:
            log.error("%s stopped by itself", front_end.name)
        status = EXIT_FAILED
    return status


async def _close_all(running: dict[asyncio.Task[None], FrontEnd]) -> None:
    for task, front_end in running.items():
        if task.done():
            continue
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await front_end.close()
                await task
        except TimeoutError:
            log.warning("%s did not close within %.0f s", front_end.name, CLOSE_SECONDS)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        except Exception:
            log.exception("%s failed while closing", front_end.name)
