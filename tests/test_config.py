"""Configuration: defaults, and one clear line for each bad value."""

from __future__ import annotations

import pytest

from bot.config import DEFAULT_DATABASE_URL, ConfigError, Settings

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.abcdefghijklmnopqrstuvwxyz0123"


def test_defaults_need_only_a_token() -> None:
    settings = Settings.from_env({"DISCORD_TOKEN": TOKEN})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert (settings.http_host, settings.http_port, settings.log_level, settings.dev_guild_id) == (
        "127.0.0.1",
        8080,
        "INFO",
        None,
    )


def test_values_are_read() -> None:
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": TOKEN,
            "DATABASE_URL": "postgresql+asyncpg://u:p@db/shiplog",
            "HTTP_HOST": "0.0.0.0",  # noqa: S104
            "HTTP_PORT": "9000",
            "LOG_LEVEL": "debug",
            "DEV_GUILD_ID": "123456789012345678",
        }
    )
    assert settings.http_port == 9000
    assert settings.log_level == "DEBUG"
    assert settings.dev_guild_id == 123456789012345678


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "   "}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "short"}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": TOKEN, "DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DISCORD_TOKEN": TOKEN, "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DISCORD_TOKEN": TOKEN, "DATABASE_URL": "sqlite:///plain-driver.db"}, "DATABASE_URL"),
        ({"DISCORD_TOKEN": TOKEN, "HTTP_PORT": "eighty"}, "HTTP_PORT"),
        ({"DISCORD_TOKEN": TOKEN, "HTTP_PORT": "70000"}, "HTTP_PORT"),
        ({"DISCORD_TOKEN": TOKEN, "LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"DISCORD_TOKEN": TOKEN, "DEV_GUILD_ID": "my-server"}, "DEV_GUILD_ID"),
        ({"DISCORD_TOKEN": TOKEN, "DEV_GUILD_ID": "-5"}, "DEV_GUILD_ID"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_POLL_SECONDS": "4"}, "GITHUB_POLL_SECONDS"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_POLL_SECONDS": "often"}, "GITHUB_POLL_SECONDS"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_API_URL": "api.github.com"}, "GITHUB_API_URL"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_API_URL": "ftp://github.example.com"}, "GITHUB_API_URL"),
        ({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": "0"}, "DELIVERY_RETENTION_DAYS"),
        ({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": "-3"}, "DELIVERY_RETENTION_DAYS"),
        ({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": "2.5"}, "DELIVERY_RETENTION_DAYS"),
        ({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": "two weeks"}, "DELIVERY_RETENTION_DAYS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = str(info.value)
    assert message.startswith(variable)
    assert "\n" not in message


def test_radar_settings_and_a_repr_without_secrets() -> None:
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": TOKEN,
            "GITHUB_TOKEN": "ghp_secret",
            "GITHUB_POLL_SECONDS": "5",
            "GITHUB_API_URL": "https://github.example.com/api/v3/",
        }
    )
    assert settings.github_poll_seconds == 5
    assert settings.github_api_url == "https://github.example.com/api/v3"
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN}).github_api_url == "https://api.github.com"
    shown = repr(settings)
    assert TOKEN not in shown and "ghp_secret" not in shown
    assert "github_poll_seconds=5" in shown


def test_delivery_retention_days_is_read_with_a_default_of_14() -> None:
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN}).delivery_retention_days == 14
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": " 30 "}).delivery_retention_days == 30
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": "1"}).delivery_retention_days == 1
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": ""}).delivery_retention_days == 14
