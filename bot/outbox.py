"""Answers go into a chat one message at a time, taking its users in turn, so that under a chat's send limit one
user's flood of answers never holds back another user's single one."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

Send = Callable[[], Awaitable[None]]


@dataclass
class _ChatQueue:
    waiting: dict[Hashable, deque[tuple[Send, asyncio.Future[None]]]] = field(default_factory=dict)
    turns_taken: dict[Hashable, int] = field(default_factory=dict)  # since this chat's line last ran empty
    sender: asyncio.Task[None] | None = None


class FairOutbox:
    """Per chat, one send at a time; next is the oldest message of the waiting user who has had the fewest turns.

    Chat platforms limit messages per chat (Discord: 5 per 5 s in a channel), and their client libraries wait
    first come, first served: a spammer's twenty answers would go before a newcomer's one. Here the newcomer's
    goes next. `send` returns when the message is sent, and raises what sending raised.
    """

    def __init__(self) -> None:
        self._chats: dict[Hashable, _ChatQueue] = {}

    async def send(self, chat: Hashable, user: Hashable, send: Send) -> None:
        queue = self._chats.setdefault(chat, _ChatQueue())
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.waiting.setdefault(user, deque()).append((send, sent))
        if queue.sender is None:
            queue.sender = asyncio.create_task(self._send_in_turns(chat, queue), name=f"outbox {chat}")
        await sent

    @property
    def messages_waiting(self) -> int:
        return sum(len(pending) for queue in self._chats.values() for pending in queue.waiting.values())

    async def _send_in_turns(self, chat: Hashable, queue: _ChatQueue) -> None:
        try:
            while queue.waiting:
                user = min(queue.waiting, key=lambda waiting: queue.turns_taken.get(waiting, 0))
                pending = queue.waiting[user]
                send, sent = pending.popleft()
                if not pending:
                    del queue.waiting[user]
                queue.turns_taken[user] = queue.turns_taken.get(user, 0) + 1
                try:
                    await send()
                except Exception as error:
                    if not sent.done():
                        sent.set_exception(error)
                else:
                    if not sent.done():
                        sent.set_result(None)
        finally:
            del self._chats[chat]
            for pending in queue.waiting.values():  # only when this task is cancelled
                for _, sent in pending:
                    sent.cancel()
