"""CI proves the README: the test command it shows is the one .ci/run runs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
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
    # From the lock, with hashes; the project itself without resolving anything again.
    assert "pip install -q -r requirements/dev.txt" in test and "--no-deps -e ." in test


def test_a_hung_test_fails_on_its_own_and_the_rest_still_run(tmp_path: Path) -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert 0 < options["timeout"] <= 300
    (tmp_path / "test_hang.py").write_text(
        "import asyncio\nasync def test_hangs():\n    await asyncio.sleep(3600)\ndef test_after():\n    pass\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto", "-o", "timeout=1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Timeout (>1.0s)" in run.stdout and "1 failed, 1 passed" in run.stdout, run.stdout


def test_env_example_and_readme_table_list_every_setting() -> None:
    source = (ROOT / "bot" / "config.py").read_text()
    used = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    example = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE))
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", (ROOT / "README.md").read_text(), flags=re.MULTILINE))
    assert used == example == table
