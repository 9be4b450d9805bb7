"""Every way a start can fail prints one line that names the fix: real `shiplog` processes, LOG_LEVEL=WARNING."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.playground.fake_discord import FakeDiscord
from tests.shiplog_process import URL_VARIABLE, environment, free_port, shiplog_process
from tests.test_config import TOKEN


def start(tmp_path: Path, *args: str, code: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `shiplog ARGS` (through tests.shiplog_process, or the Python `code` given) to its end."""
    command = ["-c", code] if code is not None else ["-m", "tests.shiplog_process", *args]
    values = {
        "DISCORD_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/shiplog.db",
        "HTTP_PORT": "0",
        "LOG_LEVEL": "WARNING",
        # Discord is never the real one: a closed loopback port unless the test says otherwise.
        URL_VARIABLE: f"http://127.0.0.1:{free_port()}",
    } | env
    return subprocess.run(  # noqa: S603
        [sys.executable, *command],
        cwd=tmp_path,
        env=environment(**values),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """Return the one line the failed start printed, checking there was exactly one and no traceback."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_port_in_use_names_the_variable(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for command in ("run", "web"):
            line = one_line(start(tmp_path, command, HTTP_PORT=str(port)))
            assert f"HTTP_PORT {port} on 127.0.0.1 is in use by another program" in line
            assert "set HTTP_PORT to a free port" in line


def test_discord_unreachable_says_to_check_the_network(tmp_path: Path) -> None:
    line = one_line(start(tmp_path, "run"))
    assert "cannot reach Discord" in line
    assert "check this machine's network, DNS and proxy" in line


def test_asyncpg_missing_for_a_postgresql_url_says_what_to_install(tmp_path: Path) -> None:
    # sys.modules[name] = None is how Python itself blocks an import: asyncpg is "not installed".
    code = "import sys; sys.modules['asyncpg'] = None; from bot.cli import main; raise SystemExit(main(['{}']))"
    for command in ("run", "web", "migrate"):
        line = one_line(
            start(tmp_path, code=code.format(command), DATABASE_URL="postgresql+asyncpg://u:secret-pw@db/shiplog")
        )
        assert "asyncpg is not installed: pip install 'shiplog[postgres]'" in line
        assert "secret-pw" not in line


@pytest.mark.skipif(importlib.util.find_spec("asyncpg") is None, reason="needs asyncpg, the PostgreSQL driver")
def test_a_database_that_refuses_the_connection_is_named_without_its_password(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql+asyncpg://shiplog:secret-pw@127.0.0.1:{port}/shiplog"
    for command in ("run", "migrate"):
        line = one_line(start(tmp_path, command, DATABASE_URL=url))
        assert f"cannot connect to the database at postgresql+asyncpg://shiplog:***@127.0.0.1:{port}/shiplog" in line
        assert "connection refused" in line
        assert "secret-pw" not in line


def test_a_sqlite_file_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    line = one_line(start(tmp_path, "run", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/a-file/shiplog.db"))
    assert f"cannot open the SQLite file {tmp_path}/a-file/shiplog.db" in line


def test_web_refuses_a_database_that_is_not_migrated(tmp_path: Path) -> None:
    line = one_line(start(tmp_path, "web"))
    assert "the database is at migration none" in line
    assert "run `shiplog migrate`" in line


def test_check_creates_no_files(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/data/shiplog.db"
    result = start(tmp_path, "check", DATABASE_URL=url)
    # `shiplog run` creates and migrates it: a note, not a failure (the check used to fail here).
    assert result.returncode == 0, result.stdout
    assert f"! the SQLite file {tmp_path}/data/shiplog.db does not exist yet" in result.stdout
    assert "run `shiplog migrate`" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# With a PostgreSQL server (TEST_DATABASE_URL, as .ci/run gives): what only PostgreSQL can refuse.
POSTGRES = os.environ.get("TEST_DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(
    not POSTGRES or importlib.util.find_spec("asyncpg") is None, reason="needs TEST_DATABASE_URL and asyncpg"
)


@needs_postgres
def test_postgresql_refusing_the_login_is_one_line(tmp_path: Path) -> None:
    url = make_url(POSTGRES)
    wrong = url.set(password="not-the-password").render_as_string(hide_password=False)
    result = start(tmp_path, "migrate", DATABASE_URL=wrong)
    if result.returncode == 0:
        pytest.skip("this PostgreSQL server trusts loopback logins (as .ci/postgres's does): no password to refuse")
    line = one_line(result)
    assert "refused the login: check the user and password in DATABASE_URL" in line
    assert "not-the-password" not in line


@needs_postgres
def test_postgresql_missing_the_database_is_one_line(tmp_path: Path) -> None:
    url = make_url(POSTGRES)
    missing = url.set(database="no_such_database").render_as_string(hide_password=False)
    line = one_line(start(tmp_path, "migrate", DATABASE_URL=missing))
    assert "the database 'no_such_database' does not exist" in line


@needs_postgres
def test_a_fleet_starting_together_migrates_once(tmp_path: Path) -> None:
    # A database of its own, unmigrated: three `shiplog migrate` at once, as a fleet's `shiplog run`s do.
    url = make_url(POSTGRES)
    name = f"shiplog_race_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    async def ddl(statement: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(ddl(f'CREATE DATABASE "{name}"'))
    try:
        target = url.set(database=name).render_as_string(hide_password=False)
        command = [sys.executable, "-m", "tests.shiplog_process", "migrate"]
        env = environment(DATABASE_URL=target, LOG_LEVEL="WARNING")
        processes = [
            subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)  # noqa: S603
            for _ in range(3)
        ]
        results = [(p.wait(60), p.stderr.read()) for p in processes if p.stderr is not None]
        assert results == [(0, "")] * 3
    finally:
        asyncio.run(ddl(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def test_a_token_discord_refuses_says_to_copy_it_again(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/shiplog.db", "HTTP_PORT": "0", "LOG_LEVEL": "WARNING"}
        with shiplog_process(["run"], tmp_path, DISCORD_TOKEN=TOKEN, **env, **{URL_VARIABLE: fake.base_url}) as bot:
            assert await bot.wait(30) == 1
        lines = bot.output.strip().splitlines()
        assert len(lines) == 1, bot.output
        assert "Discord refused DISCORD_TOKEN: copy the bot token again from the developer portal" in lines[0]


async def test_members_intent_refused_by_the_portal_says_where_to_turn_it_on(tmp_path: Path) -> None:
    async with FakeDiscord(privileged_intents=()) as fake:  # no privileged intent enabled in the portal
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/shiplog.db", "HTTP_PORT": "0", "LOG_LEVEL": "WARNING"}
        with shiplog_process(
            ["run"], tmp_path, DISCORD_TOKEN=fake.token, MEMBERS_INTENT="true", **env, **{URL_VARIABLE: fake.base_url}
        ) as bot:
            assert await bot.wait(30) == 1
        lines = bot.output.strip().splitlines()
        assert len(lines) == 1, bot.output
        assert "Discord refused the Server Members intent that MEMBERS_INTENT=true asks for" in lines[0]
        assert "Privileged Gateway Intents" in lines[0]
