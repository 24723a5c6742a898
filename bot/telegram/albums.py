"""An album reaches the bot as one message per picture; gathered into one request, each picture gets its answer."""

from __future__ import annotations

import asyncio

from telegram import Message

ALBUM_WAIT_SECONDS = 0.5  # an album's messages come in one getUpdates answer, or in two close together


class Albums:
    """Without gathering, a user's cooldown would refuse an album's second and later pictures as spam."""

    def __init__(self, wait_seconds: float = ALBUM_WAIT_SECONDS) -> None:
        self.wait_seconds = wait_seconds
        self._gathering: dict[tuple[int, str], list[Message]] = {}

    async def gather(self, message: Message) -> list[Message] | None:
        """For an album's first message, all of the album's messages in order, after a short wait; None for the
        others, which the first one answers for. A message outside an album is returned alone, at once.
        """
        if message.media_group_id is None:
            return [message]
        key = (message.chat_id, message.media_group_id)
        album = self._gathering.get(key)
        if album is not None:
            album.append(message)
            return None
        self._gathering[key] = album = [message]
        try:
            await asyncio.sleep(self.wait_seconds)
        finally:
            del self._gathering[key]
        return sorted(album, key=lambda part: part.message_id)
