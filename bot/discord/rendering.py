"""How a Reply looks on Discord: an embed per reply with its picture inside, up to ten to a message."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import discord
from discord.ext import commands

from bot.discord.verdicts import answer_label, verdict_buttons
from bot.replies import Reply

log = logging.getLogger(__name__)

MAX_EMBEDS = 10  # Discord's limit per message, for embeds and for files alike
ANSWER_COLOUR = discord.Colour.blurple()
ERROR_COLOUR = discord.Colour.red()
Destination = commands.Context | discord.Interaction


async def send_replies(destination: Destination, replies: Sequence[Reply], *, ephemeral: bool = False) -> None:
    """One chat message for up to ten replies, with Right/Wrong buttons under the answers a user may rate; a
    message deleted meanwhile gets its answer without the reply link. `ephemeral`: for the user of a slash command
    alone (a prefix command's answer is seen by all)."""
    for start in range(0, len(replies), MAX_EMBEDS):
        chunk = replies[start : start + MAX_EMBEDS]
        embeds, files = [], []
        for index, reply in enumerate(chunk, start=start + 1):
            embed, file = render(reply, index if len(replies) > 1 else None)
            embeds.append(embed)
            files += [file] if file else []
        view = verdict_buttons(chunk, start + 1 if len(replies) > 1 else None)
        extras = {"view": view} if view is not None else {}
        if isinstance(destination, discord.Interaction):
            if destination.response.is_done():
                await destination.followup.send(embeds=embeds, files=files, ephemeral=ephemeral, **extras)
            else:
                await destination.response.send_message(embeds=embeds, files=files, ephemeral=ephemeral, **extras)
        elif destination.interaction is not None:
            await destination.send(embeds=embeds, files=files, ephemeral=ephemeral, **extras)
        else:
            reference = destination.message.to_reference(fail_if_not_exists=False)
            await destination.send(embeds=embeds, files=files, reference=reference, mention_author=False, **extras)


def render(reply: Reply, number: int | None = None) -> tuple[discord.Embed, discord.File | None]:
    """The reply as an embed whose title is the headline, so a prediction's digit is the first thing read."""
    colour = ERROR_COLOUR if reply.is_error else ANSWER_COLOUR
    embed = discord.Embed(title=reply.headline, description="\n".join(reply.details) or None, colour=colour)
    if reply.answer_id and number is not None:
        embed.set_footer(text=answer_label(number))  # what its Right and Wrong buttons are labelled with
    if reply.picture_png is None or reply.picture_name is None:
        return embed, None
    # Several pictures in one message need distinct names for attachment:// to find each.
    name = reply.picture_name if number is None else f"{number}-{reply.picture_name}"
    embed.set_image(url=f"attachment://{name}")
    return embed, discord.File(io.BytesIO(reply.picture_png), filename=name)
