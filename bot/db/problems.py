"""One line, naming the fix, for each way the database can refuse a start (never the password)."""

from __future__ import annotations

import importlib
import socket
import sqlite3

from sqlalchemy.engine import make_url

from bot.config import safe_url


def missing_driver(url: str) -> str | None:
    """Return why `url`'s driver cannot be loaded (asyncpg for PostgreSQL), or None when it can."""
    driver = make_url(url).drivername
    if driver != "postgresql+asyncpg":
        return None
    try:
        importlib.import_module("asyncpg")
    except ImportError:
        return (
            "DATABASE_URL is a PostgreSQL URL, but its driver asyncpg is not installed: "
            "pip install 'shiplog[postgres]' (the Docker image has it)."
        )
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def describe(exc: BaseException, url: str) -> str:
    """Return one line saying why the database at `url` could not be used, and what to do."""
    parsed = make_url(url)
    where = safe_url(url)
    causes = _causes(exc)
    names = {type(cause).__name__ for cause in causes}
    if parsed.drivername.startswith("sqlite"):
        if any(isinstance(cause, TimeoutError) for cause in causes):
            # A TimeoutError is an OSError too, but the file opened: something held it too long.
            return (
                f"the SQLite database {parsed.database} did not answer in time: another process may be "
                "holding it (a long write, a backup); it is retried on the next request."
            )
        for cause in causes:
            if (isinstance(cause, sqlite3.OperationalError) and "unable to open" in str(cause)) or (
                isinstance(cause, OSError)
            ):
                return (
                    f"cannot open the SQLite file {parsed.database}: make sure its folder exists (or can be "
                    "created) and this user may write there, or change DATABASE_URL."
                )
        last = next((c for c in causes if isinstance(c, sqlite3.Error)), exc)
        return f"the SQLite database {parsed.database} failed: {_first_line(last)}: check the file or DATABASE_URL."
    host = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    if names & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return f"the database at {where} refused the login: check the user and password in DATABASE_URL."
    if "InvalidCatalogNameError" in names:
        return f"the database {parsed.database!r} does not exist on {host}: create it (createdb), or fix DATABASE_URL."
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            return f"cannot find the database host {parsed.host!r}: fix the host in DATABASE_URL ({where})."
        if isinstance(cause, ConnectionRefusedError | TimeoutError) or (
            isinstance(cause, OSError) and "Connect call failed" in str(cause)
        ):
            reason = "timed out" if isinstance(cause, TimeoutError) else "connection refused"
            return (
                f"cannot connect to the database at {where} ({reason}): start PostgreSQL there, "
                "or fix the host and port in DATABASE_URL."
            )
    last = next((c for c in reversed(causes) if c is not exc), exc)
    return f"the database at {where} failed: {_first_line(last)}: check DATABASE_URL and the server's log."
