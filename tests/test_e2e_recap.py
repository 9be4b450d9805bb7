"""/me recap and the opt-in recap DM: a member's week as ready-to-post drafts, through the real client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.playground.samples import merged_pr_payload, sign
from bot.services.sharing.share import NETWORKS
from tests.harness import WEBHOOK_SECRET, World, eventually, world
from tests.test_e2e_github import link_alice
from tests.test_e2e_rhythm import scheduler_of


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url, start=False) as w:
        w.fake.add_text_channel(w.guild, "accountability")
        w.fake.add_text_channel(w.guild, "digest")
        await w.start_bot()
        for purpose in ("accountability", "digest"):
            await w.invoke(w.admin, "settings channel", purpose=purpose, channel=w.guild.channel_named(purpose))
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        yield w


async def merge(w: World, number: int, title: str | None = None, repo: str | None = None) -> None:
    """Deliver a signed merged-PR webhook for alice (linked to Codertocat), merged now, to the bot's web server."""
    assert w.bot is not None
    merged_at = w.clock().isoformat(timespec="seconds").replace("+00:00", "Z")
    body = merged_pr_payload(number=number, title=title or f"Recap PR {number}", repo=repo, merged_at=merged_at)
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
    }
    url = f"http://127.0.0.1:{w.bot.web.port}/github/webhook"
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        assert response.status == 202


def assert_drafts(embeds: list[dict]) -> list[str]:
    """Check one draft per network, each within its limit; return their texts."""
    assert [e["title"].split(" · ")[0] for e in embeds] == [n.name for n in NETWORKS]
    texts = []
    for embed, network in zip(embeds, NETWORKS, strict=True):
        body = embed["description"]
        assert body.startswith("```\n") and body.endswith("\n```")
        text = body[4:-4]
        assert network.fits(text) and text.endswith("#BuildInPublic #opensource")
        texts.append(text)
    return texts


async def test_recap_of_a_busy_week(w: World) -> None:
    await link_alice(w)
    await w.invoke(w.alice, "checkin", note="Reviewed the pool rewrite")
    await w.invoke(w.alice, "goal add", text="get my first PR merged")
    await w.invoke(w.alice, "goal done", goal=1)
    await merge(w, 7)
    await merge(w, 8)
    await w.wait_for_posts(w.celebrations, 2, timeout=10)
    await w.invoke(w.bob, "kudos", member=w.alice, reason="great reviews")

    res = await w.invoke(w.alice, "me recap")
    assert res.ephemeral and res.content.startswith("📅 Your week")
    x, _, _, linkedin = assert_drafts(res.embeds)
    assert "2 PRs merged, 1 goal done, 1 check-in, 1 kudos received" in x
    assert "Merged in octo-org/hello-world ×2" in x
    assert "✅ get my first PR merged" in linkedin and "🎯 1 new goal set" in linkedin
    assert [f.filename for f in res.files] == ["streak.png"] and res.files[0].data.startswith(b"\x89PNG")
    assert res.allowed_mentions["parse"] == []


async def test_a_quiet_week_is_never_shamed_and_suggests_a_next_step(w: World) -> None:
    await w.invoke(w.alice, "goal add", text="fix the flaky test")
    w.clock.advance(timedelta(weeks=1))
    res = await w.invoke(w.alice, "me recap", week="last")
    assert res.ephemeral and "quieter week" in res.content and "that's fine" in res.content
    # The week is digest to digest (Mondays 09:00 UTC by default), shown in the member's own zone.
    mondays = [f"<t:{int(datetime(2026, 11, day, 9, 0, tzinfo=UTC).timestamp())}:f>" for day in (23, 30)]
    assert res.content.startswith(f"🌱 Your week digest to digest, {mondays[0]} to {mondays[1]}: ")
    today = await w.invoke(w.alice, "me recap", week="this")  # Monday 12:00: the week so far began at 09:00
    assert today.content.startswith(f"🌱 Your week since the digest of {mondays[1]}: ")
    for text in assert_drafts(res.embeds):
        assert "Next up: goal #1, “fix the flaky test”" in text
        assert "0 " not in text.split("\n")[0]  # no zero counts held against anyone


async def test_recap_dms_go_to_those_who_opt_in_once_after_the_digest(w: World) -> None:
    await w.invoke(w.alice, "checkin", note="Wrote the docs")
    res = await w.invoke(w.alice, "me recap-dms", enabled=True)
    assert res.ephemeral and "DM you a recap" in res.content
    await w.invoke(w.bob, "checkin", note="bob did things")  # bob did not opt in
    await w.invoke(w.admin, "settings schedule", weekday="monday", time="13:00", timezone="UTC")
    job = await eventually(lambda: (job := scheduler_of(w).job(w.guild.id)) and job.args[1].startswith("0 13") and job)
    w.clock.advance(timedelta(hours=1, minutes=1))  # Monday 13:01: the digest of the week just ended runs
    first, second = await asyncio.gather(job.func(*job.args), job.func(*job.args))  # twice: a misfire
    assert {first.outcome("digest").status, second.outcome("digest").status} == {"done", "already"}
    (dm,) = await eventually(lambda: w.fake.dms_to(w.alice), timeout=10)
    assert dm["content"].startswith("📅 Your week in **Builders**")
    assert_drafts(dm["embeds"])
    assert "1 check-in" in dm["embeds"][0]["description"]
    assert dm["allowed_mentions"]["parse"] == []
    await asyncio.sleep(0.5)
    assert len(w.fake.dms_to(w.alice)) == 1
    assert w.fake.dms_to(w.bob) == []


async def test_a_monday_morning_merge_is_in_the_week_the_digest_closes_for_the_recap_too(w: World) -> None:
    """The digest (Mondays 09:00 UTC) and /me recap mean the same week: a merge at 08:00 is in the
    week that 09:00's digest shows, in the recap DM sent with it, and in `/me recap week:last` after it."""
    await link_alice(w)
    await w.invoke(w.alice, "me recap-dms", enabled=True)
    w.clock.advance_to(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # the next Monday, an hour before the digest
    await merge(w, 7)
    await w.wait_for_posts(w.celebrations, 1, timeout=10)
    before = await w.invoke(w.alice, "me recap")
    assert "1 PR merged" in assert_drafts(before.embeds)[0]

    w.clock.advance_to(datetime(2026, 11, 30, 9, 1, tzinfo=UTC))
    result = await scheduler_of(w).run_guild(w.guild.id)
    assert result is not None and result.outcome("digest").status == "done"
    (post,) = await w.wait_for_posts(w.guild.channel_named("digest"), 1)
    digest = post["embeds"][0]
    prs = next(f for f in digest["fields"] if f["name"] == "🚀 Merged pull requests")
    assert prs["value"].startswith("**1** pull request merged by **1** member.")
    (dm,) = await eventually(lambda: w.fake.dms_to(w.alice), timeout=10)
    assert "digest to digest" in dm["content"] and "1 PR merged" in dm["embeds"][0]["description"]

    last = await w.invoke(w.alice, "me recap", week="last")
    assert "1 PR merged" in assert_drafts(last.embeds)[0]
    # Both name the same week, from last Monday's digest to this one.
    week = " to ".join(f"<t:{int(datetime(2026, 11, d, 9, 0, tzinfo=UTC).timestamp())}:f>" for d in (23, 30))
    assert f"digest to digest, {week}" in last.content
    assert f"digest to digest: from {week}" in digest["description"]
    now = await w.invoke(w.alice, "me recap")  # the new week began at 09:00: the merge is not in it
    assert "PR merged" not in assert_drafts(now.embeds)[0]
