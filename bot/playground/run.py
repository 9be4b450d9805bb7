"""`shiplog playground`: the real bot on a pretend server, in one process, with no token and no network."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import time
import webbrowser
from collections.abc import AsyncIterator
from pathlib import Path

from bot.db.migrate import upgrade
from bot.playground.page import add_routes
from bot.playground.world import Playground

log = logging.getLogger(__name__)


def database_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'playground.db'}"


@contextlib.asynccontextmanager
async def running(database_url: str, port: int) -> AsyncIterator[Playground]:
    """Start the playground on an already migrated database; stop it on exit."""
    playground = Playground(database_url=database_url, port=port)
    try:
        await playground.start(lambda app: add_routes(app, playground))
        yield playground
    finally:
        await playground.close()


async def _serve(database_url: str, port: int, *, open_browser: bool, started: float) -> None:
    async with running(database_url, port) as playground:
        url = f"http://127.0.0.1:{playground.port}/"
        print(
            f"Shiplog playground ready in {time.monotonic() - started:.1f} s: open {url}\n"
            "A pretend server with the real bot behind it; nothing leaves this machine. Ctrl-C stops it.",
            flush=True,
        )
        if open_browser:
            # Where no browser exists this does nothing (or opens a text one): the URL is printed anyway.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(webbrowser.open, url)
        await asyncio.Event().wait()


def main(port: int, *, open_browser: bool = True) -> int:
    """Run the playground until Ctrl-C, on a fresh SQLite file that is deleted at the end."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shiplog-playground-") as folder:
        url = database_url(Path(folder))
        upgrade(url)
        try:
            asyncio.run(_serve(url, port, open_browser=open_browser, started=started))
        except KeyboardInterrupt:
            pass
        except OSError as exc:
            print(f"shiplog playground: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    return 0
