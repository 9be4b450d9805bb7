"""Each rule about what comes from GitHub lives in one place: no code path reads around it.

The behaviour is tested end to end elsewhere (test_e2e_radar, test_e2e_github, test_github_api,
test_pages); these tests read the source, so a new path that skips the rule fails here, not in
front of members.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RATE_HEADERS = {
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "retry-after",
}


def sources() -> Iterator[tuple[str, ast.Module]]:
    """Every module of the application and its cogs (the playground's fakes play GitHub: not them)."""
    for path in sorted([*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("cogs").glob("*.py")]):
        name = path.relative_to(ROOT).as_posix()
        if not name.startswith("bot/playground/"):
            yield name, ast.parse(path.read_text(encoding="utf-8"), filename=name)


def functions_around(tree: ast.Module) -> dict[ast.AST, str]:
    """Map every node to the name of the innermost function holding it ("" at module level)."""
    where: dict[ast.AST, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else name
            where[child] = inner
            visit(child, inner)

    visit(tree, "")
    return where


def reads_of(tree: ast.Module, keys: set[str]) -> Iterator[tuple[ast.AST, str]]:
    """Yield `x.get("key", ...)` and `x["key"]` reads of these keys (lower-cased)."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).lower() in keys
        ):
            yield node, str(node.args[0].value).lower()
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)  # what Shiplog sets on its own answers is no read
            and isinstance(node.slice, ast.Constant)
            and str(node.slice.value).lower() in keys
        ):
            yield node, str(node.slice.value).lower()


@pytest.mark.slow
def test_every_link_read_from_github_goes_through_safe_url() -> None:
    checked = []
    for name, tree in sources():
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node, _ in reads_of(tree, {"html_url"}):
            call = parents.get(node)
            through = (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id == "safe_url"
                and call.args[:1] == [node]
            )
            assert through, f"{name}:{node.lineno} reads html_url without urls.safe_url"
            checked.append(name)
    # The paths the rule covers: search items and users (api), webhook merges and relays (events).
    assert {"bot/services/github/api.py", "bot/services/github/events.py"} <= set(checked)


@pytest.mark.slow
def test_rate_limit_headers_are_read_only_by_read_rate_headers() -> None:
    for name, tree in sources():
        where = functions_around(tree)
        for node, key in reads_of(tree, RATE_HEADERS):
            allowed = name == "bot/services/github/ratelimits.py" and where[node] in (
                "read_rate_headers",
                "rate_limit_error",
            )
            assert allowed, f"{name}:{node.lineno} reads {key} outside read_rate_headers"


@pytest.mark.slow
def test_logins_of_links_are_written_only_by_links_follow_login() -> None:
    # `login_lower` is what the unique (guild, login_lower) holds: a write anywhere else could collide.
    writers = set()
    for name, tree in sources():
        where = functions_around(tree)
        for node in ast.walk(tree):
            writes = (isinstance(node, ast.keyword) and node.arg == "login_lower") or (
                isinstance(node, ast.Attribute) and node.attr == "login_lower" and isinstance(node.ctx, ast.Store)
            )
            if writes:
                writers.add((name, where[node]))
    # _store inserts a new link, after follow_login has made way for its login.
    assert writers == {("bot/services/github/links.py", "follow_login"), ("bot/services/github/links.py", "_store")}
