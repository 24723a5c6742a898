"""A deadline for a test that could hang (reading a FIFO): a regression fails the test instead of stalling the run."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class StillRunning(BaseException):
    """Not an Exception, so no `except Exception` (nor `except OSError`) in the code under test can swallow it."""


@contextmanager
def fails_instead_of_hanging(seconds: int = 10) -> Iterator[None]:
    """Interrupts the main thread after `seconds`, even inside a blocking open() or read()."""

    def give_up(signal_number: int, frame: object) -> None:
        raise StillRunning(f"still running after {seconds} s: it hangs")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
