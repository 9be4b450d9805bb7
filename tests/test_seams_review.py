"""Defects a review of the seams found after the branches met, each pinned by a test.

- the digest drew a stored GitHub link without asking `urls.safe_url`;
- a GitHub time at the edge of the calendar overflowed instead of being read as no time;
- an outbox row whose payload could not be read was never settled (claimed again and again);
- a merge first seen as public and then reported from a private repository stayed public.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import MergedPullRequest, OutboxMessage
from bot.db.session import transaction
from bot.playground.samples import merged_pr_payload
from bot.services import guilds, messages, outbox
from bot.services.github.api import parse_search_item, parse_time
from cogs.rhythm import render_digest
from tests.conftest import NOW
from tests.test_github_events import CELEBRATIONS, GUILD, deliver, link


def test_the_digest_shows_a_github_link_only_when_it_is_safe() -> None:
    digest = messages.Digest.decode(
        {
            "start": NOW.isoformat(),
            "end": (NOW + timedelta(days=7)).isoformat(),
            "prs": {
                "count": 3,
                "authors": 1,
                "latest": [
                    {"user_id": 1, "repo": "o/r", "number": 1, "title": "a", "url": "javascript:alert(1)"},
                    {"user_id": 1, "repo": "o/r", "number": 2, "title": "b"},  # stored with no link
                    {"user_id": 1, "repo": "o/r", "number": 3, "title": "c", "url": "https://github.com/o/r/pull/3"},
                ],
            },
        }
    )
    (field,) = [f for f in render_digest(digest)["embed"].fields if "Merged" in f.name]
    assert "javascript" not in field.value and "(None)" not in field.value
    assert "o/r#1 a" in field.value and "o/r#2 b" in field.value  # named, without a link
    assert "[o/r#3](https://github.com/o/r/pull/3)" in field.value


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_github_time_at_the_edge_of_the_calendar_is_no_time(value: str) -> None:
    assert parse_time(value) is None
    item = parse_search_item(
        {"number": 7, "repository_url": "https://api.github.com/repos/o/r", "created_at": value, "closed_at": value}
    )
    assert item is not None and (item.number, item.created_at, item.closed_at) == (7, None, None)


def test_a_number_no_integer_can_hold_is_read_with_its_default() -> None:
    assert messages.Merged.decode({"user_id": 1, "total": float("inf"), "in_repo": float("nan")}).total == 1


async def test_an_outbox_row_that_cannot_be_read_is_settled_not_claimed_forever(
    sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with transaction(sessionmaker) as session:
        await guilds.ensure_guild(session, GUILD)
        row = await outbox.enqueue(
            session, messages.Relay(event="pulls", action="opened", repo="o/r", number=1), guild_id=GUILD,
            channel_id=5, now=NOW,
        )  # fmt: skip
        row_id = row.id

    def unreadable(data: object) -> messages.Relay:
        raise RuntimeError("a shape no version wrote")

    monkeypatch.setattr(messages.Relay, "decode", unreadable)
    claimed = await outbox.claim_due(sessionmaker, now=NOW)
    assert await outbox.address(sessionmaker, claimed) == []
    async with transaction(sessionmaker) as session:
        stored = await session.get(OutboxMessage, row_id)
        assert stored.status == "failed" and "could not read the message" in stored.last_error


async def test_a_merge_reported_later_from_a_private_repository_is_private_from_then_on(sessionmaker) -> None:
    await guilds.set_channel(sessionmaker, guild_id=GUILD, purpose="celebrations", channel_id=CELEBRATIONS, now=NOW)
    await link(sessionmaker)
    public = json.loads(merged_pr_payload())
    public["repository"]["private"] = False
    await deliver(sessionmaker, "pull_request", json.dumps(public).encode(), "d-public")
    private = json.loads(merged_pr_payload())
    private["repository"]["private"] = True  # the organisation's hook knows better
    await deliver(sessionmaker, "pull_request", json.dumps(private).encode(), "d-private")
    async with transaction(sessionmaker) as session:
        rows = (await session.scalars(select(MergedPullRequest))).all()
        celebrations = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "github.merged"))).all()
    assert [row.private for row in rows] == [True]
    assert len(celebrations) == 1  # celebrated once, as before


def test_no_cog_draws_a_link_from_github_around_github_link() -> None:
    """A markdown link whose address is a value (`[text]({x.url})`) is drawn by `_format.github_link`,
    which shows the text alone when the address is not a safe GitHub one; `/github-admin link-member`
    drew `(<None>)` once an unsafe address was stored as none."""
    import re
    from pathlib import Path

    cogs = Path(__file__).resolve().parent.parent / "cogs"
    drawn_by_hand = re.compile(r"\]\(<?\{[^}]*url[^}]*\}>?\)")
    found = [
        f"{path.name}:{number}"
        for path in sorted(cogs.glob("*.py"))
        if path.name != "_format.py"  # github_link and link_markdown themselves
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if drawn_by_hand.search(line)
    ]
    assert found == []
