"""Who Shiplog talks to and about, as members and admins see it: a member who left gets no
review-wait DM and is not mentioned in a merge celebration, whichever path queued it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import OutboxMessage
from bot.db.session import reading
from bot.playground.samples import merged_pr_payload
from bot.services import audience
from tests.harness import World, eventually, world
from tests.test_e2e_github import link_alice, post_delivery
from tests.test_e2e_radar import FakeGitHub, link, radar


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
        yield w


async def rows_of(w: World, kind: str) -> list[OutboxMessage]:
    async with reading(w.sessionmaker) as session:
        return list(await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


async def leaves(w: World, member: object) -> None:
    """The member leaves; Shiplog has no members intent here, so an admin tells it."""
    await w.fake.member_leave(member)
    noted = await w.invoke(w.admin, "settings member-left", member=member)
    assert "no longer mention" in noted.content, noted.content


async def test_a_member_who_left_is_not_mentioned_in_a_merge_celebration(w: World) -> None:
    await link_alice(w)
    await leaves(w, w.alice)

    status, _ = await post_delivery(w, merged_pr_payload())
    assert status == 202

    async def settled() -> OutboxMessage | None:  # processed, queued, then settled by the sender
        rows = await rows_of(w, "github.merged")
        return rows[0] if rows and rows[0].status != "pending" else None

    row = await eventually(settled)
    assert (row.status, row.last_error) == ("failed", audience.DEPARTED_ERROR)  # settled: never posted
    assert w.fake.messages_in(w.celebrations, include_interactions=False) == []

    # The admins can tell why nothing was posted.
    shown = await w.invoke(w.admin, "settings show")
    failed = next(f["value"] for f in shown.embeds[0]["fields"] if f["name"] == "⚠️ Could not deliver")
    assert "github.merged · not sent: the member it is about left the server" in failed


async def test_a_member_who_left_gets_no_review_nudge_dm(w: World) -> None:
    gh = FakeGitHub(w)
    account = gh.user("alice-gh", 1001)
    gh.history(account, {"psf/requests": 3})
    gh.open_pr(account, "encode/httpx", 90, opened_at=w.clock() - timedelta(days=10))  # waiting for a review
    res = await w.invoke(w.alice, "me review-nudges", mode="dm")
    assert res.ephemeral and "DM" in res.content

    # The nudge is queued while this process is not sending (another one is, or it is behind)...
    assert w.bot is not None
    await w.bot.workers.outbox.hand_back()
    await link(w, w.alice, account)
    (queued,) = await rows_of(w, "dm.review_nudge")
    assert queued.status == "pending"
    # ... and alice leaves before it goes out: the sender does not DM her.
    await leaves(w, w.alice)
    await w.bot.workers.outbox.start(w.bot)  # its sender starts at once: wait for it to settle the row

    async def nudge_settled() -> OutboxMessage | None:
        (row,) = await rows_of(w, "dm.review_nudge")
        return row if row.status != "pending" else None

    row = await eventually(nudge_settled)
    assert (row.status, row.last_error) == ("failed", audience.DEPARTED_ERROR)
    assert w.fake.dms_to(w.alice) == []
    shown = await w.invoke(w.admin, "settings show")
    failed = next(f["value"] for f in shown.embeds[0]["fields"] if f["name"] == "⚠️ Could not deliver")
    assert "DM · dm.review_nudge · not sent: the member it is about left the server" in failed

    # A week and a day on, #90 would be nudged again: for a member who left, nothing is even queued.
    w.clock.advance(timedelta(days=8))
    await radar(w).run_pass()  # it queues the nudges due as it ends
    assert len(await rows_of(w, "dm.review_nudge")) == 1
    assert w.fake.dms_to(w.alice) == []
