"""How a Reply looks on Discord: an embed per reply with its picture inside, up to ten to a message."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import discord
from discord.ext import commands

from bot.replies import Reply

log = logging.getLogger(__name__)

MAX_EMBEDS = 10  # Discord's limit per message, for embeds and for files alike
ANSWER_COLOUR = discord.Colour.blurple()
ERROR_COLOUR = discord.Colour.red()
Destination = commands.Context | discord.Interaction


async def send_replies(destination: Destination, replies: Sequence[Reply]) -> None:
    """One chat message for up to ten replies; a message deleted meanwhile gets its answer without the reply link."""
    for start in range(0, len(replies), MAX_EMBEDS):
        embeds, files = [], []
        for index, reply in enumerate(replies[start : start + MAX_EMBEDS], start=start + 1):
            embed, file = render(reply, index if len(replies) > 1 else None)
            embeds.append(embed)
            files += [file] if file else []
        if isinstance(destination, discord.Interaction):
            if destination.response.is_done():
                await destination.followup.send(embeds=embeds, files=files)
            else:
                await destination.response.send_message(embeds=embeds, files=files)
        elif destination.interaction is not None:
            await destination.send(embeds=embeds, files=files)
        else:
            reference = destination.message.to_reference(fail_if_not_exists=False)
            await destination.send(embeds=embeds, files=files, reference=reference, mention_author=False)


def render(reply: Reply, number: int | None = None) -> tuple[discord.Embed, discord.File | None]:
    """The reply as an embed whose title is the headline, so a prediction's digit is the first thing read."""
    colour = ERROR_COLOUR if reply.is_error else ANSWER_COLOUR
    embed = discord.Embed(title=reply.headline, description="\n".join(reply.details) or None, colour=colour)
    if reply.picture_png is None or reply.picture_name is None:
        return embed, None
    # Several pictures in one message need distinct names for attachment:// to find each.
    name = reply.picture_name if number is None else f"{number}-{reply.picture_name}"
    embed.set_image(url=f"attachment://{name}")
    return embed, discord.File(io.BytesIO(reply.picture_png), filename=name)
