"""Configuration read from the environment (and an optional `.env`)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/shiplog.db"
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_GITHUB_WEB_URL = "https://github.com"
# GitHub's client ids: "Ov23li..." (OAuth apps), "Iv1.0123..." or "Iv23li..." (GitHub Apps).
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
DEFAULT_GITHUB_POLL_SECONDS = 300
# With a token the radar reads GraphQL, whose points pace its passes: they may start this often.
DEFAULT_GITHUB_GRAPHQL_POLL_SECONDS = 20
MIN_GITHUB_POLL_SECONDS = 5
DEFAULT_DELIVERY_RETENTION_DAYS = 14


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Shiplog reads from its environment."""

    discord_token: str | None
    database_url: str = DEFAULT_DATABASE_URL
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: str = "INFO"
    dev_guild_id: int | None = None
    github_webhook_secret: str | None = None
    github_token: str | None = None
    github_api_url: str = DEFAULT_GITHUB_API_URL
    # GitHub's web address: the device flow's endpoints (/login/device/code) live there, not in the API.
    github_web_url: str = DEFAULT_GITHUB_WEB_URL
    # The client id of an OAuth app (or GitHub App) with device flow enabled; None: link with a code in the bio.
    github_oauth_client_id: str | None = None
    # GitHub's GraphQL API, which the radar reads with a token (None: the one beside github_api_url).
    github_graphql_url: str | None = None
    github_poll_seconds: int = DEFAULT_GITHUB_POLL_SECONDS
    delivery_retention_days: int = DEFAULT_DELIVERY_RETENTION_DAYS
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    # The public HTTPS address of the web server (no trailing slash); None: no public pages.
    public_url: str | None = None
    # The privileged members intent (enabled in the developer portal too): member leaves and rejoins.
    members_intent: bool = False
    # GET /metrics on the web server, in Prometheus' text format (bot/metrics.py, docs/metrics.md).
    metrics: bool = False

    def __repr__(self) -> str:
        # Tokens, secrets and the database password never reach a log line or a traceback through repr().
        hidden = {"discord_token", "github_webhook_secret", "github_token"}

        def shown(name: str) -> str:
            value = getattr(self, name)
            if name in hidden and value:
                return "'***'"
            if name == "database_url":
                return repr(safe_url(value))
            return repr(value)

        return f"Settings({', '.join(f'{name}={shown(name)}' for name in self.__dataclass_fields__)})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, require_token: bool = True) -> Settings:
        """Read settings from `environ` (default: the process environment), raising ConfigError."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            if value is None:
                return None
            value = value.strip()
            return value or None

        token = get("DISCORD_TOKEN")
        if require_token and token is None:
            raise ConfigError(
                "DISCORD_TOKEN is not set: put your bot token from the Discord developer portal in .env "
                "or the environment."
            )
        if token is not None and (len(token) < 20 or any(c.isspace() for c in token)):
            raise ConfigError("DISCORD_TOKEN does not look like a bot token: copy it again from the portal.")

        database_url = _parse_database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL)

        host = get("HTTP_HOST") or "127.0.0.1"
        if not is_host(host):
            raise ConfigError(
                f"HTTP_HOST must be an IP address of this machine (0.0.0.0 for all) or a host name, not {host!r}."
            )
        port = _parse_int(get("HTTP_PORT"), "HTTP_PORT", default=8080)
        if not 0 <= port <= 65535:
            raise ConfigError(f"HTTP_PORT must be between 0 and 65535, not {port}.")

        level = (get("LOG_LEVEL") or "INFO").upper()
        if level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}.")

        dev_guild = get("DEV_GUILD_ID")
        dev_guild_id = None
        if dev_guild is not None:
            dev_guild_id = _parse_int(dev_guild, "DEV_GUILD_ID", default=0)
            if dev_guild_id <= 0:
                raise ConfigError("DEV_GUILD_ID must be a server id (a positive number).")

        api_url = _parse_github_url(
            get("GITHUB_API_URL"), "GITHUB_API_URL", DEFAULT_GITHUB_API_URL, "https://github.example.com/api/v3"
        )
        web_url = _parse_github_url(
            get("GITHUB_WEB_URL"), "GITHUB_WEB_URL", DEFAULT_GITHUB_WEB_URL, "https://github.example.com"
        )
        client_id = get("GITHUB_OAUTH_CLIENT_ID")
        if client_id is not None and not _CLIENT_ID.fullmatch(client_id):
            raise ConfigError(
                "GITHUB_OAUTH_CLIENT_ID must be the Client ID of your OAuth app (letters, digits, dots, "
                "hyphens), copied from its settings page on GitHub; no secret is needed."
            )
        graphql_url = _parse_graphql_url(get("GITHUB_GRAPHQL_URL"))
        default_poll = DEFAULT_GITHUB_GRAPHQL_POLL_SECONDS if get("GITHUB_TOKEN") else DEFAULT_GITHUB_POLL_SECONDS
        poll = _parse_int(get("GITHUB_POLL_SECONDS"), "GITHUB_POLL_SECONDS", default=default_poll)
        if poll < MIN_GITHUB_POLL_SECONDS:
            raise ConfigError(f"GITHUB_POLL_SECONDS must be {MIN_GITHUB_POLL_SECONDS} or more, not {poll}.")
        retention = _parse_int(
            get("DELIVERY_RETENTION_DAYS"), "DELIVERY_RETENTION_DAYS", default=DEFAULT_DELIVERY_RETENTION_DAYS
        )
        if retention < 1:
            raise ConfigError(f"DELIVERY_RETENTION_DAYS must be 1 or more (days), not {retention}.")

        shard_count, shard_ids = _parse_shards(get("SHARD_COUNT"), get("SHARD_IDS"))
        public_url = _parse_public_url(get("PUBLIC_URL"))
        members_intent = _parse_bool(get("MEMBERS_INTENT"), "MEMBERS_INTENT", default=False)
        metrics = _parse_bool(get("METRICS"), "METRICS", default=False)

        return cls(
            shard_count=shard_count,
            shard_ids=shard_ids,
            github_webhook_secret=get("GITHUB_WEBHOOK_SECRET"),
            github_token=get("GITHUB_TOKEN"),
            github_api_url=api_url,
            github_web_url=web_url,
            github_oauth_client_id=client_id,
            github_graphql_url=graphql_url,
            github_poll_seconds=poll,
            delivery_retention_days=retention,
            discord_token=token,
            database_url=database_url,
            http_host=host,
            http_port=port,
            log_level=level,
            dev_guild_id=dev_guild_id,
            public_url=public_url,
            members_intent=members_intent,
            metrics=metrics,
        )


def safe_url(url: str) -> str:
    """Return a database URL with its password replaced by ***, or a placeholder when it does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<DATABASE_URL that does not parse>"


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def is_host(host: str) -> bool:
    """Whether `host` is an IP address (IPv6 with or without brackets) or a well-formed host name.

    A dotted run of numbers must be a real IPv4 address: 999.1.1.1 is refused, not looked up by name.
    """
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
        return True
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", bare):
        return False
    try:
        ascii_name = bare.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return 0 < len(ascii_name) <= 253 and all(_LABEL.fullmatch(label) for label in ascii_name.split("."))


def _good_address(url: str) -> bool:
    """Whether an http(s) URL names a good host and, if any, a port between 1 and 65535."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port that is not a number, or past 65535
        return False
    return parts.hostname is not None and is_host(parts.hostname) and port != 0


def _parse_database_url(database_url: str) -> str:
    """Check DATABASE_URL: a driver Shiplog runs on, a sound host and port; return it unchanged."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError("DATABASE_URL is not a database URL (such as sqlite+aiosqlite:///data/x.db).") from None
    if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ConfigError(
            f"DATABASE_URL must start with sqlite+aiosqlite:/// or postgresql+asyncpg://, not {url.drivername}://."
        )
    if url.host is not None and not is_host(url.host):
        raise ConfigError(f"DATABASE_URL's host must be a host name or an IP address, not {url.host!r}.")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ConfigError(f"DATABASE_URL's port must be between 1 and 65535, not {url.port}.")
    return database_url


def _parse_github_url(value: str | None, name: str, default: str, enterprise: str) -> str:
    """Read GITHUB_API_URL or GITHUB_WEB_URL: an http(s) address, no query or fragment, no trailing slash."""
    url = (value or default).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not _good_address(url) or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http(s) address such as {default} or {enterprise}, not {url!r}.")
    return url


def _parse_graphql_url(value: str | None) -> str | None:
    """Read GITHUB_GRAPHQL_URL (None: the API client puts it beside GITHUB_API_URL)."""
    url = (value or "").rstrip("/") or None
    if url is not None and (urlsplit(url).scheme not in ("https", "http") or not _good_address(url)):
        raise ConfigError(
            "GITHUB_GRAPHQL_URL must be an http(s) address such as https://api.github.com/graphql "
            f"or https://github.example.com/api/graphql, not {url!r}."
        )
    return url


def _parse_public_url(value: str | None) -> str | None:
    """Read PUBLIC_URL: an http(s) address with a host and no query or fragment, without its trailing slash."""
    if value is None:
        return None
    url = value.rstrip("/")
    parts = urlsplit(url)
    if (
        parts.scheme not in ("https", "http")
        or not _good_address(url)
        or parts.query
        or parts.fragment
        or "?" in url
        or "#" in url
        or any(c.isspace() for c in url)
    ):
        raise ConfigError(
            "PUBLIC_URL must be the http(s) address the bot's web server is reached at, such as "
            f"https://shiplog.example.com, with no ?query or #fragment, not {value!r}."
        )
    return url


def _parse_shards(count_value: str | None, ids_value: str | None) -> tuple[int | None, tuple[int, ...] | None]:
    """Read SHARD_COUNT and SHARD_IDS ("0,1,2" or ranges such as "0-3,8"), raising ConfigError."""
    if count_value is None:
        if ids_value is not None:
            raise ConfigError("SHARD_IDS needs SHARD_COUNT: set SHARD_COUNT to the fleet's total number of shards.")
        return None, None
    count = _parse_int(count_value, "SHARD_COUNT", default=1)
    if count < 1:
        raise ConfigError(f"SHARD_COUNT must be 1 or more (the fleet's total number of shards), not {count}.")
    if ids_value is None:
        return count, None
    ids: list[int] = []
    for part in ids_value.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        try:
            first, last = (int(low), int(high)) if dash else (int(part), int(part))
        except ValueError:
            raise ConfigError(f"SHARD_IDS must be shard numbers such as 0,1 or 0-3, not {ids_value!r}.") from None
        if first > last:
            raise ConfigError(f"SHARD_IDS has a backwards range {part!r}: write it low-high, such as 0-3.")
        ids.extend(range(first, last + 1))
    outside = sorted({shard for shard in ids if not 0 <= shard < count})
    if outside:
        raise ConfigError(
            f"SHARD_IDS must be between 0 and SHARD_COUNT - 1 ({count - 1}), not {', '.join(map(str, outside))}."
        )
    if len(set(ids)) != len(ids):
        raise ConfigError(f"SHARD_IDS names a shard twice: {ids_value!r}.")
    return count, tuple(ids)


def _parse_bool(value: str | None, name: str, *, default: bool) -> bool:
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}.")


def _parse_int(value: str | None, name: str, *, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}.") from None


def load_dotenv_file(path: Path | None = None) -> None:
    """Load `.env` from the working directory into the environment, without overriding set variables."""
    from dotenv import load_dotenv

    load_dotenv(path or Path.cwd() / ".env", override=False)
