"""The fair outbox: one send at a time per chat, users in turn, errors back to the one who sent."""

from __future__ import annotations

import asyncio

import pytest

from bot.outbox import FairOutbox


async def test_a_newcomer_is_answered_before_a_flooding_users_backlog():
    outbox = FairOutbox()
    order: list[str] = []
    gate = asyncio.Event()

    def sender(label: str):
        async def send() -> None:
            await gate.wait()
            order.append(label)

        return send

    flood = [asyncio.create_task(outbox.send("#general", "spammer", sender(f"spam{n}"))) for n in range(5)]
    await asyncio.sleep(0)
    newcomer = asyncio.create_task(outbox.send("#general", "ada", sender("ada")))
    elsewhere = asyncio.create_task(outbox.send("#digits", "spammer", sender("digits")))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*flood, newcomer, elsewhere)

    general = [label for label in order if label != "digits"]
    assert general == ["spam0", "ada", "spam1", "spam2", "spam3", "spam4"]
    assert outbox.messages_waiting == 0


async def test_one_send_at_a_time_per_chat_and_chats_in_parallel():
    outbox = FairOutbox()
    running: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}

    def sender(chat: str):
        async def send() -> None:
            running[chat] += 1
            most[chat] = max(most[chat], running[chat])
            await asyncio.sleep(0.01)
            running[chat] -= 1

        return send

    await asyncio.gather(*(outbox.send(chat, user, sender(chat)) for chat in "ab" for user in range(4)))

    assert most == {"a": 1, "b": 1}


async def test_a_failed_send_raises_for_its_sender_only():
    outbox = FairOutbox()

    async def fails() -> None:
        raise ConnectionError("gone")

    async def works() -> None:
        return None

    failing = asyncio.create_task(outbox.send("c", "ed", fails))
    working = asyncio.create_task(outbox.send("c", "flo", works))
    with pytest.raises(ConnectionError):
        await failing
    await working
