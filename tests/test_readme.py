"""CI proves the README: the test command it shows is the one .ci/run runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text(), flags=re.DOTALL)


def test_readme_starts_with_install_and_test_commands() -> None:
    install, test = readme_commands()[:2]
    assert "shiplog run" in install
    assert "DISCORD_TOKEN" in install
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci


def test_env_example_and_readme_table_list_every_setting() -> None:
    source = (ROOT / "bot" / "config.py").read_text()
    used = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    example = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE))
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", (ROOT / "README.md").read_text(), flags=re.MULTILINE))
    assert used == example == table
