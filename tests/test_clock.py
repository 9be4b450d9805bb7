"""Code takes "now" from the injected clock: no service, cog or bot module reads the wall clock.

The bot's clock is `Shiplog.now` (the `clock` it is built with); services take `now` as an argument
and never fall back to the wall clock when it is missing. The tests pin that clock, so the suite
passes at any instant (`SHIPLOG_TEST_NOW`, see CONTRIBUTING.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = [
    *sorted((ROOT / "bot" / "services").rglob("*.py")),
    *sorted((ROOT / "cogs").glob("*.py")),
    *sorted((ROOT / "bot" / "workers").glob("*.py")),
    *(ROOT / "bot" / name for name in ("bot.py", "web.py", "public_page.py", "health.py", "tree.py")),
]
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"), ("time", "time")}
WALL_CLOCK_FUNCTIONS = {"utcnow", "_utcnow"}
# Where the wall clock is meant, and why.
ALLOWED = {
    # GitHub's rate-limit resets are epochs of GitHub's real clock: they are waited for in real time.
    ("bot/services/github/api.py", "_utcnow"),
    # APScheduler keeps real time: the first retention pass is a few real minutes after the start.
    ("bot/workers/scheduler.py", "start"),
    ("bot/workers/scheduler.py", "nudge_soon"),
}


def wall_clock_reads(path: Path, root: Path = ROOT) -> list[str]:
    """Return each call that reads the wall clock in `path`, and each `now=None` fallback, with its line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = path.relative_to(root).as_posix()
    found: list[str] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
            arguments = node.args.args + node.args.kwonlyargs
            defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults
            defaults += node.args.kw_defaults
            for argument, default in zip(arguments, defaults, strict=True):
                if argument.arg == "now" and isinstance(default, ast.Constant) and default.value is None:
                    found.append(f"{relative}:{node.lineno} {function}(now=None): a caller may skip the clock")
        if isinstance(node, ast.Call) and (relative, function) not in ALLOWED:
            callee = node.func
            if (
                isinstance(callee, ast.Attribute)
                and isinstance(callee.value, ast.Name)
                and (callee.value.id, callee.attr) in WALL_CLOCK
            ) or (isinstance(callee, ast.Name) and callee.id in WALL_CLOCK_FUNCTIONS):
                found.append(f"{relative}:{node.lineno} {ast.unparse(node)} in {function}()")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def test_no_service_cog_or_bot_module_reads_the_wall_clock() -> None:
    assert [read for path in CHECKED for read in wall_clock_reads(path)] == []


def test_the_check_finds_a_wall_clock_read_and_a_now_none_fallback(tmp_path: Path) -> None:
    sample = ROOT / "bot" / "services" / "_sample_for_the_clock_test.py"
    sample.write_text("from datetime import UTC, datetime\ndef stamp(now=None):\n    return now or datetime.now(UTC)\n")
    try:
        found = wall_clock_reads(sample)
    finally:
        sample.unlink()
    assert len(found) == 2 and "now=None" in found[0] and "datetime.now(UTC)" in found[1]
