"""Shared wording (bot/services/wording.py): what it says, and that no other module says it its own way."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.services.wording import noun, period_word, periods, plural, streak_words

ROOT = Path(__file__).resolve().parent.parent
WORDING = ROOT / "bot" / "services" / "wording.py"
# "week" if weekly else "day", written out again in any of its spellings.
PERIOD_CHOICE = re.compile(r"""["']weeks?["']\s+if\b|\belse\s+["']days?["']""")


def test_plurals() -> None:
    assert plural(1, "linked member") == "1 linked member"
    assert plural(0, "linked member") == "0 linked members"
    assert plural(1234, "repository", "repositories") == "1,234 repositories"
    assert plural(1, "repository", "repositories") == "1 repository"
    assert noun(2, "kudos", "kudos") == "kudos"
    assert noun(1, "PR") == "PR"


@pytest.mark.parametrize(
    ("cadence", "one", "many", "streak"),
    [("weekly", "week", "weeks", "3-week"), ("daily", "day", "days", "3-day")],
)
def test_periods_and_streak_words(cadence: str, one: str, many: str, streak: str) -> None:
    assert period_word(cadence) == one
    assert periods(1, cadence) == one
    assert periods(0, cadence) == periods(2, cadence) == many
    assert streak_words(3, cadence) == streak


def _modules() -> list[Path]:
    return [path for folder in ("bot", "cogs") for path in sorted((ROOT / folder).rglob("*.py")) if path != WORDING]


def test_no_module_but_wording_chooses_week_or_day() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _modules()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PERIOD_CHOICE.search(line)
    ]
    assert found == [], "say the period with wording.period_word / periods / streak_words:\n" + "\n".join(found)


def test_no_module_but_wording_defines_a_pluraliser() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.name}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "plural" in node.name.lower()
    ]
    assert found == [], "use wording.plural / noun:\n" + "\n".join(found)


def test_the_checks_see_what_they_look_for() -> None:
    # The checks above pass on an empty tree too: make sure they would see a copy.
    assert PERIOD_CHOICE.search("""unit = "week" if cadence == "weekly" else "day\"""")
    assert PERIOD_CHOICE.search("""f"{length}-{'week' if cadence == 'weekly' else 'day'}\"""")
    assert len(_modules()) > 50
    assert WORDING.exists()
