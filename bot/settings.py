"""The core's settings, read once from the environment (and `.env` in the working directory) and checked at start-up.
Each chat platform reads its own settings with the same `SettingsReader`, so every mistake is reported at once."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

PACKAGE_DIR = Path(__file__).resolve().parent
T = TypeVar("T")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


def shipped_model_dir() -> Path:
    """Where the shipped model lies: inside the installed package, or `models/` in a source checkout."""
    packaged = PACKAGE_DIR / "models"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "models"


DEFAULT_MODEL_PATH = shipped_model_dir() / "digits.tflite"
DEFAULT_DATABASE_URL = "sqlite:///data/digit-bot.sqlite3"


class SettingsError(Exception):
    """One or more settings are wrong; each line of the message names one mistake."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    """What the platform-free core needs: the model, the limits on what it reads, and how it runs."""

    model_path: Path = DEFAULT_MODEL_PATH
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    confidence_threshold: float = 0.8  # from the shipped model's held-out curve: models/metrics.json, calibration
    log_level: str = "INFO"
    max_concurrent_reads: int = 2
    user_cooldown_seconds: float = 1.0
    download_timeout_seconds: float = 15.0
    max_pictures_in_progress: int = 40
    max_bytes_in_progress: int = 64 * 1024 * 1024
    shutdown_grace_seconds: float = 5.0
    metrics_port: int | None = None  # None: no /healthz or /metrics server
    metrics_host: str = "127.0.0.1"
    database_url: str = DEFAULT_DATABASE_URL  # answers and verdicts; a relative SQLite path starts at the working dir
    keep_unrated_days: float = 30.0  # answers nobody rated are deleted after this; 0 keeps them for ever


def read_environment(dotenv_path: Path | None = None) -> Mapping[str, str]:
    """The process environment after loading `.env` from the working directory; the environment wins."""
    from dotenv import load_dotenv

    load_dotenv(dotenv_path or Path.cwd() / ".env", override=False)
    return os.environ


def load_settings(environ: Mapping[str, str] | None = None, *, dotenv_path: Path | None = None) -> Settings:
    """The core's settings from `environ` (default: the process environment after loading `.env`).

    Raises SettingsError listing every mistake at once, so a user fixes them in one go.
    """
    reader = SettingsReader(read_environment(dotenv_path) if environ is None else environ)
    settings = read_core_settings(reader)
    reader.raise_problems()
    return settings


def read_core_settings(reader: SettingsReader) -> Settings:
    defaults = Settings()
    settings = Settings(
        model_path=reader.value("MODEL_PATH", _existing_model_path, defaults.model_path),
        max_image_bytes=reader.value("MAX_IMAGE_BYTES", positive_int, defaults.max_image_bytes),
        max_image_pixels=reader.value("MAX_IMAGE_PIXELS", positive_int, defaults.max_image_pixels),
        confidence_threshold=reader.value("CONFIDENCE_THRESHOLD", _probability, defaults.confidence_threshold),
        log_level=reader.value("LOG_LEVEL", _log_level, defaults.log_level),
        max_concurrent_reads=reader.value("MAX_CONCURRENT_READS", positive_int, defaults.max_concurrent_reads),
        user_cooldown_seconds=reader.value("USER_COOLDOWN_SECONDS", non_negative_float, defaults.user_cooldown_seconds),
        download_timeout_seconds=reader.value(
            "DOWNLOAD_TIMEOUT_SECONDS", positive_float, defaults.download_timeout_seconds
        ),
        max_pictures_in_progress=reader.value(
            "MAX_PICTURES_IN_PROGRESS", positive_int, defaults.max_pictures_in_progress
        ),
        max_bytes_in_progress=reader.value("MAX_BYTES_IN_PROGRESS", positive_int, defaults.max_bytes_in_progress),
        shutdown_grace_seconds=reader.value(
            "SHUTDOWN_GRACE_SECONDS", non_negative_float, defaults.shutdown_grace_seconds
        ),
        metrics_port=reader.value("METRICS_PORT", _port, None),
        metrics_host=reader.text("METRICS_HOST") or defaults.metrics_host,
        database_url=reader.value("DATABASE_URL", _database_url, defaults.database_url),
        keep_unrated_days=reader.value("KEEP_UNRATED_DAYS", non_negative_float, defaults.keep_unrated_days),
    )
    if not settings.model_path.is_file() and "MODEL_PATH" not in reader.problem_names:
        reader.problems.append(
            f"MODEL_PATH: no model file at {settings.model_path} (train one with `python -m model_training`)"
        )
    if settings.max_bytes_in_progress < settings.max_image_bytes:
        reader.problems.append(
            f"MAX_BYTES_IN_PROGRESS: must be at least MAX_IMAGE_BYTES ({settings.max_image_bytes}), "
            f"or no picture could ever be read (got {settings.max_bytes_in_progress})"
        )
    return settings


def configure_logging(level: str) -> None:
    """One plain line per event on stderr: no colours, which journald and `docker logs` would show as codes."""
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr, force=True)


class SettingsReader:
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

    def raise_problems(self) -> None:
        if self.problems:
            raise SettingsError(self.problems)


def positive_int(raw: str) -> int:
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def positive_float(raw: str) -> float:
    value = non_negative_float(raw)
    if value == 0:
        raise ValueError("must be more than 0")
    return value


def non_negative_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("must be a number") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be a finite number, 0 or more")
    return value


def http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return raw.rstrip("/")


def _probability(raw: str) -> float:
    value = non_negative_float(raw)
    if value > 1:
        raise ValueError("must be between 0 and 1, e.g. 0.7 for 70%")
    return value


def _port(raw: str) -> int:
    value = positive_int(raw)
    if value > 65535:
        raise ValueError("must be a TCP port, 1 to 65535")
    return value


def _existing_model_path(raw: str) -> Path:
    try:
        path = Path(raw).expanduser().resolve()
    except (RuntimeError, OSError, ValueError):
        raise ValueError("is not a path this machine can open") from None
    if not path.is_file():
        raise ValueError(f"no model file at {path}")
    return path


def _database_url(raw: str) -> str:
    from sqlalchemy.exc import ArgumentError

    from bot.feedback.store import sqlalchemy_url

    try:
        sqlalchemy_url(raw)
    except ArgumentError:
        raise ValueError(
            "is not a database URL: sqlite:///PATH/TO/FILE or postgresql://USER:PASSWORD@HOST/DATABASE"
        ) from None
    return raw


def _log_level(raw: str) -> str:
    if raw.upper() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return raw.upper()
