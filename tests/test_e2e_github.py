"""GitHub, end to end: signed deliveries into the bot's web server, celebrations through the real client."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.db.models import (
    Activity,
    GitHubAccount,
    GitHubMerge,
    GitHubProfile,
    Goal,
    MergedPullRequest,
    OutboxMessage,
    WebhookDelivery,
)
from bot.db.session import transaction
from bot.playground.fake_discord import FakeDiscordError
from bot.playground.samples import labeled_pr_payload, load, merged_pr_payload, sign
from bot.services.github import links as github_links
from cogs.github import WITHDRAWN_TEXT
from tests.harness import WEBHOOK_SECRET, World, eventually, world

OCTO_ID = 21031067


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
        yield w


async def post_delivery(
    w: World, body: bytes, *, event: str = "pull_request", delivery: str | None = None, signature: str | None = None
) -> tuple[int, dict[str, Any]]:
    assert w.bot is not None
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": signature or sign(WEBHOOK_SECRET, body),
        "User-Agent": "GitHub-Hookshot/test",
    }
    url = f"http://127.0.0.1:{w.bot.web.port}/github/webhook"
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        return response.status, await response.json()


async def link_alice(w: World) -> None:
    """Link alice to Codertocat, whose history (no merged PR before) is already imported."""
    async with transaction(w.sessionmaker) as session:
        session.add(GitHubProfile(id=OCTO_ID, login="Codertocat", history_status="done"))
        session.add(
            GitHubAccount(
                guild_id=w.guild.id, user_id=w.alice.id, github_id=OCTO_ID, login="Codertocat", login_lower="codertocat"
            )
        )


async def count(w: World, model: type, *where: Any) -> int:
    async with transaction(w.sessionmaker) as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def settle(w: World, seconds: float = 0.5) -> None:
    """Give the bot time to do anything more it would (wrongly) do."""
    await asyncio.sleep(seconds)


async def test_merged_pr_is_celebrated_once(w: World) -> None:
    await link_alice(w)
    await w.invoke(w.alice, "goal add", text="get PR 2 merged", link="https://github.com/octo-org/Hello-World/pull/2")
    body = merged_pr_payload()
    status, answer = await post_delivery(w, body, delivery="delivery-1")
    assert status == 202 and answer["ok"]
    posts = await w.wait_for_posts(w.celebrations, 1)
    (post,) = posts
    assert post["content"] == f"🎉 Congratulations <@{w.alice.id}>!"
    assert [m["id"] for m in post["mentions"]] == [str(w.alice.id)]  # alice pinged, nobody else
    embed = post["embeds"][0]
    assert "Update the README with new information." in embed["title"]
    assert "first merged pull request" in embed["description"]
    assert "✅ Goal finished: `#1` get PR 2 merged" in embed["description"]  # the linked goal finished itself
    assert "[octo-org/Hello-World#2](" in embed["description"]  # spelt as GitHub spells it
    assert post["components"][0]["components"][0]["custom_id"].startswith("shiplog:share:")

    # Redelivery of the same delivery, and the org hook's own delivery of the same merge: nothing more.
    assert (await post_delivery(w, body, delivery="delivery-1"))[0] == 200
    assert (await post_delivery(w, body, delivery="delivery-org-hook"))[0] == 202
    await settle(w)
    assert len(w.fake.messages_in(w.celebrations, include_interactions=False)) == 1
    assert await count(w, WebhookDelivery) == 2


async def test_a_merged_pr_labelled_spam_or_invalid_counts_for_nothing(w: World) -> None:
    await link_alice(w)
    await w.invoke(w.alice, "goal add", text="get PR 2 merged", link="https://github.com/octo-org/Hello-World/pull/2")
    assert (await post_delivery(w, merged_pr_payload(labels=("Invalid",))))[0] == 202
    await eventually(lambda: count(w, WebhookDelivery, WebhookDelivery.status == "done"))
    assert (await post_delivery(w, merged_pr_payload(number=3, labels=("hacktoberfest-accepted",))))[0] == 202
    (post,) = await w.wait_for_posts(w.celebrations, 1)
    await settle(w)
    assert len(w.fake.messages_in(w.celebrations, include_interactions=False)) == 1
    assert "octo-org/Hello-World#3" in post["embeds"][0]["description"]
    assert "first merged pull request" in post["embeds"][0]["description"]  # #2 is not counted
    assert await count(w, MergedPullRequest, MergedPullRequest.number == 2) == 0
    assert await count(w, GitHubMerge, GitHubMerge.number == 2) == 0
    assert await count(w, Goal, Goal.status == "open") == 1  # a PR that counts for nothing finishes no goal


async def test_a_pr_labelled_spam_after_its_celebration_is_withdrawn_and_the_post_says_only_that(w: World) -> None:
    await link_alice(w)
    assert (await post_delivery(w, merged_pr_payload()))[0] == 202
    (post,) = await w.wait_for_posts(w.celebrations, 1)
    assert await count(w, Activity, Activity.kind == "pr") == 1
    labeled = labeled_pr_payload("SPAM")
    assert json.loads(labeled)["action"] == "labeled"
    assert (await post_delivery(w, labeled))[0] == 202

    async def redrawn() -> dict[str, Any] | None:
        now = w.fake.get_message(int(post["id"]))
        return now if now is not None and now["content"] == WITHDRAWN_TEXT else None

    edited = await eventually(redrawn, timeout=10)
    assert edited["embeds"] == [] and edited["components"] == []  # no name, no link, no count, no share button
    assert str(w.alice.id) not in str(edited)
    assert len(w.fake.messages_in(w.celebrations, include_interactions=False)) == 1  # edited, nothing new posted
    for model in (MergedPullRequest, GitHubMerge, Activity):
        assert await count(w, model) == 0, model
    # A second report of the label (another hook, a redelivery) changes nothing more.
    assert (await post_delivery(w, labeled))[0] == 202
    await eventually(lambda: count(w, WebhookDelivery, WebhookDelivery.status == "done"), timeout=10)
    await settle(w)
    assert await count(w, OutboxMessage, OutboxMessage.kind == "discord.edit") == 1

    # The next merge is counted without it: still the first that counts.
    assert (await post_delivery(w, merged_pr_payload(number=3)))[0] == 202
    _, nxt = await w.wait_for_posts(w.celebrations, 2)
    assert "first merged pull request" in nxt["embeds"][0]["description"]

    # /me forget covers what the withdrawal queued: both posts go, and no row names alice any more.
    forget = await w.invoke(w.alice, "me forget")
    done = await w.fake.click(w.guild, w.alice, forget, "shiplog:forget:yes")
    await done.wait_for(lambda r: "Welcome back" in (r.content or ""), timeout=10)
    assert await eventually(lambda: w.fake.get_message(int(post["id"])) is None, timeout=10)
    async with transaction(w.sessionmaker) as session:
        rows = (await session.scalars(select(OutboxMessage))).all()
    assert not [row.kind for row in rows if str(w.alice.id) in str(row.data)]


async def test_share_button_offers_the_author_a_post(w: World) -> None:
    await link_alice(w)
    await post_delivery(w, merged_pr_payload())
    (post,) = await w.wait_for_posts(w.celebrations, 1)
    custom_id = post["components"][0]["components"][0]["custom_id"]
    mine = await w.fake.click(w.guild, w.alice, post, custom_id)
    assert mine.ephemeral and "ready to copy" in mine.content
    # One draft per network, each in a code block, each within its network's limit.
    assert [embed["title"].split(" · ")[0] for embed in mine.embeds] == ["X", "Bluesky", "Mastodon", "LinkedIn"]
    for embed in mine.embeds:
        used, limit = map(int, embed["title"].split(" · ")[1].split("/"))
        assert used <= limit
        body = embed["description"]
        assert body.startswith("```\n") and body.endswith("\n```")
        assert "My first open-source pull request just got merged into octo-org/hello-world!" in body
        assert "https://github.com/" in body and body.rstrip("`\n").endswith("#BuildInPublic #opensource")
    theirs = await w.fake.click(w.guild, w.bob, post, custom_id)
    assert theirs.ephemeral and "to share" in theirs.content
    # After alice asks Shiplog to forget her, the celebration is deleted; where Discord refused that,
    # the old button answers politely instead of failing.
    w.fake.fail_next("DELETE", rf"/channels/{w.celebrations.id}/messages/{post['id']}", 403)
    forget = await w.invoke(w.alice, "me forget")
    done = await w.fake.click(w.guild, w.alice, forget, "shiplog:forget:yes")
    await done.wait_for(lambda r: "Welcome back" in (r.content or ""), timeout=10)
    assert "1 could not be removed" in done.content
    gone = await w.fake.click(w.guild, w.alice, post, custom_id)
    assert gone.ephemeral and "can't find that merged pull request" in gone.content


async def test_bad_signature_is_refused_and_stores_nothing(w: World) -> None:
    await link_alice(w)
    body = merged_pr_payload()
    status, answer = await post_delivery(w, body, signature=sign("wrong secret", body))
    assert status == 401 and answer["error"]
    await settle(w, 0.3)
    assert await count(w, WebhookDelivery) == 0
    assert w.fake.messages_in(w.celebrations, include_interactions=False) == []


async def test_discord_errors_delay_the_celebration_but_it_arrives_once(w: World) -> None:
    await link_alice(w)
    # Past discord.py's own retries: every attempt of the first round answers 500.
    rule = w.fake.fail_next("POST", rf"/channels/{w.celebrations.id}/messages", 500, times=5)
    await post_delivery(w, merged_pr_payload())
    await eventually(lambda: rule.remaining == 0)
    await settle(w, 0.2)
    assert w.fake.messages_in(w.celebrations, include_interactions=False) == []
    async with transaction(w.sessionmaker) as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "github.merged"))
    assert row.status == "pending" and "500" in row.last_error
    w.clock.advance(timedelta(seconds=10))  # past the backoff
    assert w.bot is not None
    w.bot.wake_outbox()
    posts = await w.wait_for_posts(w.celebrations, 1)
    await settle(w)
    assert len(posts) == len(w.fake.messages_in(w.celebrations, include_interactions=False)) == 1


async def test_missing_permission_marks_failed_and_admins_see_why(w: World) -> None:
    await link_alice(w)
    w.fake.fail_next(
        "POST", rf"/channels/{w.celebrations.id}/messages", 403, json={"code": 50013, "message": "Missing Permissions"}
    )
    await post_delivery(w, merged_pr_payload())
    await eventually(lambda: count(w, OutboxMessage, OutboxMessage.status == "failed"))
    res = await w.invoke(w.admin, "settings show")
    field = next(f for f in res.embeds[0]["fields"] if "Could not deliver" in f["name"])
    assert "missing permission" in field["value"] and "github.merged" in field["value"]


async def test_a_crash_between_the_2xx_and_the_post_delivers_once_after_restart(w: World) -> None:
    await link_alice(w)
    assert w.bot is not None
    # The "crash": the bot stops processing right after acknowledging (its loops are gone).
    await w.bot.workers.github.hand_back()
    status, _ = await post_delivery(w, merged_pr_payload())
    assert status == 202
    await settle(w, 0.3)
    assert w.fake.messages_in(w.celebrations, include_interactions=False) == []
    await w.restart_bot()
    posts = await w.wait_for_posts(w.celebrations, 1)
    await settle(w)
    assert len(posts) == len(w.fake.messages_in(w.celebrations, include_interactions=False)) == 1


async def test_a_crash_after_posting_but_before_marking_sent_does_not_post_twice(w: World) -> None:
    await link_alice(w)
    assert w.bot is not None
    from bot.services import outbox

    real_mark_sent = outbox.mark_sent
    crashed = asyncio.Event()

    async def crash(*args: object, **kwargs: object) -> None:
        crashed.set()
        raise asyncio.CancelledError  # the process dies before it records the post

    outbox.mark_sent = crash  # type: ignore[assignment]
    try:
        await post_delivery(w, merged_pr_payload())
        await asyncio.wait_for(crashed.wait(), 5)
    finally:
        outbox.mark_sent = real_mark_sent  # type: ignore[assignment]
    w.clock.advance(timedelta(minutes=2))  # past the claim lease
    await w.restart_bot()
    await settle(w, 1.0)
    # The retry carried the same nonce, and Discord (like the fake) shows a nonce once.
    assert len(w.fake.messages_in(w.celebrations, include_interactions=False)) == 1
    assert await count(w, OutboxMessage, OutboxMessage.status == "sent") == 1


async def test_milestone_role_is_granted(w: World) -> None:
    await link_alice(w)
    role = await w.fake.create_role(w.guild, "First PR")
    res = await w.invoke(w.admin, "github-admin milestone-role", milestone="prs:1", role=role)
    assert res.ephemeral and f"<@&{role.id}>" in res.content
    await post_delivery(w, merged_pr_payload())
    await w.wait_for_posts(w.celebrations, 1)
    await eventually(lambda: w.fake.requests_to("PUT", rf"/roles/{role.id}"))
    assert w.fake.requests_to("PUT", rf"/guilds/{w.guild.id}/members/{w.alice.id}/roles/{role.id}")


async def test_a_milestone_role_is_taken_off_and_removing_none_says_so(w: World) -> None:
    role = await w.fake.create_role(w.guild, "Five PRs")
    await w.invoke(w.admin, "github-admin milestone-role", milestone="prs:5", role=role)
    off = await w.invoke(w.admin, "github-admin milestone-role", milestone="prs:5")
    assert off.ephemeral and off.content == f"Members who reach 5 merged PRs no longer get <@&{role.id}>."
    assert off.allowed_mentions["parse"] == [] and not off.allowed_mentions.get("roles")  # named, not pinged
    never = await w.invoke(w.admin, "github-admin milestone-role", milestone="prs:1")
    assert never.content == "No role was set for reaching 1 merged PR: nothing to change."


async def test_link_and_verify_through_the_github_api(w: World) -> None:
    with w.mock_github() as gh:
        res = await w.invoke(w.alice, "github link", username="@Codertocat")
        assert res.ephemeral
        code = res.content.split("```\n")[1].split("\n")[0]
        assert code.startswith("shiplog-")
        gh.get("/users/Codertocat").respond(
            json={"id": OCTO_ID, "login": "Codertocat", "type": "User", "bio": "nothing", "html_url": "x"}
        )
        gh.get("/users/Codertocat/gists").respond(json=[])
        res = await w.invoke(w.alice, "github verify")
        assert res.ephemeral and "couldn't find" in res.content
        gh.get("/users/Codertocat").respond(
            json={"id": OCTO_ID, "login": "Codertocat", "type": "User", "bio": f"hi {code}", "html_url": "x"}
        )
        res = await w.invoke(w.alice, "github verify")
        assert res.ephemeral and "Linked to" in res.content
        res = await w.invoke(w.bob, "github whois", member=w.alice)
        assert "Codertocat" in res.content
        # One member per account: bob cannot take it.
        res = await w.invoke(w.bob, "github link", username="codertocat")
        assert res.ephemeral and "already linked" in res.content
    assert await github_links.whois(w.sessionmaker, guild_id=w.guild.id, user_id=w.alice.id) is not None
    res = await w.invoke(w.alice, "github unlink")
    assert res.ephemeral and "Unlinked" in res.content


async def test_admin_links_a_member_and_others_are_refused(w: World) -> None:
    admin = next(c for c in w.fake.commands(w.guild) if c["name"] == "github-admin")
    assert int(admin["default_member_permissions"]) == 32  # Manage Server: Discord hides it from members
    member_side = next(c for c in w.fake.commands(w.guild) if c["name"] == "github")
    assert member_side["default_member_permissions"] is None
    assert {o["name"] for o in member_side["options"]} == {"link", "verify", "unlink", "whois", "prs", "who-knows"}
    with pytest.raises(FakeDiscordError, match="cannot see /github-admin"):
        await w.invoke(w.bob, "github-admin link-member", member=w.alice, username="octocat")
    # An admin may open the group to everyone in the server's settings: the bot still refuses.
    w.fake.allow_everyone(w.guild, "github-admin")
    with w.mock_github() as gh:
        gh.get("/users/octocat").respond(
            json={"id": 583231, "login": "octocat", "type": "User", "bio": None, "html_url": "x"}
        )
        res = await w.invoke(w.bob, "github-admin link-member", member=w.alice, username="octocat")
        assert res.ephemeral and "Manage Server" in res.content
        assert await github_links.whois(w.sessionmaker, guild_id=w.guild.id, user_id=w.alice.id) is None
        res = await w.invoke(w.admin, "github-admin link-member", member=w.alice, username="octocat")
        assert res.ephemeral and "octocat" in res.content
    async with transaction(w.sessionmaker) as session:
        account = await session.scalar(select(GitHubAccount))
    assert (account.user_id, account.github_id) == (w.alice.id, 583231)


async def test_github_rate_limit_gets_a_clear_message(w: World) -> None:
    await w.invoke(w.alice, "github link", username="Codertocat")
    with w.mock_github() as gh:
        gh.get("/users/Codertocat").respond(
            403,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 600)},
            json={"message": "API rate limit exceeded"},
        )
        res = await w.invoke(w.alice, "github verify")
    assert res.ephemeral and "rate limit" in res.content


async def test_subscriptions_relay_bursts_folded(w: World) -> None:
    relays = await w.fake.create_channel(w.guild, "github")
    with w.mock_github() as gh:
        gh.get("/repos/Codertocat/Hello-World").respond(json={"full_name": "Codertocat/Hello-World"})
        gh.get("/repos/nobody/nothing").respond(404, json={"message": "Not Found"})
        res = await w.invoke(w.admin, "github-admin subscribe", repo="nobody/nothing", channel=relays)
        assert res.ephemeral and "can't find the repository" in res.content
        res = await w.invoke(w.admin, "github-admin subscribe", repo="Codertocat/Hello-World", channel=relays)
        assert res.ephemeral and "Relaying" in res.content
    res = await w.invoke(w.admin, "github-admin subscriptions")
    assert "codertocat/hello-world" in res.embeds[0]["description"]

    opened = load("pull_request/opened.payload.json")
    import json

    bodies = []
    for n in range(1, 31):
        payload = json.loads(opened)
        payload["pull_request"]["number"] = payload["number"] = n
        payload["pull_request"]["id"] = 1000 + n
        payload["pull_request"]["title"] = f"Change number {n}"
        bodies.append(json.dumps(payload).encode())
    results = await asyncio.gather(*(post_delivery(w, b) for b in bodies))
    assert {status for status, _ in results} == {202}
    posts = await w.wait_for_posts(relays, 1)
    await settle(w, 3.0)  # the fold window, and then some
    posts = w.fake.messages_in(relays, include_interactions=False)
    assert len(posts) <= 3  # folded: never one message per event
    text = "\n".join(p["embeds"][0].get("description", "") + p["embeds"][0].get("title", "") for p in posts)
    assert all(f"Change number {n}" in text for n in range(1, 31))

    res = await w.invoke(w.admin, "github-admin unsubscribe", repo="codertocat/hello-world")
    assert res.ephemeral and "Stopped" in res.content


async def test_gfi_lists_issues_and_explains_rate_limits(w: World) -> None:
    with w.mock_github() as gh:
        gh.get("/search/issues").respond(
            json={
                "total_count": 1,
                "items": [
                    {
                        "number": 12,
                        "title": "Improve docs",
                        "html_url": "https://github.com/encode/httpx/issues/12",
                        "repository_url": "https://api.github.com/repos/encode/httpx",
                        "labels": [{"name": "good first issue"}],
                        "comments": 2,
                        "created_at": "2026-11-01T00:00:00Z",
                    }
                ],
            }
        )
        res = await w.invoke(w.alice, "gfi", language="python")
        assert "Improve docs" in res.embeds[0]["description"]
        assert res.embeds[0]["title"] == "Good first issues in `python`"
    with w.mock_github() as gh:
        gh.get("/search/issues").respond(200, json={"total_count": 0, "incomplete_results": False, "items": []})
        res = await w.invoke(w.alice, "gfi", language="go", label="help wanted")
    assert res.content == (
        "No open, unassigned issues labelled **help wanted** in `go` right now. Try another language or label!"
    )
    with w.mock_github() as gh:
        gh.get("/search/issues").respond(
            403,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 60)},
            json={"message": "API rate limit exceeded"},
        )
        res = await w.invoke(w.alice, "gfi", language="rust")
    assert res.ephemeral and "rate limit" in res.content


async def test_a_flood_of_webhooks_slows_processing_but_never_stops_it(w: World) -> None:
    # While webhooks keep arriving, acking them comes first: the processor takes small batches and
    # rests between them. Here the intake never goes quiet, and every merge is still celebrated once.
    assert w.bot is not None
    await link_alice(w)
    w.bot.intake_busy = lambda: True  # type: ignore[method-assign]
    numbers = range(10, 20)
    for number in numbers:
        assert (await post_delivery(w, merged_pr_payload(number=number, title=f"flood {number}")))[0] == 202
    posts = await w.wait_for_posts(w.celebrations, len(numbers), timeout=10)
    titles = sorted(post["embeds"][0]["title"] for post in posts)
    assert titles == sorted(f"🎉 flood {n}" for n in numbers)
    await settle(w)
    assert len(w.fake.messages_in(w.celebrations, include_interactions=False)) == len(numbers)


# --- links from GitHub -----------------------------------------------------------------------------------

UNSAFE_LINKS = [
    "javascript:alert(document.cookie)//https://github.com/",
    "http://github.com/octo-org/Hello-World/pull/2",
    "https://evil.example/octo-org/Hello-World/pull/2",
    "https://github.com@evil.example/octo-org/Hello-World/pull/2",
    "https://github.com:8443/octo-org/Hello-World/pull/2",
    "https://github.com/octo-org/Hello-World/pull/2)[again](javascript:alert(1)",
    "https://github.com/o/r/pull/2> <img src=x onerror=alert(1)>",
]


@pytest.mark.parametrize("bad", UNSAFE_LINKS)
async def test_a_link_from_github_that_is_not_an_https_github_one_reaches_no_member(w: World, bad: str) -> None:
    import json

    await link_alice(w)
    relays = await w.fake.create_channel(w.guild, "github")
    with w.mock_github() as gh:
        gh.get("/repos/octo-org/Hello-World").respond(json={"full_name": "octo-org/Hello-World"})
        res = await w.invoke(w.admin, "github-admin subscribe", repo="octo-org/Hello-World", channel=relays)
    assert res.ephemeral and "Relaying" in res.content

    payload = json.loads(merged_pr_payload())
    payload["pull_request"]["html_url"] = bad
    assert (await post_delivery(w, json.dumps(payload).encode()))[0] == 202
    (post,) = await w.wait_for_posts(w.celebrations, 1)
    (relayed,) = await w.wait_for_posts(relays, 1)
    # The celebration links the PR as GitHub's address for it; the relay shows no link at all.
    assert post["embeds"][0]["url"] == "https://github.com/octo-org/hello-world/pull/2"
    assert "[octo-org/Hello-World#2](https://github.com/octo-org/hello-world/pull/2)" in description(post)
    assert "url" not in relayed["embeds"][0]
    for shown in (post, relayed):
        text = json.dumps(shown)
        assert "javascript" not in text and "evil" not in text and "http://" not in text and ":8443" not in text

    # The share drafts carry the same safe address, and no other.
    custom_id = post["components"][0]["components"][0]["custom_id"]
    drafts = await w.fake.click(w.guild, w.alice, post, custom_id)
    bodies = [embed["description"] for embed in drafts.embeds]
    assert all("https://github.com/octo-org/hello-world/pull/2" in body for body in bodies)
    assert not any("javascript" in body or "evil" in body for body in bodies)


def description(post: dict[str, Any]) -> str:
    return post["embeds"][0]["description"]


async def test_gfi_shows_no_unsafe_link_and_skips_a_malformed_issue(w: World) -> None:
    def issue(number: Any, url: str) -> dict[str, Any]:
        return {
            "number": number,
            "title": f"Issue {number}",
            "html_url": url,
            "repository_url": "https://api.github.com/repos/encode/httpx",
            "labels": [{"name": "good first issue"}],
            "comments": 0,
            "created_at": "2026-11-01T00:00:00Z",
        }

    items = [
        issue(12, "javascript:alert(1)"),
        "not an issue",
        issue("13; DROP", "https://github.com/encode/httpx/issues/13"),
        issue(14, "https://github.com/encode/httpx/issues/14"),
    ]
    with w.mock_github() as gh:
        gh.get("/search/issues").respond(json={"total_count": 4, "items": items})
        res = await w.invoke(w.alice, "gfi", language="python")
    lines = res.embeds[0]["description"].splitlines()
    assert lines == [
        "[encode/httpx#12](https://github.com/encode/httpx/issues/12) Issue 12",
        "[encode/httpx#14](https://github.com/encode/httpx/issues/14) Issue 14",
    ]
