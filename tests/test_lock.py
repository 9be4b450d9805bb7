"""requirements/dev.txt, the lock CI installs from, pins everything pyproject.toml asks for, within its bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "dev.txt"
RECOMPILE = "pip-compile --extra dev --extra postgres --generate-hashes"


def pins() -> dict[str, str]:
    """Return each locked package's version, checking that every pin carries its hashes."""
    text = LOCK.read_text()
    hashed = re.findall(r"^([A-Za-z0-9._-]+)==([^\s\\]+) \\\n\s+--hash=sha256:", text, flags=re.MULTILINE)
    assert len(hashed) == len(re.findall(r"^[A-Za-z0-9._-]+==", text, flags=re.MULTILINE)), "a pin has no hash"
    return {canonicalize_name(name): version for name, version in hashed}


def test_the_lock_pins_every_declared_dependency_within_its_bounds() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    declared += project["optional-dependencies"]["postgres"]
    locked = pins()
    assert {"sqlalchemy", "discord-py", "aiohttp", "pytest-timeout", "asyncpg", "greenlet"} <= set(locked)
    for line in declared:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        # A dependency added to pyproject.toml without recompiling the lock fails here.
        assert name in locked, f"{name} is not in {LOCK.name}: run `{RECOMPILE}` (see CONTRIBUTING.md)"
        assert requirement.specifier.contains(locked[name]), f"{name}=={locked[name]} is outside {requirement}"
    # The command pip-compile records at the top (as --extra=dev) is the one CONTRIBUTING.md gives.
    header = " ".join(line for line in LOCK.read_text().splitlines()[:8] if line.startswith("#")).replace("=", " ")
    assert all(option in header for option in ("--extra dev", "--extra postgres", "--generate-hashes")), header
