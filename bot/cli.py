"""The `shiplog` command: run, web, migrate, check, playground."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import aiohttp
import discord
import httpx

from bot.config import ConfigError, Settings, load_dotenv_file
from bot.log import setup_logging
from bot.signals import signals_deferred, stop_signals

log = logging.getLogger(__name__)


def _settings(require_token: bool) -> Settings | None:
    try:
        return Settings.from_env(require_token=require_token)
    except ConfigError as exc:
        print(f"shiplog: {exc}", file=sys.stderr)
        return None


def shiplog_version() -> str:
    """Return the installed version of Shiplog."""
    try:
        return version("shiplog")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def migrate(settings: Settings) -> int:
    """Apply pending migrations."""
    from bot.db import problems
    from bot.db.migrate import upgrade

    missing = problems.missing_driver(settings.database_url)
    if missing is not None:
        log.error("%s", missing)
        return 1
    try:
        upgrade(settings.database_url)
    except Exception as exc:
        log.error("could not migrate: %s", problems.describe(exc, settings.database_url))
        log.debug("migration failure", exc_info=exc)
        return 1
    return 0


class StartFailure(Exception):
    """The process could not start; the message is the one line to show, naming the fix."""


async def _run_bot(settings: Settings) -> None:
    from bot.bot import Shiplog
    from bot.db.session import create_engine, create_sessionmaker
    from bot.workers.wiring import build_workers

    engine = create_engine(settings.database_url)
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), headers={"User-Agent": "shiplog"}) as http_client:
            bot = Shiplog(
                settings=settings,
                engine=engine,
                sessionmaker=create_sessionmaker(engine),
                http_client=http_client,
                workers=build_workers(settings),
            )
            stop = asyncio.Event()

            def on_signal(sig: signal.Signals) -> None:
                if stop.is_set():
                    log.info("received %s again: already stopping", sig.name)
                    return
                log.info("received %s: stopping", sig.name)
                stop.set()

            with stop_signals(on_signal):
                async with bot:
                    started = asyncio.create_task(bot.start(settings.discord_token or ""), name="shiplog-start")
                    stopped = asyncio.create_task(stop.wait(), name="shiplog-stop-signal")
                    await asyncio.wait({started, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    if not stop.is_set():
                        stopped.cancel()
                        started.result()  # why the bot stopped by itself, if it failed
                        return
                    await bot.shutdown()
                    # bot.start returns once the bot is closed; cut off while logging in, it may raise.
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await asyncio.wait_for(started, 5)
    finally:
        await engine.dispose()


def _start_failure(exc: BaseException, settings: Settings) -> str | None:
    """Return the one line naming the fix for a failure while starting, or None for a bug."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import problems
    from bot.web import PortInUse

    if isinstance(exc, PortInUse | StartFailure):
        return str(exc)
    if isinstance(exc, SQLAlchemyError):
        return problems.describe(exc, settings.database_url)
    if isinstance(exc, discord.LoginFailure):
        return "Discord refused DISCORD_TOKEN: copy the bot token again from the developer portal (Bot, Reset Token)."
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        # The one privileged intent Shiplog can ask for is the members intent (MEMBERS_INTENT=true).
        return (
            "Discord refused the Server Members intent that MEMBERS_INTENT=true asks for: turn on Server "
            "Members Intent in the developer portal (Bot, Privileged Gateway Intents), or set MEMBERS_INTENT=false."
        )
    if isinstance(exc, discord.DiscordServerError):
        return f"Discord is failing ({exc.status}): the start is given up; try again in a few minutes."
    if isinstance(exc, aiohttp.ClientConnectionError | OSError | TimeoutError):
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot reach Discord ({reason}): check this machine's network, DNS and proxy."
    return None


def run(settings: Settings) -> int:
    """Apply pending migrations, then run the bot until stopped (SIGTERM or SIGINT: exit 0)."""
    with signals_deferred() as received:
        if migrate(settings) != 0:
            return 1
    if received:
        log.info("received %s while migrating: stopping before the bot starts", received[0].name)
        return 0
    try:
        asyncio.run(_run_bot(settings))
    except Exception as exc:
        line = _start_failure(exc, settings)
        if line is None:
            raise
        log.error("%s", line)
        log.debug("start failure", exc_info=exc)
        return 1
    return 0


async def _run_web(settings: Settings) -> None:
    from bot.db.base import utcnow
    from bot.db.migrate import current_revision, head_revision
    from bot.db.session import create_engine, create_sessionmaker
    from bot.metrics import Metrics
    from bot.web import WebServer, build_app

    engine = create_engine(settings.database_url)
    try:
        # Several web processes may start at once: none migrates, all need the migrated schema.
        current, head = await current_revision(engine), head_revision(settings.database_url)
        if current != head:
            raise StartFailure(
                f"the database is at migration {current or 'none'}, the code needs {head}: "
                "run `shiplog migrate` (or start `shiplog run`) first."
            )
        sessionmaker = create_sessionmaker(engine)
        server = WebServer(
            build_app(
                engine,
                sessionmaker=sessionmaker,
                webhook_secret=settings.github_webhook_secret,
                public_url=settings.public_url,
                metrics=Metrics(sessionmaker, now=utcnow) if settings.metrics else None,
            ),
            settings.http_host,
            settings.http_port,
        )
        stop = asyncio.Event()

        def on_signal(sig: signal.Signals) -> None:
            log.info("received %s: stopping", sig.name)
            stop.set()

        with stop_signals(on_signal):
            await server.start()
            if settings.github_webhook_secret is None:
                log.warning("GITHUB_WEBHOOK_SECRET is not set: every webhook delivery is refused with 503")
            log.info("webhook intake only: stored deliveries are processed by `shiplog run`")
            if settings.public_url is not None:
                log.info("members' public pages are served too, at %s/u/…", settings.public_url)
            await stop.wait()
            server.drain()
            await server.stop()
            log.info("stopped cleanly")
    finally:
        await engine.dispose()


def web(settings: Settings) -> int:
    """Run the webhook intake and /healthz only, with no gateway, until SIGTERM or SIGINT."""
    from bot.db import problems

    missing = problems.missing_driver(settings.database_url)
    if missing is not None:
        log.error("%s", missing)
        return 1
    try:
        asyncio.run(_run_web(settings))
    except Exception as exc:
        line = _start_failure(exc, settings)
        if line is None and isinstance(exc, OSError):  # no Discord here: an OSError is the database's
            line = problems.describe(exc, settings.database_url)
        if line is None:
            raise
        log.error("%s", line)
        return 1
    return 0


async def _check_database(settings: Settings) -> tuple[list[str], list[str]]:
    """Return the database's problems, and notes on what `shiplog run` will do to it by itself.

    `shiplog run` creates a missing SQLite file and applies pending migrations when it starts, so
    neither is a problem here, only a note; a database the check cannot open or that is ahead of
    the code is.
    """
    from bot.db import problems as db_problems
    from bot.db.migrate import current_revision, head_revision
    from bot.db.session import create_engine, ping, sqlite_path

    missing = db_problems.missing_driver(settings.database_url)
    if missing is not None:
        return [missing], []
    head = head_revision(settings.database_url)
    pending = "`shiplog run` applies them when it starts (or run `shiplog migrate`); `shiplog web` needs them first"
    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        # Connecting would create the file (and create_engine its folder): a check changes nothing,
        # it only looks whether the file could be made.
        unmakeable = _cannot_create(path)
        if unmakeable is not None:
            return [f"DATABASE_URL: the SQLite file {path} cannot be created: {unmakeable}"], []
        return [], [f"the SQLite file {path} does not exist yet, the code needs migration {head}: {pending}"]
    problems: list[str] = []
    notes: list[str] = []
    engine = create_engine(settings.database_url, create_folder=False)
    try:
        await asyncio.wait_for(ping(engine), 10)
        current = await current_revision(engine)
        if current != head:
            if current is not None and not _known_revision(settings.database_url, current):
                problems.append(
                    f"database is at migration {current}, which this version of Shiplog does not know (it needs "
                    f"{head}): it was migrated by a newer version; run that version"
                )
            else:
                notes.append(f"database is at migration {current or 'none'}, the code needs {head}: {pending}")
    except Exception as exc:
        problems.append(f"DATABASE_URL: {db_problems.describe(exc, settings.database_url)}")
    finally:
        await engine.dispose()
    return problems, notes


def _cannot_create(path: Path) -> str | None:
    """Why the SQLite file `path` (and its folders) could not be created, or None if it could."""
    folder = path.parent
    while not folder.exists():
        if folder.parent == folder:
            break
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"this user cannot write in {folder}"
    return None


def _known_revision(database_url: str, revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from bot.db.migrate import alembic_config

    try:
        return ScriptDirectory.from_config(alembic_config(database_url)).get_revision(revision) is not None
    except CommandError:
        return False


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
    notes: list[str] = []
    if settings is not None:
        found, notes = asyncio.run(_check_database(settings))
        problems += found
    for problem in problems:
        print(f"✗ {problem}")
    for note in notes:
        print(f"! {note}")
    if settings is not None and settings.github_webhook_secret is None:
        print(
            "! GITHUB_WEBHOOK_SECRET is not set: POST /github/webhook refuses every delivery, so no merge is "
            "celebrated and no repository relayed. Set it to the secret of your GitHub webhooks."
        )
    if settings is not None:
        from bot.services.github.api import graphql_url_for
        from bot.services.github.radar import members_per_minute

        token = settings.github_token is not None
        per_minute = members_per_minute(has_token=token)
        if token:
            graphql = settings.github_graphql_url or graphql_url_for(settings.github_api_url)
            print(
                f"· radar: a pass every {settings.github_poll_seconds} s against {settings.github_api_url}, "
                f"with GITHUB_TOKEN: merges read from GitHub's GraphQL API at {graphql}, 100 members a query, "
                "at most 40% of its 5,000 points an hour (about 1,000 members checked every 30 s)"
            )
        else:
            print(
                f"· radar: a pass every {settings.github_poll_seconds} s against {settings.github_api_url}, "
                f"without GITHUB_TOKEN: about {per_minute:.0f} members checked a minute, "
                f"{per_minute * settings.github_poll_seconds / 60:.0f} in {settings.github_poll_seconds} s"
            )
    if problems:
        return 1
    print("✓ configuration and database look good")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `shiplog` console script."""
    parser = argparse.ArgumentParser(prog="shiplog", description="Shiplog, a Discord bot for #BuildInPublic servers.")
    parser.add_argument(
        "command",
        choices=["run", "web", "migrate", "check", "playground"],
        nargs="?",
        default="run",
        help="run: the bot (default); web: the webhook intake and /healthz only, no gateway; "
        "migrate: apply migrations; check: validate the configuration and the database; "
        "playground: the bot on a pretend server in a web page, no token needed",
    )
    parser.add_argument("--version", action="version", version=f"shiplog {shiplog_version()}")
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
    if args.command == "web":
        return web(settings)
    return run(settings)


if __name__ == "__main__":
    raise SystemExit(main())
