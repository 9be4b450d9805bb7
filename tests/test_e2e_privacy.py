"""Nothing leaked, as members see it: private repositories stay in the server, /me forget and /me export
cover GitHub's stored deliveries, and a member who left while Shiplog was offline is not published."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import discord
import pytest
from sqlalchemy import select

from bot.db.models import Member, MergedPullRequest, WebhookDelivery
from bot.db.session import reading
from bot.playground.samples import merged_pr_payload
from tests.harness import World, eventually, world
from tests.test_e2e_github import OCTO_ID, link_alice, post_delivery
from tests.test_e2e_pages import free_port, get, meta, open_page
from tests.test_e2e_recap import assert_drafts

SECRET_TITLE = "Launch plan for the unannounced product"
SECRET_REPO = "octo-org/stealth-engine"


@asynccontextmanager
async def privacy_world(db_url: str, **settings: Any) -> AsyncIterator[World]:
    """The usual server with public pages on, its web server at a port PUBLIC_URL names; the
    settings are kept for a restart."""
    async with world(db_url, start=False) as w:
        port = free_port()
        w.extra_settings = {"http_port": port, "public_url": f"http://127.0.0.1:{port}", **settings}
        await w.start_bot()
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
        await w.invoke(w.admin, "settings pages", enabled=True)
        yield w


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with privacy_world(db_url) as w:
        yield w


def merged_now(w: World, number: int, title: str, repo: str | None = None) -> bytes:
    """A merged-PR delivery by alice (Codertocat), merged now: in this week's recap."""
    merged_at = w.clock().isoformat(timespec="seconds").replace("+00:00", "Z")
    return merged_pr_payload(number=number, title=title, repo=repo, merged_at=merged_at)


def private_merge(w: World, number: int, title: str = SECRET_TITLE, repo: str = SECRET_REPO) -> bytes:
    """A merged-PR delivery from a private repository, as an organisation-wide webhook sends it."""
    payload = json.loads(merged_now(w, number, title, repo))
    for repository in (payload["repository"], payload["pull_request"]["base"]["repo"]):
        repository["private"] = True
        repository["visibility"] = "private"
    return json.dumps(payload).encode()


def share_ids(post: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in post.get("components", []) for c in row["components"] if "custom_id" in c]


async def test_a_private_repository_merge_is_celebrated_in_the_server_but_never_published(w: World) -> None:
    await link_alice(w)
    url = await open_page(w, w.alice)
    assert (await post_delivery(w, merged_now(w, 7, "Fix the pool")))[0] == 202
    public_post, *_ = await w.wait_for_posts(w.celebrations, 1)
    assert (await post_delivery(w, private_merge(w, 8)))[0] == 202
    posts = await w.wait_for_posts(w.celebrations, 2)
    assert len(posts) == 2
    private_post = posts[1]

    # Celebrated in the server that webhooked it, but with nothing to share.
    assert SECRET_TITLE in private_post["embeds"][0]["title"]
    assert share_ids(private_post) == []
    assert share_ids(public_post)[0].startswith("shiplog:share:")

    # The public page, its preview and its card know only the public merge.
    status, _, body, _ = await get(url)
    html = body.decode()
    assert status == 200
    assert "Fix the pool" in html and "octo-org/hello-world" in html
    assert SECRET_TITLE not in html and "stealth-engine" not in html
    assert meta(html, "og:description").startswith("1 merged PR in 1 repository")
    assert (await get(f"{url}/card.png"))[0] == 200

    # The public merge's share draft, and the weekly recap's drafts, say nothing of it either.
    shared = await w.fake.click(w.guild, w.alice, public_post, share_ids(public_post)[0])
    recap = await w.invoke(w.alice, "me recap")
    for text in assert_drafts(shared.embeds) + assert_drafts(recap.embeds):
        assert "stealth" not in text.lower() and SECRET_TITLE not in text
    assert all("1 PR merged" in text and "octo-org/hello-world" in text for text in assert_drafts(recap.embeds))

    # Stored as private, with the public one public.
    async with reading(w.sessionmaker) as session:
        stored = dict((await session.execute(select(MergedPullRequest.number, MergedPullRequest.private))).all())
    assert stored == {7: False, 8: True}


async def test_forget_empties_the_deliveries_about_the_member_and_export_lists_them(w: World) -> None:
    await link_alice(w)
    assert (await post_delivery(w, merged_pr_payload(number=7, title="Alice's pool fix"), delivery="alice-1"))[0] == 202
    # Someone else's merge: a delivery that holds alice's account (login or id) nowhere.
    others = merged_pr_payload(number=9, title="Someone else's change")
    others = others.replace(b"Codertocat", b"someone-else").replace(str(OCTO_ID).encode(), b"4242")
    assert (await post_delivery(w, others, delivery="other-1"))[0] == 202
    await w.wait_for_posts(w.celebrations, 1)

    async def processed() -> bool:
        async with reading(w.sessionmaker) as session:
            return set(await session.scalars(select(WebhookDelivery.status))) == {"done"}

    assert await eventually(processed)

    exported = json.loads((await w.invoke(w.alice, "me export")).files[0].data)
    (delivery,) = exported["webhook_deliveries"]
    assert delivery["delivery_id"] == "alice-1" and delivery["event"] == "pull_request"
    assert delivery["payload"]["pull_request"]["title"] == "Alice's pool fix"
    assert delivery["payload"]["pull_request"]["user"]["id"] == OCTO_ID

    res = await w.invoke(w.alice, "me forget")
    done = await w.fake.click(w.guild, w.alice, res, "shiplog:forget:yes")
    await done.wait_for(lambda r: "deleted everything" in (r.content or ""), timeout=10)
    async with reading(w.sessionmaker) as session:
        bodies = {d.delivery_id: bytes(d.body) for d in await session.scalars(select(WebhookDelivery))}
    assert bodies["alice-1"] == b""  # at once, not at retention
    assert b"Someone else's change" in bodies["other-1"]  # another person's delivery is untouched
    # The row stays: GitHub redelivering it is still answered as a duplicate and stores nothing.
    assert (await post_delivery(w, merged_pr_payload(number=7), delivery="alice-1"))[0] == 200


async def stored_member(w: World) -> Member | None:
    async with reading(w.sessionmaker) as session:
        return await session.get(Member, (w.guild.id, w.alice.id))


async def test_a_member_who_left_while_shiplog_was_offline_has_no_page_after_the_restart(db_url: str) -> None:
    async with privacy_world(db_url, members_intent=True) as w:
        await w.invoke(w.alice, "goal add", text="ship the beta")
        await w.invoke(w.bob, "goal add", text="bob's goal")
        alice_url, bob_url = await open_page(w, w.alice), await open_page(w, w.bob)
        assert (await get(alice_url))[0] == (await get(bob_url))[0] == 200

        # Alice leaves while no process is connected: nobody hears it.
        await w.restart_bot(before_start=lambda: w.guild.members.pop(w.alice.id))

        async def alice_left() -> bool:
            member = await stored_member(w)
            return member is not None and member.left_at is not None

        assert await eventually(alice_left)
        assert (await get(alice_url))[0] == 404
        assert (await get(bob_url))[0] == 200  # bob is still there: his page stays
        async with reading(w.sessionmaker) as session:
            bob = await session.get(Member, (w.guild.id, w.bob.id))
        assert bob is None or bob.left_at is None


async def test_without_the_members_intent_nobody_is_judged_at_start(db_url: str) -> None:
    async with privacy_world(db_url) as w:
        assert not w.bot.intents.members
        await w.invoke(w.alice, "goal add", text="ship the beta")
        url = await open_page(w, w.alice)
        await w.restart_bot(before_start=lambda: w.guild.members.pop(w.alice.id))
        # The member list is not known without the intent: the page stays, nobody is marked.
        assert (await get(url))[0] == 200
        member = await stored_member(w)
        assert member is None or member.left_at is None


async def test_nobody_is_marked_when_the_member_list_cannot_be_read(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with privacy_world(db_url, members_intent=True) as w:
        await w.invoke(w.alice, "goal add", text="ship the beta")
        url = await open_page(w, w.alice)
        w.guild.members.pop(w.alice.id)  # gone from the server, no event heard
        departures = w.bot.get_cog("Departures")
        guild = w.bot.get_guild(w.guild.id)

        guild.unavailable = True  # an outage: Discord lists nobody
        assert await departures.reconcile_members(guild) is None
        guild.unavailable = False

        async def times_out(*args: Any, **kwargs: Any) -> Any:
            raise TimeoutError

        with monkeypatch.context() as patched:
            patched.setattr(discord.Guild, "query_members", times_out)
            assert await departures.reconcile_members(guild) is None
        assert (await get(url))[0] == 200
        member = await stored_member(w)
        assert member is None or member.left_at is None

        assert await departures.reconcile_members(guild) == [w.alice.id]  # the list read: she is found gone
        assert (await get(url))[0] == 404
