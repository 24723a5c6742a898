"""Telegram's own settings: the token, where the Bot API is, and the groups where every picture is read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.settings import SettingsReader, http_url, read_environment

TELEGRAM_API_BASE = "https://api.telegram.org"


@dataclass(frozen=True)
class TelegramSettings:
    token: str | None = field(default=None, repr=False)  # never in logs or reprs
    api_base: str = TELEGRAM_API_BASE  # methods at {api_base}/bot<token>/<method>, files at {api_base}/file/bot<token>/
    auto_predict_chats: frozenset[int] = frozenset()  # groups where every picture is read; private chats always are


def read_telegram_settings(reader: SettingsReader) -> TelegramSettings:
    defaults = TelegramSettings()
    return TelegramSettings(
        token=reader.text("TELEGRAM_TOKEN"),
        api_base=_read_api_base(reader, defaults.api_base),
        auto_predict_chats=reader.value("TELEGRAM_AUTO_PREDICT_CHATS", _chat_id_set, frozenset()),
    )


def load_telegram_settings(environ: Mapping[str, str] | None = None) -> TelegramSettings:
    """Telegram's settings alone (the core's are `bot.settings.load_settings`); raises SettingsError."""
    reader = SettingsReader(read_environment() if environ is None else environ)
    settings = read_telegram_settings(reader)
    reader.raise_problems()
    return settings


def _read_api_base(reader: SettingsReader, default: str) -> str:
    raw = reader.text("TELEGRAM_API_BASE")
    if raw is not None and any(part.startswith("bot") for part in urlsplit(raw).path.split("/")):
        # Said without the value, which likely holds the token after /bot.
        reader.problems.append(
            "TELEGRAM_API_BASE: must be the server alone, e.g. https://api.telegram.org (the bot adds /bot<token>)"
        )
        reader.problem_names.add("TELEGRAM_API_BASE")
        return default
    return reader.value("TELEGRAM_API_BASE", http_url, default)


def _chat_id(raw: str) -> int:
    try:
        chat_id = int(raw)
    except ValueError:
        raise ValueError(
            "must be Telegram chat ids, comma-separated (a group's id is negative, e.g. -1001234567890)"
        ) from None
    if chat_id == 0:
        raise ValueError("0 is not a Telegram chat id")
    return chat_id


def _chat_id_set(raw: str) -> frozenset[int]:
    return frozenset(_chat_id(part.strip()) for part in raw.split(",") if part.strip())
