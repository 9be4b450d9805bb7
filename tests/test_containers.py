"""The container files, read as Docker would read them (no Docker daemon is needed, none is used).

What this cannot check: that the image builds and compose starts, which needs a daemon and the
network to pull python:3.11-slim and postgres:16.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from bot.bot import STOP_GRACE_SECONDS
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SET_BY_THE_CONTAINER = {"DATABASE_URL", "HTTP_HOST", "HTTP_PORT"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def variables(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_]+)=(.*)$", path.read_text(), flags=re.MULTILINE))


def test_compose_runs_the_bot_on_postgresql_16_with_a_named_volume_and_healthchecks() -> None:
    spec = compose()
    db, bot = spec["services"]["db"], spec["services"]["bot"]
    assert db["image"] == "postgres:16"
    volume = db["volumes"][0].split(":")
    assert volume == ["pgdata", "/var/lib/postgresql/data"] and "pgdata" in spec["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"}}
    env = bot["environment"]
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://shiplog:${POSTGRES_PASSWORD}@db:5432/shiplog")
    assert db["environment"]["POSTGRES_USER"] == "shiplog" and db["environment"]["POSTGRES_DB"] == "shiplog"
    assert env["HTTP_HOST"] == "0.0.0.0"  # noqa: S104
    probe = " ".join(bot["healthcheck"]["test"])
    assert f"http://127.0.0.1:{env['HTTP_PORT']}/healthz" in probe
    assert bot["ports"] == [f"127.0.0.1:{env['HTTP_PORT']}:{env['HTTP_PORT']}"]
    assert bot["env_file"] == ".env"
    # The stop drains for STOP_GRACE_SECONDS, then hands back and closes, before docker's SIGKILL.
    assert int(bot["stop_grace_period"].rstrip("s")) > STOP_GRACE_SECONDS


def test_env_docker_example_sets_everything_but_what_the_container_decides() -> None:
    source = (ROOT / "bot" / "config.py").read_text()
    settings = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    example = variables(ROOT / ".env.docker.example")
    assert set(example) == (settings - SET_BY_THE_CONTAINER) | {"POSTGRES_PASSWORD"}
    # Its values, with a token, are a valid configuration (empty means the default).
    values = {k: v for k, v in example.items() if k != "POSTGRES_PASSWORD"} | {"DISCORD_TOKEN": "x" * 60}
    Settings.from_env(values)


def test_the_image_installs_asyncpg_and_keeps_its_own_database_and_address() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    # The build stage's own command lists the requirements it builds wheels for: run it here.
    command = re.search(r'RUN python -c "(.+?)" > requirements.txt', dockerfile).group(1)
    requirements = subprocess.run(  # noqa: S603
        [sys.executable, "-c", command], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert any(line.startswith("asyncpg") for line in requirements)
    assert 'pip install --no-cache-dir --no-index --find-links=/wheels "shiplog[postgres]"' in dockerfile
    assert "DATABASE_URL=sqlite+aiosqlite:////data/shiplog.db" in dockerfile
    assert "HTTP_HOST=0.0.0.0" in dockerfile
    assert "/healthz" in dockerfile
    assert "VOLUME /data" in dockerfile


def test_the_docs_show_compose_and_which_env_file_to_use() -> None:
    readme = (ROOT / "README.md").read_text()
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert "docker compose up" in operations
    assert "cp .env.docker.example .env" in operations
    # The README says which example to copy, and links to the page with the commands.
    assert "**`.env.docker.example`** for Docker" in readme
    assert "](docs/operations.md)" in readme
