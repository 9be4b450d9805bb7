"""Configuration: defaults, and one clear line for each bad value."""

from __future__ import annotations

import pytest

from bot.config import DEFAULT_DATABASE_URL, ConfigError, Settings, safe_url

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
        ({"DISCORD_TOKEN": TOKEN, "HTTP_HOST": "999.1.1.1"}, "HTTP_HOST"),
        ({"DISCORD_TOKEN": TOKEN, "HTTP_HOST": "10.0.0"}, "HTTP_HOST"),
        ({"DISCORD_TOKEN": TOKEN, "HTTP_HOST": "-bad-.example.com"}, "HTTP_HOST"),
        ({"DISCORD_TOKEN": TOKEN, "HTTP_HOST": "two words"}, "HTTP_HOST"),
        ({"DISCORD_TOKEN": TOKEN, "DATABASE_URL": "postgresql+asyncpg://u@db:abc/x"}, "DATABASE_URL"),
        ({"DISCORD_TOKEN": TOKEN, "DATABASE_URL": "postgresql+asyncpg://u@db:0/x"}, "DATABASE_URL"),
        ({"DISCORD_TOKEN": TOKEN, "DATABASE_URL": "postgresql+asyncpg://u@db:65536/x"}, "DATABASE_URL"),
        ({"DISCORD_TOKEN": TOKEN, "DATABASE_URL": "postgresql+asyncpg://u@999.1.1.1/x"}, "DATABASE_URL"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_API_URL": "https://github.example.com:99999"}, "GITHUB_API_URL"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_API_URL": "https://github.example.com:0"}, "GITHUB_API_URL"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_API_URL": "https://300.1.1.1"}, "GITHUB_API_URL"),
        ({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "https://a..example.com"}, "PUBLIC_URL"),
        ({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "https://1.2.3.999"}, "PUBLIC_URL"),
        ({"DISCORD_TOKEN": TOKEN, "HTTP_PORT": "eighty"}, "HTTP_PORT"),
        ({"DISCORD_TOKEN": TOKEN, "HTTP_PORT": "70000"}, "HTTP_PORT"),
        ({"DISCORD_TOKEN": TOKEN, "LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"DISCORD_TOKEN": TOKEN, "DEV_GUILD_ID": "my-server"}, "DEV_GUILD_ID"),
        ({"DISCORD_TOKEN": TOKEN, "DEV_GUILD_ID": "-5"}, "DEV_GUILD_ID"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_POLL_SECONDS": "4"}, "GITHUB_POLL_SECONDS"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_POLL_SECONDS": "often"}, "GITHUB_POLL_SECONDS"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_API_URL": "api.github.com"}, "GITHUB_API_URL"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_API_URL": "ftp://github.example.com"}, "GITHUB_API_URL"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_WEB_URL": "github.com"}, "GITHUB_WEB_URL"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_WEB_URL": "https://github.example.com:0"}, "GITHUB_WEB_URL"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_WEB_URL": "https://github.com/?next=x"}, "GITHUB_WEB_URL"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_OAUTH_CLIENT_ID": "Ov23 li"}, "GITHUB_OAUTH_CLIENT_ID"),
        ({"DISCORD_TOKEN": TOKEN, "GITHUB_OAUTH_CLIENT_ID": "client/id"}, "GITHUB_OAUTH_CLIENT_ID"),
        ({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": "0"}, "DELIVERY_RETENTION_DAYS"),
        ({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": "-3"}, "DELIVERY_RETENTION_DAYS"),
        ({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": "2.5"}, "DELIVERY_RETENTION_DAYS"),
        ({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": "two weeks"}, "DELIVERY_RETENTION_DAYS"),
        ({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "shiplog.example.com"}, "PUBLIC_URL"),
        ({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "ftp://shiplog.example.com"}, "PUBLIC_URL"),
        ({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "https://shiplog.example.com/?x=1"}, "PUBLIC_URL"),
        ({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "https://shiplog.example.com/#top"}, "PUBLIC_URL"),
        ({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "https://shiplog.example.com:http"}, "PUBLIC_URL"),
        ({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "https://"}, "PUBLIC_URL"),
        ({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "0"}, "SHARD_COUNT"),
        ({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "two"}, "SHARD_COUNT"),
        ({"DISCORD_TOKEN": TOKEN, "SHARD_IDS": "0"}, "SHARD_IDS"),
        ({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "4", "SHARD_IDS": "4"}, "SHARD_IDS"),
        ({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "4", "SHARD_IDS": "-1"}, "SHARD_IDS"),
        ({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "4", "SHARD_IDS": "0,x"}, "SHARD_IDS"),
        ({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "4", "SHARD_IDS": "3-1"}, "SHARD_IDS"),
        ({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "4", "SHARD_IDS": "0-2,1"}, "SHARD_IDS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = str(info.value)
    assert message.startswith(variable)
    assert "\n" not in message


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "127.0.0.1", "::", "::1", "localhost", "shiplog", "shiplog_web", "bot.example.com"],  # noqa: S104
)
def test_good_hosts_are_taken_as_they_are(host: str) -> None:
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "HTTP_HOST": host}).http_host == host
    url = f"postgresql+asyncpg://u:p@{host if ':' not in host else f'[{host}]'}:5432/shiplog"
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "DATABASE_URL": url}).database_url == url


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


def test_public_url_loses_its_trailing_slash_and_keeps_a_path() -> None:
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN}).public_url is None
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "  "}).public_url is None
    read = Settings.from_env({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "https://example.com/shiplog/"})
    assert read.public_url == "https://example.com/shiplog"
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "PUBLIC_URL": "http://127.0.0.1:8080"}).public_url == (
        "http://127.0.0.1:8080"
    )


def test_shards_are_read_as_a_count_and_a_list_of_ids() -> None:
    assert (
        Settings.from_env({"DISCORD_TOKEN": TOKEN}).shard_count,
        Settings.from_env({}, require_token=False).shard_ids,
    ) == (
        None,
        None,
    )
    fleet = Settings.from_env({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "8", "SHARD_IDS": " 0-2, 6 ,7"})
    assert (fleet.shard_count, fleet.shard_ids) == (8, (0, 1, 2, 6, 7))
    alone = Settings.from_env({"DISCORD_TOKEN": TOKEN, "SHARD_COUNT": "3"})
    assert (alone.shard_count, alone.shard_ids) == (3, None)  # every shard, in this one process


def test_repr_hides_every_secret_and_the_database_password() -> None:
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": TOKEN,
            "GITHUB_TOKEN": "ghp_hidden",
            "GITHUB_WEBHOOK_SECRET": "webhook-hidden",
            "DATABASE_URL": "postgresql+asyncpg://shiplog:pg-hidden@db:5432/shiplog",
        }
    )
    shown = repr(settings)
    for secret in (TOKEN, "ghp_hidden", "webhook-hidden", "pg-hidden"):
        assert secret not in shown
    assert "postgresql+asyncpg://shiplog:***@db:5432/shiplog" in shown
    assert (
        safe_url(settings.database_url) == "postgresql+asyncpg://shiplog:***@db:5432/shiplog"
    )  # as problems.py logs it
    assert settings.database_url.endswith(":pg-hidden@db:5432/shiplog")  # the real value is still there to use


def test_an_unparsable_database_url_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"DISCORD_TOKEN": TOKEN, "DATABASE_URL": "hunter2 is my password"})
    assert "hunter2" not in str(info.value)


def test_members_intent_is_off_unless_asked_for() -> None:
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN}).members_intent is False
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "MEMBERS_INTENT": "true"}).members_intent is True
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "MEMBERS_INTENT": "False"}).members_intent is False
    with pytest.raises(ConfigError, match="MEMBERS_INTENT must be true or false"):
        Settings.from_env({"DISCORD_TOKEN": TOKEN, "MEMBERS_INTENT": "sometimes"})


def test_delivery_retention_days_is_read_with_a_default_of_14() -> None:
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN}).delivery_retention_days == 14
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": " 30 "}).delivery_retention_days == 30
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": "1"}).delivery_retention_days == 1
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "DELIVERY_RETENTION_DAYS": ""}).delivery_retention_days == 14


def test_device_flow_settings_default_to_github_com_and_off() -> None:
    default = Settings.from_env({"DISCORD_TOKEN": TOKEN})
    assert (default.github_web_url, default.github_oauth_client_id) == ("https://github.com", None)
    read = Settings.from_env(
        {
            "DISCORD_TOKEN": TOKEN,
            "GITHUB_WEB_URL": "https://github.example.com/",
            "GITHUB_OAUTH_CLIENT_ID": " Ov23liAbCdEf0123456789 ",
        }
    )
    assert read.github_web_url == "https://github.example.com"
    assert read.github_oauth_client_id == "Ov23liAbCdEf0123456789"
    assert Settings.from_env({"DISCORD_TOKEN": TOKEN, "GITHUB_OAUTH_CLIENT_ID": "  "}).github_oauth_client_id is None


def test_the_graphql_address_and_the_pass_interval_follow_the_token() -> None:
    from bot.services.github.api import graphql_url_for

    plain = Settings.from_env({"DISCORD_TOKEN": TOKEN})
    assert (plain.github_graphql_url, plain.github_poll_seconds) == (None, 300)
    # With a token the radar reads GraphQL, whose points pace its passes: they may start every 20 s.
    token = Settings.from_env({"DISCORD_TOKEN": TOKEN, "GITHUB_TOKEN": "ghp_x"})
    assert token.github_poll_seconds == 20
    assert (
        Settings.from_env(
            {"DISCORD_TOKEN": TOKEN, "GITHUB_TOKEN": "t", "GITHUB_POLL_SECONDS": "60"}
        ).github_poll_seconds
        == 60
    )
    ghes = Settings.from_env({"DISCORD_TOKEN": TOKEN, "GITHUB_GRAPHQL_URL": "https://github.example.com/api/graphql/"})
    assert ghes.github_graphql_url == "https://github.example.com/api/graphql"
    with pytest.raises(ConfigError, match="GITHUB_GRAPHQL_URL"):
        Settings.from_env({"DISCORD_TOKEN": TOKEN, "GITHUB_GRAPHQL_URL": "ftp://github.example.com/graphql"})
    # Unset, it sits beside the REST API: GitHub.com's, or GHES's /api/graphql.
    assert graphql_url_for("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url_for("https://github.example.com/api/v3/") == "https://github.example.com/api/graphql"
