"""Settings: defaults, parsing, and one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.discord.settings import DiscordSettings, load_discord_settings, read_discord_settings
from bot.settings import DEFAULT_MODEL_PATH, Settings, SettingsError, SettingsReader, load_settings, read_core_settings


@pytest.fixture
def model_file(tmp_path) -> Path:
    path = tmp_path / "digits.tflite"
    path.write_bytes(b"model")
    return path


def test_defaults_need_nothing_but_the_shipped_model():
    assert load_settings({}) == Settings()
    assert Settings().model_path == DEFAULT_MODEL_PATH and DEFAULT_MODEL_PATH.is_file()
    discord = load_discord_settings({})
    assert discord == DiscordSettings()
    assert discord.token is None and discord.command_prefix == "!" and discord.shard_count is None


def test_every_setting_is_read(model_file):
    settings = load_settings(
        {
            "MODEL_PATH": str(model_file),
            "MAX_IMAGE_BYTES": "1_000_000",
            "MAX_IMAGE_PIXELS": "2000000",
            "CONFIDENCE_THRESHOLD": "0.5",
            "LOG_LEVEL": "debug",
            "MAX_CONCURRENT_READS": "3",
            "USER_COOLDOWN_SECONDS": "0",
            "DOWNLOAD_TIMEOUT_SECONDS": "2.5",
            "MAX_PICTURES_IN_PROGRESS": "7",
            "MAX_BYTES_IN_PROGRESS": "3000000",
            "SHUTDOWN_GRACE_SECONDS": "0",
            "METRICS_PORT": "9100",
            "METRICS_HOST": "0.0.0.0",
        }
    )
    assert settings.model_path == model_file
    assert (settings.max_image_bytes, settings.max_image_pixels) == (1_000_000, 2_000_000)
    assert settings.confidence_threshold == 0.5
    assert settings.log_level == "DEBUG"
    assert (settings.max_concurrent_reads, settings.user_cooldown_seconds) == (3, 0.0)
    assert settings.download_timeout_seconds == 2.5
    assert (settings.max_pictures_in_progress, settings.max_bytes_in_progress) == (7, 3_000_000)
    assert settings.shutdown_grace_seconds == 0
    assert (settings.metrics_host, settings.metrics_port) == ("0.0.0.0", 9100)

    discord = load_discord_settings(
        {
            "DISCORD_TOKEN": "  secret-token ",
            "COMMAND_PREFIX": "?",
            "AUTO_PREDICT_CHANNELS": "123, 456,",
            "DEV_GUILD_ID": "789",
            "DISCORD_API_BASE": "http://127.0.0.1:8080/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:8080/gateway",
            "SHARD_COUNT": "4",
        }
    )
    assert discord.token == "secret-token"
    assert discord.command_prefix == "?"
    assert discord.auto_predict_channels == {123, 456}
    assert discord.dev_guild_id == 789
    assert discord.api_base == "http://127.0.0.1:8080/api/v10"
    assert discord.gateway_url == "ws://127.0.0.1:8080/gateway"
    assert discord.shard_count == 4


def test_every_mistake_of_the_core_and_of_discord_is_reported_at_once_one_line_each(tmp_path):
    reader = SettingsReader(
        {
            "MODEL_PATH": str(tmp_path / "missing.tflite"),
            "MAX_IMAGE_BYTES": "lots",
            "CONFIDENCE_THRESHOLD": "70",
            "LOG_LEVEL": "chatty",
            "USER_COOLDOWN_SECONDS": "nan",
            "SHUTDOWN_GRACE_SECONDS": "-1",
            "METRICS_PORT": "70000",
            "AUTO_PREDICT_CHANNELS": "general",
            "DEV_GUILD_ID": "-5",
            "DISCORD_API_BASE": "discord.com",
            "DISCORD_GATEWAY_URL": "https://gateway",
            "SHARD_COUNT": "0",
        }
    )
    read_core_settings(reader)
    read_discord_settings(reader)
    with pytest.raises(SettingsError) as raised:
        reader.raise_problems()
    problems = raised.value.problems
    assert [problem.split(":")[0] for problem in problems] == [
        "MODEL_PATH",
        "MAX_IMAGE_BYTES",
        "CONFIDENCE_THRESHOLD",
        "LOG_LEVEL",
        "USER_COOLDOWN_SECONDS",
        "SHUTDOWN_GRACE_SECONDS",
        "METRICS_PORT",
        "AUTO_PREDICT_CHANNELS",
        "DEV_GUILD_ID",
        "DISCORD_API_BASE",
        "DISCORD_GATEWAY_URL",
        "SHARD_COUNT",
    ]
    assert all("\n" not in problem for problem in problems)


def test_a_byte_budget_smaller_than_one_picture_is_a_mistake():
    with pytest.raises(SettingsError, match="MAX_BYTES_IN_PROGRESS: must be at least MAX_IMAGE_BYTES"):
        load_settings({"MAX_IMAGE_BYTES": "2000000", "MAX_BYTES_IN_PROGRESS": "1000000"})


def test_the_token_never_shows_in_the_settings_repr():
    settings = load_discord_settings({"DISCORD_TOKEN": "super-secret"})
    assert "super-secret" not in repr(settings)


def test_dotenv_in_the_working_directory_is_read_but_the_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("MAX_CONCURRENT_READS=3\nLOG_LEVEL=WARNING\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAX_CONCURRENT_READS", "unset below; set here so that the test restores it")
    monkeypatch.delenv("MAX_CONCURRENT_READS")
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    settings = load_settings()
    assert (settings.max_concurrent_reads, settings.log_level) == (3, "ERROR")


class LookedUp(dict):
    """An environment that remembers every name the bot asked it for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.names: set[str] = set()

    def get(self, name, default=None):
        self.names.add(name)
        return super().get(name, default)


def test_env_example_documents_every_setting_and_as_written_gives_the_defaults():
    from dotenv import dotenv_values

    from bot.telegram.settings import TelegramSettings, read_telegram_settings

    example = Path(__file__).resolve().parent.parent / ".env.example"
    written = {name: value or "" for name, value in dotenv_values(example).items()}
    environ = LookedUp(written)
    reader = SettingsReader(environ)

    settings = (read_core_settings(reader), read_discord_settings(reader), read_telegram_settings(reader))
    reader.raise_problems()

    assert settings == (Settings(), DiscordSettings(), TelegramSettings())
    assert environ.names <= set(written), f"read but not in .env.example: {sorted(environ.names - set(written))}"
