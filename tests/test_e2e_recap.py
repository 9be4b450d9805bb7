"""/me recap and the opt-in recap DM: a member's week as ready-to-post drafts, through the real client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

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
    assert res.content.startswith("🌱 Mon 23 Nov to Sun 29 Nov: ")
    today = await w.invoke(w.alice, "me recap", week="this")  # a Monday: the week so far is one day
    assert today.content.startswith("🌱 Mon 30 Nov: ")
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
