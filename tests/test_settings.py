"""Settings: defaults, parsing, and one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import DEFAULT_MODEL_PATH, Settings, SettingsError, load_settings


@pytest.fixture
def model_file(tmp_path) -> Path:
    path = tmp_path / "digits.tflite"
    path.write_bytes(b"model")
    return path


def test_defaults_need_nothing_but_the_shipped_model():
    settings = load_settings({})
    assert settings == Settings()
    assert settings.model_path == DEFAULT_MODEL_PATH and settings.command_prefix == "!"
    assert settings.discord_token is None


def test_every_setting_is_read(model_file):
    settings = load_settings(
        {
            "DISCORD_TOKEN": "  secret-token ",
            "COMMAND_PREFIX": "?",
            "MODEL_PATH": str(model_file),
            "AUTO_PREDICT_CHANNELS": "123, 456,",
            "DEV_GUILD_ID": "789",
            "MAX_IMAGE_BYTES": "1_000_000",
            "MAX_IMAGE_PIXELS": "2000000",
            "CONFIDENCE_THRESHOLD": "0.5",
            "LOG_LEVEL": "debug",
            "DISCORD_API_BASE": "http://127.0.0.1:8080/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:8080/gateway",
            "MAX_CONCURRENT_READS": "3",
            "USER_COOLDOWN_SECONDS": "0",
            "DOWNLOAD_TIMEOUT_SECONDS": "2.5",
        }
    )
    assert settings.discord_token == "secret-token"
    assert settings.command_prefix == "?"
    assert settings.model_path == model_file
    assert settings.auto_predict_channels == {123, 456}
    assert settings.dev_guild_id == 789
    assert (settings.max_image_bytes, settings.max_image_pixels) == (1_000_000, 2_000_000)
    assert settings.confidence_threshold == 0.5
    assert settings.log_level == "DEBUG"
    assert settings.discord_api_base == "http://127.0.0.1:8080/api/v10"
    assert settings.discord_gateway_url == "ws://127.0.0.1:8080/gateway"
    assert (settings.max_concurrent_reads, settings.user_cooldown_seconds) == (3, 0.0)
    assert settings.download_timeout_seconds == 2.5


def test_every_mistake_is_reported_at_once_one_line_each(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load_settings(
            {
                "MODEL_PATH": str(tmp_path / "missing.tflite"),
                "AUTO_PREDICT_CHANNELS": "general",
                "DEV_GUILD_ID": "-5",
                "MAX_IMAGE_BYTES": "lots",
                "CONFIDENCE_THRESHOLD": "70",
                "LOG_LEVEL": "chatty",
                "DISCORD_API_BASE": "discord.com",
                "DISCORD_GATEWAY_URL": "https://gateway",
                "USER_COOLDOWN_SECONDS": "nan",
            }
        )
    problems = raised.value.problems
    assert [problem.split(":")[0] for problem in problems] == [
        "MODEL_PATH",
        "AUTO_PREDICT_CHANNELS",
        "DEV_GUILD_ID",
        "MAX_IMAGE_BYTES",
        "CONFIDENCE_THRESHOLD",
        "LOG_LEVEL",
        "DISCORD_API_BASE",
        "DISCORD_GATEWAY_URL",
        "USER_COOLDOWN_SECONDS",
    ]
    assert all("\n" not in problem for problem in problems)


def test_the_token_never_shows_in_the_settings_repr(model_file):
    settings = load_settings({"DISCORD_TOKEN": "super-secret", "MODEL_PATH": str(model_file)})
    assert "super-secret" not in repr(settings)


def test_dotenv_is_read_but_the_environment_wins(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("COMMAND_PREFIX=$\nLOG_LEVEL=WARNING\n")
    monkeypatch.setenv("COMMAND_PREFIX", "unset below; set here so that the test restores it")
    monkeypatch.delenv("COMMAND_PREFIX")
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    settings = load_settings(dotenv_path=dotenv)
    assert (settings.command_prefix, settings.log_level) == ("$", "ERROR")
