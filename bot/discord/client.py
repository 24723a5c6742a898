"""The Discord bot over the shared DigitService: connecting, its cogs, and the one place errors become answers."""

from __future__ import annotations

import asyncio
import gc
import logging
from types import SimpleNamespace

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.discord.rendering import Destination, send_replies
from bot.discord.settings import DiscordSettings
from bot.discord.startup_failures import STARTUP_TIMEOUT_SECONDS, startup_failure, too_slow_line
from bot.errors import DigitBotError
from bot.lifecycle import StartupFailed
from bot.outbox import FairOutbox
from bot.replies import Reply, error_reply, unexpected_error_reply
from bot.service import DigitService

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.discord.cogs.digits", "bot.discord.cogs.feedback", "bot.discord.cogs.admin")

# The bot never joins voice: discord.py's start-up warnings about missing voice libraries are noise.
discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


class DigitBotMixin:
    """What the plain and the sharded bot share; the bot owns nothing platform-free."""

    def __init__(self, settings: DiscordSettings, service: DigitService, **options: object) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.dm_messages = True
        intents.message_content = True  # privileged: `!predict` and auto-read channels need the text and attachments
        http_trace = aiohttp.TraceConfig()
        http_trace.on_request_end.append(self._note_status)
        http_trace.on_request_exception.append(self._note_error)
        super().__init__(
            command_prefix=commands.when_mentioned_or(settings.command_prefix),
            intents=intents,
            help_command=None,  # the digits cog has its own `help`, shared in spirit with the console's
            allowed_mentions=discord.AllowedMentions.none(),
            member_cache_flags=discord.MemberCacheFlags.none(),
            max_messages=None,  # replies carry the message they answer, so no cache is needed
            http_trace=http_trace,
            **options,
        )
        self.settings = settings
        self.service = service
        self.downloads: aiohttp.ClientSession | None = None  # our own, so a picture's body can be streamed and capped
        self.outbox = FairOutbox()  # answers into a channel take their users in turn under its send limit
        self.connected_once = asyncio.Event()  # set at the first READY: from then on, discord.py reconnects
        # discord.py retries a 5xx, a 429 or (when sharded) an unreachable gateway by itself; a start that runs out
        # of time says which it was: the status or error of the latest request, None once one succeeded.
        self.last_trouble: int | Exception | None = None
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
            try:
                await self.tree.sync(guild=guild)
            except discord.Forbidden:
                raise StartupFailed(
                    f"Discord refused the slash commands for DEV_GUILD_ID={self.settings.dev_guild_id}: the bot is "
                    "not in that server, or was invited without the applications.commands scope (invite it again "
                    "with the bot and applications.commands scopes, or unset DEV_GUILD_ID)"
                ) from None
        # What exists now (modules, the model, discord.py's state) lives as long as the process. Freezing it keeps
        # every later full garbage collection small, so none stalls the event loop (and the heartbeat) for long.
        gc.freeze()

    async def close(self) -> None:
        await super().close()
        if self.downloads is not None:
            await self.downloads.close()

    async def on_connect(self) -> None:
        self.connected_once.set()

    async def on_ready(self) -> None:
        log.info("Connected to Discord as %s, in %d server(s)", self.user, len(self.guilds))

    async def _note_status(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, request: aiohttp.TraceRequestEndParams
    ) -> None:
        status = request.response.status
        self.last_trouble = status if status == 429 or status >= 500 else None

    async def _note_error(
        self, session: aiohttp.ClientSession, context: SimpleNamespace, request: aiohttp.TraceRequestExceptionParams
    ) -> None:
        self.last_trouble = request.exception

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
        self._connection: asyncio.Task[None] | None = None
        self._stopping = False

    async def run(self) -> None:
        async with self.bot:
            try:
                self._connection = await self._start()
            except Exception:
                if self._stopping:
                    return  # asked to stop while starting: whatever the start ran into is no failure
                raise
            await asyncio.wait({self._connection})
            if self._connection.cancelled():
                return
            error = self._connection.exception()
            if error is not None:
                # Once connected, discord.py reconnects by itself: what ends the connection is a refusal.
                raise startup_failure(error, self.settings, connecting=True) or error

    async def _start(self) -> asyncio.Task[None]:
        """Logs in and connects within STARTUP_TIMEOUT_SECONDS; returns the connection, or raises StartupFailed."""
        connection: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
                await self.bot.login(self.settings.token or "")
                connection = asyncio.create_task(self.bot.connect(reconnect=_ReconnectOnceConnected(self.bot)))
                connected = asyncio.create_task(self.bot.connected_once.wait())
                try:
                    await asyncio.wait({connection, connected}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    connected.cancel()
            if connection.done():
                connection.result()  # raises why it could not connect; returns when a stop came first
            return connection
        except Exception as error:
            connecting = connection is not None
            if connection is not None:
                connection.cancel()
                await asyncio.wait({connection})
            if isinstance(error, TimeoutError):
                raise StartupFailed(
                    too_slow_line(self.bot.last_trouble, self.settings, connecting=connecting)
                ) from None
            raise startup_failure(error, self.settings, connecting=connecting) or error from None

    async def close(self) -> None:
        self._stopping = True
        if self._connection is not None:
            # discord.py's Client.close says goodbye with code 1000 (Discord ends the session at once and the bot
            # shows offline) only when nothing is reading the gateway; its reader would close first, with 4000
            # (a session kept for resuming: a ghost bot for a minute). AutoShardedClient stops its readers first too.
            self._connection.cancel()
            await asyncio.wait({self._connection})
        await self.bot.close()


class _ReconnectOnceConnected:
    """discord.py's `reconnect` flag, true only once a connection was READY.

    Before that, discord.py's retry dereferences the connection it never made (an AttributeError, after a logged
    traceback), and a failure is better reported as one line. Client.connect reads the flag at each failure.
    """

    def __init__(self, bot: DigitBotMixin) -> None:
        self.bot = bot

    def __bool__(self) -> bool:
        return self.bot.connected_once.is_set()
