"""Discord's own settings: the token, where commands are read, and how to reach (and shard on) Discord."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.settings import SettingsReader, http_url, positive_int, read_environment

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"


@dataclass(frozen=True)
class DiscordSettings:
    token: str | None = field(default=None, repr=False)  # never in logs or reprs
    command_prefix: str = "!"
    auto_predict_channels: frozenset[int] = frozenset()
    dev_guild_id: int | None = None
    api_base: str = DISCORD_API_BASE
    gateway_url: str = DISCORD_GATEWAY_URL
    shard_count: int | None = None  # None: one connection; a number: discord.py's AutoShardedBot with that many


def read_discord_settings(reader: SettingsReader) -> DiscordSettings:
    defaults = DiscordSettings()
    return DiscordSettings(
        token=reader.text("DISCORD_TOKEN"),
        command_prefix=reader.text("COMMAND_PREFIX") or defaults.command_prefix,
        auto_predict_channels=reader.value("AUTO_PREDICT_CHANNELS", _snowflake_set, frozenset()),
        dev_guild_id=reader.value("DEV_GUILD_ID", _snowflake, None),
        api_base=reader.value("DISCORD_API_BASE", http_url, defaults.api_base),
        gateway_url=reader.value("DISCORD_GATEWAY_URL", _websocket_url, defaults.gateway_url),
        shard_count=reader.value("SHARD_COUNT", positive_int, None),
    )


def load_discord_settings(environ: Mapping[str, str] | None = None) -> DiscordSettings:
    """Discord's settings alone (the core's are `bot.settings.load_settings`); raises SettingsError."""
    reader = SettingsReader(read_environment() if environ is None else environ)
    settings = read_discord_settings(reader)
    reader.raise_problems()
    return settings


def _snowflake(raw: str) -> int:
    if not raw.isdigit():
        raise ValueError("must be a Discord id (digits only; right-click → Copy ID in developer mode)")
    return int(raw)


def _snowflake_set(raw: str) -> frozenset[int]:
    return frozenset(_snowflake(part.strip()) for part in raw.split(",") if part.strip())


def _websocket_url(raw: str) -> str:
    if not raw.startswith(("ws://", "wss://")):
        raise ValueError("must start with ws:// or wss://")
    return raw
