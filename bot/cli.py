"""The `shiplog` command: run, migrate, check, playground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import discord
import httpx

from bot.config import ConfigError, Settings, load_dotenv_file
from bot.log import setup_logging

log = logging.getLogger(__name__)


def _settings(require_token: bool) -> Settings | None:
    try:
        return Settings.from_env(require_token=require_token)
    except ConfigError as exc:
        print(f"shiplog: {exc}", file=sys.stderr)
        return None


def migrate(settings: Settings) -> int:
    """Apply pending migrations."""
    from bot.db.migrate import upgrade

    try:
        upgrade(settings.database_url)
    except Exception as exc:
        log.error("could not migrate the database at %s: %s", settings.database_url, exc)
        return 1
    return 0


async def _run_bot(settings: Settings) -> None:
    from bot.bot import Shiplog
    from bot.db.session import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), headers={"User-Agent": "shiplog"}) as http_client:
            bot = Shiplog(
                settings=settings,
                engine=engine,
                sessionmaker=create_sessionmaker(engine),
                http_client=http_client,
            )
            async with bot:
                await bot.start(settings.discord_token or "")
    finally:
        await engine.dispose()


def run(settings: Settings) -> int:
    """Apply pending migrations, then run the bot until stopped."""
    if migrate(settings) != 0:
        return 1
    try:
        asyncio.run(_run_bot(settings))
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN: copy the bot token again from the developer portal.")
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the gateway intents Shiplog asked for.")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def _check_database(settings: Settings) -> list[str]:
    from bot.db.migrate import current_revision, head_revision
    from bot.db.session import create_engine, ping

    problems: list[str] = []
    engine = create_engine(settings.database_url)
    try:
        await asyncio.wait_for(ping(engine), 10)
        current = await current_revision(engine)
        head = head_revision(settings.database_url)
        if current != head:
            problems.append(
                f"database is at migration {current or 'none'}, the code needs {head}: run `shiplog migrate` "
                "(`shiplog run` does it too)"
            )
    except Exception as exc:
        problems.append(f"DATABASE_URL: cannot reach the database: {exc}")
    finally:
        await engine.dispose()
    return problems


def check() -> int:
    """Validate the configuration and the database; print what is missing."""
    problems: list[str] = []
    settings = None
    try:
        settings = Settings.from_env(require_token=True)
    except ConfigError as exc:
        problems.append(str(exc))
        try:
            settings = Settings.from_env(require_token=False)
        except ConfigError:
            settings = None
    if settings is not None:
        problems += asyncio.run(_check_database(settings))
    for problem in problems:
        print(f"✗ {problem}")
    if settings is not None and settings.github_webhook_secret is None:
        print(
            "! GITHUB_WEBHOOK_SECRET is not set: POST /github/webhook refuses every delivery, so no merge is "
            "celebrated and no repository relayed. Set it to the secret of your GitHub webhooks."
        )
    if settings is not None:
        from bot.services.github.radar import members_per_minute

        token = settings.github_token is not None
        per_minute = members_per_minute(has_token=token)
        print(
            f"· radar: a pass every {settings.github_poll_seconds} s against {settings.github_api_url}, "
            f"{'with' if token else 'without'} GITHUB_TOKEN: about {per_minute:.0f} members checked a minute, "
            f"{per_minute * settings.github_poll_seconds / 60:.0f} in {settings.github_poll_seconds} s"
        )
    if problems:
        return 1
    print("✓ configuration and database look good")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `shiplog` console script."""
    parser = argparse.ArgumentParser(prog="shiplog", description="Shiplog, a Discord bot for #BuildInPublic servers.")
    parser.add_argument("command", choices=["run", "migrate", "check", "playground"], nargs="?", default="run")
    parser.add_argument("--port", type=int, default=8765, help="playground: the page's port on 127.0.0.1")
    parser.add_argument("--no-browser", action="store_true", help="playground: only print the page's address")
    args = parser.parse_args(argv)
    if args.command == "playground":
        # No .env and no token: the playground is its own server, on its own database.
        from bot.playground.run import main as playground

        setup_logging(logging.WARNING)
        return playground(args.port, open_browser=not args.no_browser)
    load_dotenv_file()
    if args.command == "check":
        setup_logging(logging.WARNING)
        return check()
    settings = _settings(require_token=args.command == "run")
    if settings is None:
        return 2
    setup_logging(settings.log_level)
    if args.command == "migrate":
        return migrate(settings)
    return run(settings)


if __name__ == "__main__":
    raise SystemExit(main())
