"""Every setting of the bot, read once from the environment (and `.env`) and checked at start-up."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_PATH = PROJECT_ROOT / "models" / "digits.tflite"
DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"
T = TypeVar("T")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(Exception):
    """One or more settings are wrong; each line of the message names one mistake."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    discord_token: str | None = field(default=None, repr=False)  # never in logs or reprs
    command_prefix: str = "!"
    model_path: Path = DEFAULT_MODEL_PATH
    auto_predict_channels: frozenset[int] = frozenset()
    dev_guild_id: int | None = None
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    confidence_threshold: float = 0.7
    log_level: str = "INFO"
    discord_api_base: str = DISCORD_API_BASE
    discord_gateway_url: str = DISCORD_GATEWAY_URL
    max_concurrent_reads: int = 2
    user_cooldown_seconds: float = 1.0
    download_timeout_seconds: float = 15.0


def load_settings(environ: Mapping[str, str] | None = None, *, dotenv_path: Path | None = None) -> Settings:
    """Settings from `environ` (default: the process environment after loading `.env`).

    Raises SettingsError listing every mistake at once, so a user fixes them in one go.
    """
    if environ is None:
        from dotenv import load_dotenv

        load_dotenv(dotenv_path or PROJECT_ROOT / ".env", override=False)
        environ = os.environ
    reader = _Reader(environ)
    defaults = Settings()
    settings = Settings(
        discord_token=reader.text("DISCORD_TOKEN"),
        command_prefix=reader.text("COMMAND_PREFIX") or defaults.command_prefix,
        model_path=reader.value("MODEL_PATH", _existing_model_path, defaults.model_path),
        auto_predict_channels=reader.value("AUTO_PREDICT_CHANNELS", _snowflake_set, frozenset()),
        dev_guild_id=reader.value("DEV_GUILD_ID", _snowflake, None),
        max_image_bytes=reader.value("MAX_IMAGE_BYTES", _positive_int, defaults.max_image_bytes),
        max_image_pixels=reader.value("MAX_IMAGE_PIXELS", _positive_int, defaults.max_image_pixels),
        confidence_threshold=reader.value("CONFIDENCE_THRESHOLD", _probability, defaults.confidence_threshold),
        log_level=reader.value("LOG_LEVEL", _log_level, defaults.log_level),
        discord_api_base=reader.value("DISCORD_API_BASE", _http_url, defaults.discord_api_base),
        discord_gateway_url=reader.value("DISCORD_GATEWAY_URL", _websocket_url, defaults.discord_gateway_url),
        max_concurrent_reads=reader.value("MAX_CONCURRENT_READS", _positive_int, defaults.max_concurrent_reads),
        user_cooldown_seconds=reader.value(
            "USER_COOLDOWN_SECONDS", _non_negative_float, defaults.user_cooldown_seconds
        ),
        download_timeout_seconds=reader.value(
            "DOWNLOAD_TIMEOUT_SECONDS", _positive_float, defaults.download_timeout_seconds
        ),
    )
    if not settings.model_path.is_file() and "MODEL_PATH" not in reader.problem_names:
        reader.problems.append(
            f"MODEL_PATH: no model file at {settings.model_path} (train one with `python -m model_training`)"
        )
    if reader.problems:
        raise SettingsError(reader.problems)
    return settings


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-8s %(name)s: %(message)s")


class _Reader:
    """Reads variables, collecting a line per mistake instead of stopping at the first."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: list[str] = []
        self.problem_names: set[str] = set()

    def text(self, name: str) -> str | None:
        return self._environ.get(name, "").strip() or None

    def value(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as error:
            self.problems.append(f"{name}: {error} (got {raw!r})")
            self.problem_names.add(name)
            return default


def _positive_int(raw: str) -> int:
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _positive_float(raw: str) -> float:
    value = _non_negative_float(raw)
    if value == 0:
        raise ValueError("must be more than 0")
    return value


def _non_negative_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("must be a number") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be a finite number, 0 or more")
    return value


def _probability(raw: str) -> float:
    value = _non_negative_float(raw)
    if value > 1:
        raise ValueError("must be between 0 and 1, e.g. 0.7 for 70%")
    return value


def _snowflake(raw: str) -> int:
    if not raw.isdigit():
        raise ValueError("must be a Discord id (digits only; right-click → Copy ID in developer mode)")
    return int(raw)


def _snowflake_set(raw: str) -> frozenset[int]:
    return frozenset(_snowflake(part.strip()) for part in raw.split(",") if part.strip())


def _existing_model_path(raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    if not path.is_file():
        raise ValueError(f"no model file at {path}")
    return path


def _log_level(raw: str) -> str:
    if raw.upper() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return raw.upper()


def _http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return raw.rstrip("/")


def _websocket_url(raw: str) -> str:
    if not raw.startswith(("ws://", "wss://")):
        raise ValueError("must start with ws:// or wss://")
    return raw
