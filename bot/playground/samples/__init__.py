"""Real GitHub webhook payloads (in `github/`, see its SOURCE.md), deliveries built from them, and their signature.

The tests send these, and so does the playground: they ship with the package. No table is written here.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "github"
_UNSET: Any = object()


@cache
def load(name: str) -> bytes:
    """Return the raw bytes of a fixture, such as "pull_request/closed.payload.json"."""
    return (FIXTURES / name).read_bytes()


def sign(secret: str, body: bytes) -> str:
    """Return the X-Hub-Signature-256 header GitHub would send for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def merged_pr_payload(
    *,
    number: int | None = None,
    title: str | None = None,
    body: str | None = _UNSET,
    user_login: str | None = None,
    user_id: int | None = None,
    user_type: str | None = None,
    repo: str | None = None,
    merged_at: str | None = None,
    labels: tuple[str, ...] = (),
) -> bytes:
    """Return a `pull_request` "closed" delivery whose pull request was merged, with the given changes.

    `labels` are added to the fixture's (`bug`).

    By default the PR is merged into octo-org/Hello-World: a merge into the author's own repository
    (the fixture's Codertocat/Hello-World) is not celebrated unless the server asks for it.
    """
    repo = repo or "octo-org/Hello-World"
    payload = json.loads(load("pull_request/closed.payload.json"))
    pr = payload["pull_request"]
    pr["merged"] = True
    pr["merged_at"] = merged_at or pr["closed_at"]
    pr["merged_by"] = copy.deepcopy(payload["sender"])
    if number is not None:
        payload["number"] = number
        _renumber(pr, number)
    if title is not None:
        pr["title"] = title
    if body is not _UNSET:
        pr["body"] = body
    user = pr["user"]
    if user_login is not None:
        user["login"] = user_login
    if user_id is not None:
        user["id"] = user_id
    if user_type is not None:
        user["type"] = user_type
    if repo is not None:
        owner, _, name = repo.partition("/")
        for repository in (payload["repository"], pr["base"]["repo"]):
            repository["full_name"] = repo
            repository["name"] = name
            repository["owner"]["login"] = owner
            repository["html_url"] = f"https://github.com/{repo}"
    pr["labels"] += [_label(name) for name in labels]
    full_name = payload["repository"]["full_name"]
    pr["html_url"] = f"https://github.com/{full_name}/pull/{pr['number']}"
    return json.dumps(payload, indent=2).encode()


def labeled_pr_payload(
    label: str, *, number: int | None = None, repo: str | None = None, merged_at: str | None = None
) -> bytes:
    """Return a `pull_request` "labeled" delivery: the label `label` given to a pull request that had merged.

    Built from the real `labeled` example (whose pull request is open), merged into
    octo-org/Hello-World by default, as `merged_pr_payload` is.
    """
    repo = repo or "octo-org/Hello-World"
    payload = json.loads(load("pull_request/labeled.payload.json"))
    pr = payload["pull_request"]
    payload["label"] = _label(label)
    pr["labels"].append(_label(label))
    pr["state"] = "closed"
    pr["merged"] = True
    pr["merged_at"] = pr["closed_at"] = merged_at or "2019-05-15T15:21:18Z"
    if number is not None:
        payload["number"] = number
        _renumber(pr, number)
    _move_repository(payload, repo)
    owner, _, name = repo.partition("/")
    base = pr["base"]["repo"]
    base["full_name"], base["name"], base["owner"]["login"] = repo, name, owner
    pr["html_url"] = f"https://github.com/{repo}/pull/{pr['number']}"
    return json.dumps(payload, indent=2).encode()


def _label(name: str) -> dict[str, Any]:
    """Return a label as GitHub's payloads show one."""
    return {
        "id": 1000 + len(name),
        "node_id": f"LA_{name}",
        "url": "",
        "name": name,
        "color": "e4e669",
        "default": False,
    }


def _renumber(item: dict[str, Any], number: int) -> None:
    """Make the fixture's issue or pull request number `number`, with ids of its own.

    GitHub gives every issue and pull request its own `id` and `node_id`, and Shiplog tells them
    apart by it (a relay is queued once per item id): a sample that kept the fixture's id for a new
    number would be taken for the same pull request again. The ids follow the number, so the same
    number is the same item and a new number a new one.
    """
    item["number"] = number
    item["id"] = item["id"] + number
    item["node_id"] = f"{item['node_id']}{number}"


def _move_repository(payload: dict[str, Any], repo: str) -> None:
    owner, _, name = repo.partition("/")
    repository = payload["repository"]
    repository["full_name"] = repo
    repository["name"] = name
    repository["owner"]["login"] = owner
    repository["html_url"] = f"https://github.com/{repo}"


def issue_payload(*, number: int, title: str, repo: str | None = None) -> bytes:
    """Return an `issues` "opened" delivery for issue `number` called `title` (in octo-org/Hello-World by default)."""
    repo = repo or "octo-org/Hello-World"
    payload = json.loads(load("issues/opened.payload.json"))
    _move_repository(payload, repo)
    issue = payload["issue"]
    _renumber(issue, number)
    issue["title"] = title
    issue["html_url"] = f"https://github.com/{repo}/issues/{number}"
    issue["url"] = f"https://api.github.com/repos/{repo}/issues/{number}"
    return json.dumps(payload, indent=2).encode()
