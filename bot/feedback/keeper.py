"""The service's hold on the feedback store: opened at start, opened again after an outage, and every failure one
log line and a None, so a locked, full or unreachable database never stops an answer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from bot.errors import CorruptDatabase, StorageError, StorageUnavailable
from bot.feedback.store import FeedbackStore

log = logging.getLogger(__name__)
T = TypeVar("T")
# After a failure, how long answers and verdicts go unsaved before the database is tried again: a database out of
# reach costs its timeout (seconds) once, not on every picture, which would slow every answer.
RETRY_SECONDS = 10.0


class StoreKeeper:
    """Opens the store at once; `corrupt` holds the reason when the database can never be used."""

    def __init__(
        self, database_url: str, *, retry_seconds: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.database_url = database_url
        self.corrupt: CorruptDatabase | None = None
        self._retry_seconds = RETRY_SECONDS if retry_seconds is None else retry_seconds
        self._clock = clock
        self._store: FeedbackStore | None = None
        self._resting_until = 0.0
        self._closed = False
        self._lock = threading.Lock()
        self.store()

    def store(self) -> FeedbackStore | None:
        """The open store, or None while it is out of reach (tried again `retry_seconds` after each failure)."""
        with self._lock:
            if self.corrupt or self._closed or self._clock() < self._resting_until:
                return None
            if self._store is None:
                try:
                    self._store = FeedbackStore.open(self.database_url)
                except CorruptDatabase as error:
                    self.corrupt = error
                except StorageUnavailable as error:
                    log.warning("Answers and verdicts are not saved for now: %s", error)
                    self._rest()
            return self._store

    def run(self, action: Callable[[FeedbackStore], T]) -> T | None:
        """`action(store)`, or None (after one log line) when the database is out of reach or refuses."""
        store = self.store()
        if store is None:
            return None
        try:
            return action(store)
        except StorageError as error:
            log.warning("Feedback database out of reach, not tried again for %.0f s: %s", self._retry_seconds, error)
            with self._lock:
                self._rest()
            return None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._store is not None:
                self._store.close()
                self._store = None

    def _rest(self) -> None:
        self._resting_until = self._clock() + self._retry_seconds
