"""Finding the message a Discord message replies to."""

from __future__ import annotations

import discord


async def replied_to(message: discord.Message) -> discord.Message | None:
    """The message `message` replies to, fetched when Discord did not send it along; None when there is none, or it
    was deleted or is out of reach."""
    reference = message.reference
    if reference is None or reference.message_id is None:
        return None
    if isinstance(reference.resolved, discord.Message):
        return reference.resolved
    try:
        return await message.channel.fetch_message(reference.message_id)
    except discord.HTTPException:
        return None
