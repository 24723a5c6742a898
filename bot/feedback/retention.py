"""How long answers nobody rated are kept: past `KEEP_UNRATED_DAYS` they go, checked at most once an hour, so the
database grows with what users rate, not with every picture ever read."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.feedback.store import FeedbackStore

log = logging.getLogger(__name__)
CHECK_EVERY_SECONDS = 3600.0


class UnratedRetention:
    """`due()` says when a check is owed (once per `check_every_seconds`); `apply(store)` does it."""

    def __init__(
        self,
        keep_days: float,
        *,
        check_every_seconds: float = CHECK_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep_days = keep_days
        self._check_every = check_every_seconds
        self._clock = clock
        self._next_check = clock()  # the first answer after a start checks
        self._lock = threading.Lock()

    def due(self) -> bool:
        """True once per period, for the one caller that then applies it; never when every answer is kept."""
        if self.keep_days <= 0:
            return False
        with self._lock:
            now = self._clock()
            if now < self._next_check:
                return False
            self._next_check = now + self._check_every
            return True

    def apply(self, store: FeedbackStore, now: datetime | None = None) -> int:
        """Deletes the unrated answers older than the retention; returns how many."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.keep_days)
        deleted = store.forget_unrated(cutoff)
        if deleted:
            log.info("Deleted %d answers nobody rated within %g days", deleted, self.keep_days)
        return deleted
