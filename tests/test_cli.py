"""The `shiplog` command as an operator meets it: clear lines, right exit codes, no tracebacks."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import ON_POSTGRES
from tests.test_config import TOKEN

ROOT = Path(__file__).resolve().parent.parent


def shiplog(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "DATABASE_URL", "DEV_GUILD_ID"}}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", *args], cwd=cwd, env=base | env, capture_output=True, text=True, timeout=60, check=False
    )


def test_run_without_token_stops_with_one_clear_line(tmp_path: Path) -> None:
    result = shiplog(["bot"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "DISCORD_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_port_in_dotenv_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nHTTP_PORT=http\n")
    result = shiplog(["bot.cli", "run"], tmp_path)
    assert result.returncode == 2
    assert "HTTP_PORT must be a whole number" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_of_a_database_sqlite_cannot_open_prints_one_line_and_nothing_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "a-folder").mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path}/a-folder"  # a folder: it exists, and sqlite3 cannot open it
    for _ in range(3):  # the thread's death was a race, lost about 3 times in 5
        result = shiplog(["bot.cli", "check"], tmp_path, DISCORD_TOKEN=TOKEN, DATABASE_URL=url)
        assert result.returncode == 1
        assert "DATABASE_URL: cannot open the SQLite file" in result.stdout
        # No aiosqlite worker thread dying with "Event loop is closed" once the check's loop has closed.
        assert result.stderr == "", result.stderr


def test_migrate_then_check(tmp_path: Path, empty_db_url: str) -> None:
    url = empty_db_url  # on SQLite, a file in a folder that migrate creates
    before = shiplog(["bot.cli", "check"], tmp_path, DISCORD_TOKEN=TOKEN, DATABASE_URL=url)
    # `shiplog run` creates and migrates the database by itself: the check notes it, and passes.
    assert before.returncode == 0, before.stdout
    assert "`shiplog run` applies them when it starts (or run `shiplog migrate`)" in before.stdout

    migrated = shiplog(["bot.cli", "migrate"], tmp_path, DATABASE_URL=url)
    assert migrated.returncode == 0, migrated.stderr
    if not ON_POSTGRES:
        assert (tmp_path / "nested" / "empty.db").exists()

    after = shiplog(["bot.cli", "check"], tmp_path, DISCORD_TOKEN=TOKEN, DATABASE_URL=url)
    assert after.returncode == 0, after.stdout
    assert "look good" in after.stdout
    assert "GITHUB_WEBHOOK_SECRET is not set: POST /github/webhook refuses every delivery" in after.stdout

    with_secret = shiplog(
        ["bot.cli", "check"], tmp_path, DISCORD_TOKEN=TOKEN, DATABASE_URL=url, GITHUB_WEBHOOK_SECRET="s3cret"
    )
    assert with_secret.returncode == 0
    assert "GITHUB_WEBHOOK_SECRET" not in with_secret.stdout
    # The radar's settings: where it searches, how often, and what the budget allows.
    assert "radar: a pass every 300 s against https://api.github.com, without GITHUB_TOKEN" in with_secret.stdout
    enterprise = shiplog(
        ["bot.cli", "check"],
        tmp_path,
        DISCORD_TOKEN=TOKEN,
        DATABASE_URL=url,
        GITHUB_TOKEN="ghp_x",
        GITHUB_POLL_SECONDS="60",
        GITHUB_API_URL="https://github.example.com/api/v3/",
    )
    assert enterprise.returncode == 0, enterprise.stdout
    assert "a pass every 60 s against https://github.example.com/api/v3, with GITHUB_TOKEN" in enterprise.stdout
    # With a token merges are read from GraphQL, beside the REST API on GitHub Enterprise Server.
    assert "GraphQL API at https://github.example.com/api/graphql, 100 members a query" in enterprise.stdout
    too_fast = shiplog(["bot.cli", "check"], tmp_path, DISCORD_TOKEN=TOKEN, DATABASE_URL=url, GITHUB_POLL_SECONDS="2")
    assert too_fast.returncode == 1
    assert "GITHUB_POLL_SECONDS must be 5 or more" in too_fast.stdout


def test_check_passes_on_a_fresh_checkout_and_creates_nothing(tmp_path: Path) -> None:
    """No .env but a token, no data/ folder: `shiplog run` would start, so the check passes."""
    result = shiplog(["bot.cli", "check"], tmp_path, DISCORD_TOKEN=TOKEN)
    assert result.returncode == 0, result.stdout
    assert "! the SQLite file data/shiplog.db does not exist yet, the code needs migration" in result.stdout
    assert "✓ configuration and database look good" in result.stdout
    assert list(tmp_path.iterdir()) == []  # looking created no folder and no file
    (tmp_path / "data").write_text("a file where the folder should be")
    blocked = shiplog(["bot.cli", "check"], tmp_path, DISCORD_TOKEN=TOKEN)
    assert blocked.returncode == 1
    assert "the SQLite file data/shiplog.db cannot be created: data is a file, not a folder" in blocked.stdout


def test_check_refuses_hosts_ports_and_urls_that_cannot_work(tmp_path: Path) -> None:
    for variable, value in [
        ("HTTP_HOST", "999.1.1.1"),
        ("HTTP_HOST", "my host"),
        ("GITHUB_API_URL", "https://999.1.1.1/api"),
        ("GITHUB_API_URL", "https://github.example.com:99999"),
        ("PUBLIC_URL", "https://shiplog..example.com"),
        ("DATABASE_URL", "postgresql+asyncpg://shiplog@db:port/shiplog"),
        ("DATABASE_URL", "postgresql+asyncpg://shiplog@db:70000/shiplog"),
        ("DATABASE_URL", "postgresql+asyncpg://shiplog@999.1.1.1/shiplog"),
    ]:
        result = shiplog(["bot.cli", "check"], tmp_path, DISCORD_TOKEN=TOKEN, **{variable: value})
        assert result.returncode == 1, (variable, value, result.stdout)
        assert f"✗ {variable}" in result.stdout, (variable, value, result.stdout)
        assert "Traceback" not in result.stdout + result.stderr


def test_check_refuses_a_database_migrated_by_a_newer_version(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/newer.db"
    assert shiplog(["bot.cli", "migrate"], tmp_path, DATABASE_URL=url).returncode == 0
    with sqlite3.connect(tmp_path / "newer.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    result = shiplog(["bot.cli", "check"], tmp_path, DISCORD_TOKEN=TOKEN, DATABASE_URL=url)
    assert result.returncode == 1
    assert "database is at migration 9999, which this version of Shiplog does not know" in result.stdout


def test_check_lists_every_problem(tmp_path: Path, empty_db_url: str) -> None:
    result = shiplog(["bot.cli", "check"], tmp_path, DATABASE_URL=empty_db_url)
    assert result.returncode == 1
    assert "DISCORD_TOKEN is not set" in result.stdout
    assert "shiplog migrate" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_migrate_at_info_says_what_it_applies_and_nothing_else(tmp_path: Path) -> None:
    result = shiplog(["bot.cli", "migrate"], tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/s.db")
    assert result.returncode == 0, result.stderr
    assert "Running upgrade  -> 0001" in result.stderr
    for chatter in ("setup plugin", "Context impl", "Will assume"):
        assert chatter not in result.stderr
    debug = shiplog(
        ["bot.cli", "migrate"], tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/d.db", LOG_LEVEL="DEBUG"
    )
    assert "setup plugin" in debug.stderr  # still there when debugging


def test_version() -> None:
    result = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).parent / "shiplog"), "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert re.fullmatch(r"shiplog \d+\.\d+\.\d+\S*\n", result.stdout)


def test_python_dash_m_bot_is_the_shiplog_command_with_its_arguments(tmp_path: Path, unreachable_db_url: str) -> None:
    """`python -m bot ARGS` does what `shiplog ARGS` does: `check` and `--help` never migrate or log in.

    The database cannot be reached and the token looks real: a `run` would try to migrate (and then
    log in to Discord), which `check` and `--help` must never do.
    """
    env = {"DISCORD_TOKEN": TOKEN, "DATABASE_URL": unreachable_db_url}
    for args in (["check"], ["--help"], ["--version"], ["migrate", "--help"]):
        module, console = shiplog(["bot", *args], tmp_path, **env), shiplog(["bot.cli", *args], tmp_path, **env)
        assert (module.returncode, module.stdout, module.stderr) == (console.returncode, console.stdout, console.stderr)
        assert "could not migrate" not in module.stderr and "Discord" not in module.stderr, args
    check = shiplog(["bot", "check"], tmp_path, **env)
    assert check.returncode == 1 and check.stdout.startswith("✗ ") and "look good" not in check.stdout
    helped = shiplog(["bot", "--help"], tmp_path, **env)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: shiplog")
