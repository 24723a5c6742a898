"""The Discord bot over the shared DigitService: connecting, its cogs, and the one place errors become answers."""

from __future__ import annotations

import gc
import logging

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.discord.rendering import Destination, send_replies
from bot.discord.settings import DiscordSettings
from bot.errors import DigitBotError
from bot.lifecycle import StartupFailed
from bot.replies import Reply, error_reply, unexpected_error_reply
from bot.service import DigitService

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.discord.cogs.digits", "bot.discord.cogs.admin")

# The bot never joins voice: discord.py's start-up warnings about missing voice libraries are noise.
discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


class DigitBotMixin:
    """What the plain and the sharded bot share; the bot owns nothing platform-free."""

    def __init__(self, settings: DiscordSettings, service: DigitService, **options: object) -> None:
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
            **options,
        )
        self.settings = settings
        self.service = service
        self.downloads: aiohttp.ClientSession | None = None  # our own, so a picture's body can be streamed and capped
        self.tree.error(self.on_app_command_error)
        point_discord_py_at(settings)

    async def setup_hook(self) -> None:
        self.downloads = aiohttp.ClientSession()
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

    async def close(self) -> None:
        await super().close()
        if self.downloads is not None:
            await self.downloads.close()

    async def on_ready(self) -> None:
        log.info("Connected to Discord as %s, in %d server(s)", self.user, len(self.guilds))

    async def on_command_error(self, ctx: commands.Context, error: commands.CommandError) -> None:
        await self.answer_error(ctx, error)

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await self.answer_error(interaction, error)

    async def answer_error(self, destination: Destination, error: Exception) -> None:
        """Every failure of a command, prefix or slash, ends here and becomes a friendly answer."""
        reply = reply_for_error(error, self.settings.command_prefix)
        if reply is not None:
            try:
                await send_replies(destination, [reply])
            except discord.HTTPException as send_error:
                log.warning("Could not send the answer to an error: %s", send_error)


class DigitBot(DigitBotMixin, commands.Bot):
    """One gateway connection: right for a bot in fewer than about 1,000 servers."""


class ShardedDigitBot(DigitBotMixin, commands.AutoShardedBot):
    """Several gateway connections in one process, as Discord requires from 2,500 servers on."""


def make_bot(settings: DiscordSettings, service: DigitService) -> DigitBot | ShardedDigitBot:
    if settings.shard_count:
        return ShardedDigitBot(settings, service, shard_count=settings.shard_count)
    return DigitBot(settings, service)


def reply_for_error(error: Exception, prefix: str) -> Reply | None:
    """The answer to a failed command, or None when staying quiet is kinder (an unknown `!word`, a lost channel)."""
    while isinstance(getattr(error, "original", None), Exception):
        error = error.original  # discord.py wraps what a command raised, once or twice
    if isinstance(error, DigitBotError):
        return error_reply(error)
    if isinstance(error, commands.CommandNotFound):
        return None
    if isinstance(error, discord.HTTPException):
        # Sending the answer itself failed (deleted channel, no permission, Discord down): another try would too.
        log.warning("Could not answer on Discord: %s %s", error.status, error.text or type(error).__name__)
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


def point_discord_py_at(settings: DiscordSettings) -> None:
    """discord.py reads its REST base and gateway from class attributes, so they apply process-wide."""
    discord.http.Route.BASE = settings.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


class DiscordFrontEnd:
    """The Discord bot as one front end of the process (see bot.lifecycle.serve)."""

    name = "Discord"

    def __init__(self, settings: DiscordSettings, service: DigitService) -> None:
        self.settings = settings
        self.bot = make_bot(settings, service)

    async def run(self) -> None:
        try:
            async with self.bot:
                await self.bot.start(self.settings.token or "")
        except discord.LoginFailure:
            raise StartupFailed(
                "Discord refused the token: check DISCORD_TOKEN (Developer Portal → your app → Bot → Reset Token)"
            ) from None
        except discord.PrivilegedIntentsRequired:
            raise StartupFailed(
                "Turn on the Message Content Intent: Developer Portal → your app → Bot → Privileged Gateway Intents"
            ) from None
        except (aiohttp.ClientError, OSError, discord.HTTPException) as error:
            # Only logging in gives up on the network; once connected, discord.py reconnects by itself.
            raise StartupFailed(
                f"Could not reach Discord at {self.settings.api_base} ({error}): check the network or DISCORD_API_BASE"
            ) from None

    async def close(self) -> None:
        await self.bot.close()
