"""`shiplog playground`: the real bot on a pretend server, in one process, with no token and no network."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sys
import tempfile
import time
import webbrowser
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

from bot.db.migrate import upgrade
from bot.playground.page import add_routes
from bot.playground.world import Playground
from bot.signals import signals_deferred, stop_signals
from bot.web import PortInUse

log = logging.getLogger(__name__)


def database_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'playground.db'}"


@contextlib.asynccontextmanager
async def running(database_url: str, port: int, *, start: datetime | None = None) -> AsyncIterator[Playground]:
    """Start the playground on an already migrated database, its clock at `start` (default: now); stop it on exit."""
    playground = Playground(database_url=database_url, port=port, start=start)
    try:
        await playground.start(lambda app: add_routes(app, playground))
        yield playground
    finally:
        await playground.close()


async def _serve(database_url: str, port: int, *, open_browser: bool, started: float) -> None:
    stop = asyncio.Event()
    # SIGTERM (a service manager, `kill`) stops it as Ctrl-C does: through the same way out, so the
    # temporary database is deleted either way (a signal left to its default kills at once).
    with contextlib.ExitStack() as handlers:
        # Windows has no loop signal handlers: there Ctrl-C arrives as KeyboardInterrupt, as before.
        with contextlib.suppress(NotImplementedError):
            handlers.enter_context(stop_signals(lambda _sig: stop.set()))
        await _serve_until(stop, database_url, port, open_browser=open_browser, started=started)


async def _serve_until(
    stop: asyncio.Event, database_url: str, port: int, *, open_browser: bool, started: float
) -> None:
    async with running(database_url, port) as playground:
        url = f"http://127.0.0.1:{playground.port}/"
        print(
            f"Shiplog playground ready in {time.monotonic() - started:.1f} s: open {url}\n"
            "A pretend server with the real bot behind it; nothing leaves this machine. Ctrl-C stops it."
            + (f"\nIts community page: {playground.community_url}" if playground.community_url else ""),
            flush=True,
        )
        if open_browser and _has_desktop():
            with contextlib.suppress(Exception):  # no browser after all: the address is printed
                await asyncio.to_thread(webbrowser.open, url)
        await stop.wait()


def _in_use(exc: BaseException) -> bool:
    return "in use" in str(exc) or getattr(exc, "errno", None) == errno.EADDRINUSE


def _has_desktop() -> bool:
    """Whether a graphical browser can open: without a display, `webbrowser` would start a text
    browser (lynx, w3m) in this terminal, on top of the playground's output."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class _NoVoiceWarning(logging.Filter):
    """The playground has no voice: discord.py's warning that voice is unsupported is no news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


def main(port: int, *, open_browser: bool = True) -> int:
    """Run the playground until Ctrl-C or SIGTERM, on a fresh SQLite file that is deleted at the end."""
    if not 0 <= port <= 65535:
        print(f"shiplog playground: --port must be between 0 and 65535, not {port}.", file=sys.stderr)
        return 2
    started = time.monotonic()
    logging.getLogger("discord.client").addFilter(_NoVoiceWarning())
    with tempfile.TemporaryDirectory(prefix="shiplog-playground-") as folder:
        url = database_url(Path(folder))
        with signals_deferred() as received:  # a signal while migrating stops it after, still cleaning up
            upgrade(url)
        if received:
            return 0
        try:
            asyncio.run(_serve(url, port, open_browser=open_browser, started=started))
        except KeyboardInterrupt:
            pass
        except (PortInUse, OSError) as exc:
            why = "it is in use by another program" if _in_use(exc) else str(getattr(exc, "strerror", None) or exc)
            print(
                f"shiplog playground: cannot listen on 127.0.0.1:{port}: {why}. Pick another port with --port.",
                file=sys.stderr,
            )
            return 1
    return 0
