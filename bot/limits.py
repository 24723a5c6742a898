"""How much work the bot takes on: a cooldown per user, and a global cap on pictures and bytes in progress.
Every front end goes through these, so a spammer or a flood meets the same rules on every platform."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass

from bot.errors import Busy, SlowDown

FORGET_USERS_AFTER = 1000  # requests between two sweeps of users whose cooldown ended long ago


@dataclass
class _UserTurns:
    next_free: float  # when this user's next request may start
    waiting: bool = False  # a request of theirs is waiting for `next_free`
    notified_until: float = 0.0  # until then, "one moment" has been said: no second notice


class UserCooldowns:
    """One request per user per cooldown; one more may wait its turn, and later ones are refused.

    A picture posted just after another is read a moment later instead of being dropped, while a flood from one
    user costs one notice per cooldown window (`SlowDown.notify`), not one per message.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._users: dict[Hashable, _UserTurns] = {}
        self._requests_since_sweep = 0

    def take_turn(self, user: Hashable) -> float:
        """Seconds this request must wait before it runs (0: now); raises SlowDown when one already waits."""
        now = self._clock()
        self._sweep(now)
        turns = self._users.get(user)
        if turns is None or turns.next_free <= now:
            self._users[user] = _UserTurns(next_free=now + self.seconds)
            return 0.0
        if turns.waiting:
            notify = turns.notified_until <= now
            if notify:
                turns.notified_until = now + self.seconds
            raise SlowDown(turns.next_free - now, notify=notify)
        turns.waiting = True
        wait = turns.next_free - now
        turns.next_free += self.seconds
        return wait

    def turn_started(self, user: Hashable) -> None:
        """The waiting request of `user` has started: the next one may wait in its place."""
        turns = self._users.get(user)
        if turns is not None:
            turns.waiting = False

    def _sweep(self, now: float) -> None:
        """Forgets users whose cooldown ended, so a bot that meets many users stays small."""
        self._requests_since_sweep += 1
        if self._requests_since_sweep < FORGET_USERS_AFTER:
            return
        self._requests_since_sweep = 0
        self._users = {user: turns for user, turns in self._users.items() if turns.waiting or turns.next_free > now}


class WorkLimits:
    """The global caps: pictures accepted but not yet answered, and picture bytes held in memory at once.

    Pictures past `max_pictures` are refused at once (Busy). Each picture reserves its size before its download
    starts (what the platform declared, or the largest file allowed when it declares nothing), so downloads and
    reads wait for room rather than pile up in memory.
    """

    def __init__(self, *, max_pictures: int, max_bytes: int) -> None:
        self.max_pictures = max_pictures
        self.pictures_in_progress = 0
        self.max_bytes = max_bytes
        self.bytes_free = max_bytes
        self._bytes_returned = asyncio.Condition()

    def admit(self, count: int) -> None:
        """Reserves `count` pictures; raises Busy when that would pass the cap. Pair with `release`."""
        if self.pictures_in_progress + count > self.max_pictures:
            raise Busy(f"{self.pictures_in_progress} pictures in progress, at most {self.max_pictures}")
        self.pictures_in_progress += count

    def release(self, count: int) -> None:
        self.pictures_in_progress -= count

    @contextlib.asynccontextmanager
    async def bytes_reserved(self, count: int) -> AsyncIterator[None]:
        """`async with limits.bytes_reserved(n):` around a picture's download and read; waits for room first."""
        count = min(count, self.max_bytes)
        async with self._bytes_returned:
            await self._bytes_returned.wait_for(lambda: self.bytes_free >= count)
            self.bytes_free -= count
        try:
            yield
        finally:
            async with self._bytes_returned:
                self.bytes_free += count
                self._bytes_returned.notify_all()
