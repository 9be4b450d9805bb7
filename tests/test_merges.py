"""The one merge value: what a webhook and a radar search item each read into a `Merge`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.playground.samples import merged_pr_payload
from bot.services.github.api import parse_search_item
from bot.services.github.merges import Merge

MERGED_AT = datetime(2019, 5, 15, 15, 21, 18, tzinfo=UTC)  # the fixture's merged_at
OCTO_ID = 21031067


def webhook(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(merged_pr_payload(**changes))
    return payload


def search_item(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "number": 2,
        "repository_url": "https://api.github.com/repos/octo-org/Hello-World",
        "title": "Update the README with new information.",
        "html_url": "https://github.com/octo-org/Hello-World/pull/2",
        "user": {"login": "Codertocat", "id": OCTO_ID, "type": "User"},
        "body": "Fixes #1",
        "closed_at": "2019-05-15T15:21:18Z",
        "pull_request": {"merged_at": "2019-05-15T15:21:18Z"},
    }
    return raw | changes


def test_a_webhook_and_a_search_item_of_one_merge_read_alike() -> None:
    by_hook = Merge.from_webhook(webhook(body="Fixes #1"))
    item = parse_search_item(search_item())
    assert item is not None
    by_radar = Merge.from_search(item, private=False)
    assert by_hook is not None and by_radar is not None
    same = ("repo", "number", "title", "url", "body", "author_id", "author_login", "merged_at", "private")
    assert {k: getattr(by_hook, k) for k in same} == {k: getattr(by_radar, k) for k in same}
    assert by_hook.repo == "octo-org/hello-world" and by_hook.merged_at == MERGED_AT
    assert (by_hook.source, by_radar.source) == ("webhook", "radar")
    assert by_hook.repo_name == "octo-org/Hello-World"  # as GitHub spells it, for the celebration


@pytest.mark.parametrize(
    ("repository", "private"),
    [({"private": False}, False), ({"private": True}, True), ({}, True), ({"private": "false"}, True)],
    ids=["public", "private", "unsaid", "not-a-bool"],
)
def test_only_a_webhook_that_says_private_false_is_public(repository: dict[str, Any], private: bool) -> None:
    payload = webhook()
    payload["repository"] = {"full_name": "octo-org/Hello-World"} | repository
    merge = Merge.from_webhook(payload)
    assert merge is not None and merge.private is private


@pytest.mark.parametrize(
    "user",
    [
        {"login": "dependabot[bot]", "id": 49699333, "type": "Bot"},
        {"login": "renovate[bot]", "id": 29139614, "type": "User"},
        {"login": "helper", "id": 5, "type": "Bot"},
        None,
    ],
    ids=["bot-type", "bot-login", "bot-type-plain-login", "no-author"],
)
def test_a_bots_merge_is_no_merge_on_either_path(user: dict[str, Any] | None) -> None:
    payload = webhook()
    payload["pull_request"]["user"] = user
    assert Merge.from_webhook(payload) is None
    item = parse_search_item(search_item(user=user))
    assert item is not None and Merge.from_search(item, private=False) is None


def test_a_webhook_without_a_repository_is_no_merge_and_one_without_a_number_is_refused() -> None:
    payload = webhook()
    payload["repository"] = {}
    assert Merge.from_webhook(payload) is None
    payload = webhook()
    del payload["pull_request"]["number"]
    with pytest.raises(KeyError):
        Merge.from_webhook(payload)  # the delivery fails: a payload the code cannot handle


def test_an_unsafe_link_is_replaced_and_a_missing_merge_time_falls_back_to_when_it_closed() -> None:
    payload = webhook()
    payload["pull_request"]["html_url"] = "javascript:alert(1)"
    payload["pull_request"]["merged_at"] = None
    merge = Merge.from_webhook(payload)
    assert merge is not None
    assert merge.url == "https://github.com/octo-org/hello-world/pull/2"
    assert merge.merged_at == MERGED_AT  # closed_at: a merged PR closes as it merges
    item = parse_search_item(search_item(pull_request={"merged_at": None}))
    assert item is not None
    found = Merge.from_search(item, private=True)
    assert found is not None and found.merged_at == MERGED_AT and found.private


def test_a_merge_into_the_authors_own_repository_is_told_apart() -> None:
    own = Merge.from_webhook(webhook(repo="Codertocat/Hello-World"))
    other = Merge.from_webhook(webhook())
    assert own is not None and other is not None
    assert own.own_repo and not other.own_repo


@pytest.mark.parametrize("name", ["spam", "invalid", "SPAM", "Invalid", " spam "])
def test_a_pr_labelled_spam_or_invalid_is_no_merge_on_either_path(name: str) -> None:
    label = {"id": 1, "name": name, "color": "e4e669"}
    payload = webhook()
    payload["pull_request"]["labels"].append(label)
    assert Merge.from_webhook(payload) is None
    item = parse_search_item(search_item(labels=[{"name": "bug"}, label]))
    assert item is not None and Merge.from_search(item, private=False) is None


def test_other_labels_leave_a_merge_counted() -> None:
    # The fixture's PR carries `bug`; "spam-free" or "not invalid" is no Hacktoberfest verdict.
    payload = webhook()
    payload["pull_request"]["labels"].append({"name": "spam-free"})
    assert Merge.from_webhook(payload) is not None
    item = parse_search_item(search_item(labels=[{"name": "not invalid"}, {"name": "hacktoberfest-accepted"}]))
    assert item is not None and Merge.from_search(item, private=False) is not None
