"""The Discord front end: the bot, how a Reply looks in a chat, and the one place errors become answers."""

from __future__ import annotations

import asyncio
import gc
import io
import logging
from collections.abc import Sequence

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.errors import DigitBotError
from bot.replies import Reply, error_reply, unexpected_error_reply
from bot.service import DigitService
from bot.settings import Settings

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.digits", "bot.cogs.admin")
MAX_EMBEDS = 10  # Discord's limit per message, for embeds and for files alike
ANSWER_COLOUR = discord.Colour.blurple()
ERROR_COLOUR = discord.Colour.red()
Destination = commands.Context["DigitBot"] | discord.Interaction

# The bot never joins voice: discord.py's start-up warnings about missing voice libraries are noise.
discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


class DigitBot(commands.Bot):
    """A commands.Bot over the shared DigitService; it owns nothing platform-free."""

    def __init__(self, settings: Settings, service: DigitService) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.dm_messages = True
        intents.message_content = True  # privileged: `!predict` and auto-read channels need the text and attachments
        super().__init__(
            command_prefix=commands.when_mentioned_or(settings.command_prefix),
            intents=intents,
            help_command=None,  # the digits cog has its own `help`, shared in spirit with the console's
            allowed_mentions=discord.AllowedMentions.none(),
            member_cache_flags=discord.MemberCacheFlags.none(),
            max_messages=None,  # replies carry the message they answer, so no cache is needed
        )
        self.settings = settings
        self.service = service
        self.tree.error(self.on_app_command_error)
        point_discord_py_at(settings)

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.dev_guild_id:
            # Guild commands appear at once; global ones take up to an hour, so they sync only on `!sync`.
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        # What exists now (modules, the model, discord.py's state) lives as long as the process. Freezing it keeps
        # every later full garbage collection small, so none stalls the event loop (and the heartbeat) for long.
        gc.freeze()

    async def on_ready(self) -> None:
        log.info("Connected as %s to %d server(s)", self.user, len(self.guilds))

    async def on_command_error(self, ctx: commands.Context[DigitBot], error: commands.CommandError) -> None:
        await self.answer_error(ctx, error)

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await self.answer_error(interaction, error)

    async def answer_error(self, destination: Destination, error: Exception) -> None:
        """Every failure of a command, prefix or slash, ends here and becomes a friendly answer."""
        reply = reply_for_error(error, self.settings.command_prefix)
        if reply is not None:
            try:
                await send_replies(destination, [reply])
            except discord.HTTPException:
                log.exception("Could not send the answer to an error")


def reply_for_error(error: Exception, prefix: str) -> Reply | None:
    """The answer to a failed command, or None when staying quiet is kinder (an unknown `!word`)."""
    while isinstance(getattr(error, "original", None), Exception):
        error = error.original  # discord.py wraps what a command raised, once or twice
    if isinstance(error, DigitBotError):
        return error_reply(error)
    if isinstance(error, commands.CommandNotFound):
        return None
    if isinstance(error, commands.NotOwner):
        return Reply(headline="Only the bot's owner can do that.", is_error=True)
    if isinstance(error, commands.UserInputError | commands.CheckFailure | app_commands.CheckFailure):
        return Reply(
            headline="I didn't get that.",
            details=(str(error), f"Type {prefix}help to see what I can do."),
            is_error=True,
        )
    log.error("Unexpected error in a command", exc_info=error)
    return unexpected_error_reply()


def point_discord_py_at(settings: Settings) -> None:
    """discord.py reads its REST base and gateway from class attributes, so they apply process-wide."""
    discord.http.Route.BASE = settings.discord_api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


async def send_replies(destination: Destination, replies: Sequence[Reply]) -> None:
    """One chat message for up to ten replies: an embed each, with its picture attached and shown inside."""
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
        else:
            await destination.reply(embeds=embeds, files=files, mention_author=False)


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


def run_bot(settings: Settings) -> int:
    """Runs until interrupted; returns the process exit status."""
    discord.utils.setup_logging(level=settings.log_level)
    try:
        return asyncio.run(_run_bot(settings))
    except KeyboardInterrupt:
        return 0


async def _run_bot(settings: Settings) -> int:
    service = DigitService.from_settings(settings)
    try:
        async with DigitBot(settings, service) as bot:
            await bot.start(settings.discord_token or "")
    except discord.LoginFailure:
        log.error("Discord refused the token: check DISCORD_TOKEN (Developer Portal → your app → Bot → Reset Token)")
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error("Turn on the Message Content Intent: Developer Portal → your app → Bot → Privileged Gateway Intents")
        return 1
    except (aiohttp.ClientError, OSError, discord.HTTPException) as error:
        # Only logging in gives up on the network; once connected, discord.py reconnects by itself.
        log.error(
            "Could not reach Discord at %s (%s): check the network or DISCORD_API_BASE",
            settings.discord_api_base,
            error,
        )
        return 1
    finally:
        service.close()
    return 0
