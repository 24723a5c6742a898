"""Telegram's settings: defaults, group ids, one clear line per mistake, and how `python -m bot` chooses to run it."""

from __future__ import annotations

import pytest

from bot.cli import main, run_telegram
from bot.settings import Settings, SettingsError
from bot.telegram.settings import TELEGRAM_API_BASE, TelegramSettings, load_telegram_settings


def test_without_settings_telegram_uses_the_public_bot_api_and_reads_no_group_by_itself():
    settings = load_telegram_settings({})

    assert settings == TelegramSettings(token=None, api_base=TELEGRAM_API_BASE, auto_predict_chats=frozenset())


def test_auto_predict_chats_are_chat_ids_and_a_groups_id_is_negative():
    settings = load_telegram_settings(
        {
            "TELEGRAM_TOKEN": " 123:abc ",
            "TELEGRAM_AUTO_PREDICT_CHATS": "-1001234567890, -42,",
            "TELEGRAM_API_BASE": "http://127.0.0.1:8081/",
        }
    )

    assert settings.token == "123:abc"
    assert settings.auto_predict_chats == frozenset({-1001234567890, -42})
    assert settings.api_base == "http://127.0.0.1:8081"
    assert "123:abc" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("TELEGRAM_AUTO_PREDICT_CHATS", "general", "must be Telegram chat ids"),
        ("TELEGRAM_AUTO_PREDICT_CHATS", "-100123, 0", "0 is not a Telegram chat id"),
        ("TELEGRAM_API_BASE", "api.telegram.org", "must start with http:// or https://"),
        ("TELEGRAM_API_BASE", "https://api.telegram.org/bot123:secret", "must be the server alone"),
    ],
)
def test_each_mistake_is_one_line_naming_the_setting(name, value, words):
    with pytest.raises(SettingsError) as raised:
        load_telegram_settings({name: value})

    (problem,) = raised.value.problems
    assert problem.startswith(f"{name}: ") and words in problem
    assert "secret" not in problem, "a URL with /bot in it likely carries the token: not echoed"


def test_every_mistake_of_every_part_is_reported_at_once(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # no developer's .env
    monkeypatch.setenv("MAX_IMAGE_BYTES", "lots")
    monkeypatch.setenv("SHARD_COUNT", "none")
    monkeypatch.setenv("TELEGRAM_AUTO_PREDICT_CHATS", "general")

    assert main([]) == 1

    errors = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1].strip() for line in errors] == [
        "MAX_IMAGE_BYTES",
        "SHARD_COUNT",
        "TELEGRAM_AUTO_PREDICT_CHATS",
    ]


def test_telegram_without_a_token_is_one_clear_line_and_exit_1(capsys):
    assert run_telegram(Settings(), TelegramSettings()) == 1

    assert capsys.readouterr().err.strip() == (
        "error: TELEGRAM_TOKEN is not set: put your bot's token in .env (see README)"
    )
