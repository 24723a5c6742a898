"""Why the Discord bot could not start, or was turned away later, in the one line an operator needs to fix it."""

from __future__ import annotations

import aiohttp
import discord

from bot.discord.settings import DiscordSettings
from bot.lifecycle import StartupFailed

# Logging in, syncing commands and the first READY take about a second; past this the start is given up, so that
# with the model's loading a failed start is told within 10 s.
STARTUP_TIMEOUT_SECONDS = 8.0
TOKEN_REFUSED = "Discord refused the token: check DISCORD_TOKEN (Developer Portal → your app → Bot → Reset Token)"
INTENT_REFUSED = "Turn on the Message Content Intent: Developer Portal → your app → Bot → Privileged Gateway Intents"
DISCORD_IN_TROUBLE = "Discord is having trouble (https://discordstatus.com); try again later"
CLOSE_CODES = "https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes"


def startup_failure(error: Exception, settings: DiscordSettings, *, connecting: bool) -> StartupFailed | None:
    """The line for an error that ended the start (or, `connecting`, the connection); None for a bug."""
    if isinstance(error, StartupFailed):
        return error
    if isinstance(error, discord.LoginFailure):
        return StartupFailed(TOKEN_REFUSED)
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return StartupFailed(INTENT_REFUSED)
    if isinstance(error, discord.ConnectionClosed):
        return StartupFailed(_gateway_closed_line(error.code, error.reason))
    if isinstance(error, discord.DiscordServerError):
        return StartupFailed(f"Discord answered with a server error (HTTP {error.status}): {DISCORD_IN_TROUBLE}")
    if isinstance(error, discord.HTTPException):
        return StartupFailed(f"Discord refused to let the bot in: HTTP {error.status} {error.text}")
    if isinstance(error, aiohttp.ClientError | OSError | discord.GatewayNotFound):
        if connecting:
            return StartupFailed(
                f"Could not reach Discord's gateway at {settings.gateway_url} ({error}): check the network or "
                "DISCORD_GATEWAY_URL"
            )
        return StartupFailed(
            f"Could not reach Discord at {settings.api_base} ({error}): check the network or DISCORD_API_BASE"
        )
    return None


def too_slow_line(trouble: int | Exception | None, settings: DiscordSettings, *, connecting: bool) -> str:
    """The line for a start past STARTUP_TIMEOUT_SECONDS, from what the latest request to Discord ran into."""
    seconds = STARTUP_TIMEOUT_SECONDS
    if trouble == 429:
        return f"Discord kept rate-limiting the start (HTTP 429) for {seconds:.0f} s: start again in a few minutes"
    if isinstance(trouble, int):
        return f"Discord answered with a server error (HTTP {trouble}) for {seconds:.0f} s: {DISCORD_IN_TROUBLE}"
    if isinstance(trouble, Exception) and (failure := startup_failure(trouble, settings, connecting=connecting)):
        return str(failure)
    where = f"the gateway at {settings.gateway_url}" if connecting else f"Discord at {settings.api_base}"
    return f"No answer from {where} within {seconds:.0f} s: Discord or the network is slow; try again later"


def _gateway_closed_line(code: int, reason: str | None) -> str:
    if code == 4004:
        return TOKEN_REFUSED
    if code == 4014:
        return INTENT_REFUSED
    if code == 4011:
        return "Discord requires sharding for a bot in this many servers: set SHARD_COUNT (e.g. 2)"
    return (
        f"Discord closed the connection (gateway close code {code}: {reason or 'no reason given'}): see {CLOSE_CODES}"
    )
