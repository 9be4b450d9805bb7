"""The outbox contract, walked kind by kind through the real sender and the fake Discord.

Rows outlive upgrades: every kind in the registry (bot/services/messages/) is stored here in the
OLDEST payload shape a released version queued (from the git history of the services that build
them; for github.merged, the shape from before `repo_name`), straight into the outbox table, and
must be delivered. Every kind has exactly one renderer or action. And the sender asks the audience
module about every kind's subjects: a row about a member who left is not delivered to them, nor
does it mention them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import OutboxMessage
from bot.db.session import reading, transaction
from bot.services import audience, messages, outbox
from tests.harness import World, eventually, world


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        w.fake.add_text_channel(w.guild, "accountability")
        w.fake.add_text_channel(w.guild, "digest")
        for purpose in ("goals", "celebrations", "accountability", "digest"):
            channel = w.guild.channel_named(purpose)
            await w.invoke(w.admin, "settings channel", purpose=purpose, channel=channel)
        yield w


def posts(w: World, channel: Any) -> list[dict[str, Any]]:
    return w.fake.messages_in(channel, include_interactions=False)


async def setting_up(w: World) -> dict[str, int]:
    """What the rows refer to, made the way members and admins make it: alice and bob with goals
    (whose announcements the cleanup rows delete and edit), alice opted in to every DM, a role."""
    await w.invoke(w.alice, "goal add", text="ship the beta")
    await w.invoke(w.bob, "goal add", text="bob's goal")
    for command, options in (
        ("me streak-dms", {"enabled": True}),
        ("me recap-dms", {"enabled": True}),
        ("me review-nudges", {"mode": "dm"}),
    ):
        await w.invoke(w.alice, command, **options)
    alice_goal, bob_goal = await w.wait_for_posts(w.goals, 2)
    role = await w.fake.create_role(w.guild, "First PR")
    return {"alice_goal": int(alice_goal["id"]), "bob_goal": int(bob_goal["id"]), "role": role.id}


def oldest_rows(w: World, refs: dict[str, int]) -> dict[str, tuple[int | None, dict[str, Any]]]:
    """One row per kind, (channel, data), in the first shape a released version stored it in."""
    alice, bob = w.alice.id, w.bob.id
    goals, celebrations = w.goals.id, w.celebrations.id
    accountability, digest = w.guild.channel_named("accountability").id, w.guild.channel_named("digest").id
    start, end = w.clock() - timedelta(days=7), w.clock()
    return {
        "goal.added": (goals, {"number": 1, "user_id": alice, "text": "ship the beta", "due": None, "link": None}),
        "goal.done": (goals, {"number": 1, "user_id": alice, "text": "ship the beta", "due": None, "link": "o/r#2"}),
        "checkin.posted": (
            accountability,
            {"user_id": alice, "note": "wrote the docs", "link": None, "streak": 1, "cadence": "weekly"},
        ),
        "kudos": (celebrations, {"from_user_id": bob, "to_user_id": alice, "reason": "for the review"}),
        "milestone.streak": (celebrations, {"user_id": alice, "streak": 3, "cadence": "weekly"}),
        "milestone.goals": (celebrations, {"user_id": alice, "goals": 10}),
        # The ping of blocks: each member's mention on a line, then their goals.
        "rhythm.ping": (
            accountability,
            {
                "content": f"📣 **Weekly check-in!**\n<@{alice}>\n• `#1` ship the beta\n<@{bob}>\n• `#2` bob's goal",
                "user_ids": [alice, bob],
            },
        ),
        # No "period" yet.
        "rhythm.digest": (
            digest,
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "prs": {
                    "count": 1,
                    "authors": 1,
                    "latest": [
                        {
                            "user_id": bob,
                            "repo": "octo-org/hello-world",
                            "number": 2,
                            "title": "bob's fix",
                            "url": "https://github.com/octo-org/Hello-World/pull/2",
                        }
                    ],
                },
                "goals": {"set": 2, "finished": 0, "latest_finished": []},
                "streaks": [{"user_id": alice, "current": 3, "cadence": "weekly"}],
                "kudos": {"count": 1, "top": [{"user_id": alice, "count": 1}]},
            },
        ),
        "dm.streak": (
            None,
            {
                "user_id": alice,
                "streak": 3,
                "freezes": 0,
                "cadence": "weekly",
                "period": end.date().isoformat(),
                "ends_at": (end + timedelta(hours=20)).isoformat(),
            },
        ),
        "dm.recap": (
            None,
            {
                "user_id": alice,
                "start": start.isoformat(),
                "quiet": False,
                "drafts": {
                    key: f"My week on {key}: shipped the beta" for key in ("x", "bluesky", "mastodon", "linkedin")
                },
            },
        ),
        # Before repo_name, known, exact and source: the footer read data["repo_name"] and raised KeyError.
        "github.merged": (
            celebrations,
            {
                "merged_id": 1,
                "user_id": alice,
                "login": "Codertocat",
                "repo": "octo-org/hello-world",
                "number": 2,
                "title": "Update the README with new information.",
                "url": "https://github.com/octo-org/Hello-World/pull/2",
                "total": 1,
                "in_repo": 1,
                "milestones": ["prs:1"],
                "goals": [],
            },
        ),
        "github.merge_withdrawn": (celebrations, {"user_id": alice, "repo": "octo-org/hello-world", "number": 2}),
        "github.relay": (
            w.celebrations.id,
            {
                "kind": "releases",
                "action": "published",
                "repo": "octo-org/hello-world",
                "number": None,
                "title": "v1.0",
                "tag": "v1.0",
                "url": "https://github.com/octo-org/Hello-World/releases/v1.0",
                "author": "octocat",
                "labels": [],
            },
        ),
        "role.grant": (None, {"user_id": alice, "role_id": refs["role"], "reason": "Shiplog milestone prs:1"}),
        "dm.review_nudge": (
            None,
            {
                "user_id": alice,
                "prs": [
                    {
                        "ref": "encode/httpx#90",
                        "title": "Open work",
                        "url": "https://github.com/encode/httpx/pull/90",
                        "days": 10,
                        "text": "Hi! Friendly ping on this PR.",
                    }
                ],
            },
        ),
        "discord.delete": (goals, {"channel_id": goals, "message_id": refs["alice_goal"]}),
        "discord.edit": (
            goals,
            {
                "channel_id": goals,
                "message_id": refs["bob_goal"],
                "kind": "goal.added",
                "data": {"number": 2, "user_id": bob, "text": "bob's goal, redrawn", "due": None, "link": None},
            },
        ),
    }


async def store(w: World, rows: dict[str, tuple[int | None, dict[str, Any]]]) -> dict[str, int]:
    """Write the rows into the outbox table as they were left by the older version; return their ids."""
    ids = {}
    async with transaction(w.sessionmaker) as session:
        for kind, (channel_id, data) in rows.items():
            row = OutboxMessage(
                nonce=outbox.new_nonce(),
                guild_id=w.guild.id,
                channel_id=channel_id,
                kind=kind,
                data=data,
                fold_key=f"relay:{channel_id}" if kind == "github.relay" else None,
                next_attempt_at=w.clock(),
                created_at=w.clock(),
            )
            session.add(row)
            await session.flush()
            ids[kind] = row.id
    assert w.bot is not None
    w.bot.wake_outbox()
    return ids


async def settled(w: World, ids: dict[str, int]) -> dict[str, OutboxMessage]:
    """Wait until none of the rows is pending; return them by kind."""

    async def done() -> dict[str, OutboxMessage] | None:
        async with reading(w.sessionmaker) as session:
            rows = {
                r.kind: r
                for r in await session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids.values())))
            }
        return rows if all(r.status != "pending" for r in rows.values()) else None

    rows = await eventually(done, timeout=10)
    assert rows, "some rows are still pending"
    return rows


async def test_every_kind_has_exactly_one_renderer_or_action(w: World) -> None:
    assert w.bot is not None
    renderers, actions = set(w.bot.renderers), set(w.bot.actions)
    assert not renderers & actions, "a kind both drawn and acted on"
    assert renderers | actions == set(messages.KINDS)
    for kind, cls in messages.KINDS.items():
        assert kind == cls.KIND
        assert cls.decode(cls().encode()) == cls()  # a value survives its own round trip


async def test_a_row_of_every_kind_in_its_oldest_shape_is_delivered(w: World) -> None:
    refs = await setting_up(w)
    rows = oldest_rows(w, refs)
    assert set(rows) == set(messages.KINDS), "every kind needs its oldest shape here"
    stored = await settled(w, await store(w, rows))
    assert {kind: (row.status, row.last_error) for kind, row in stored.items()} == {
        kind: ("sent", None) for kind in rows
    }

    # What members see: the celebration from before repo_name names the repository and pings alice.
    (merged,) = [p for p in posts(w, w.celebrations) if p["content"].startswith("🎉")]
    assert "[octo-org/hello-world#2](" in merged["embeds"][0]["description"]
    assert merged["embeds"][0]["footer"]["text"] == "octo-org/hello-world · #2"
    assert merged["allowed_mentions"]["users"] == [w.alice.id]
    (ping,) = posts(w, w.guild.channel_named("accountability"))[-1:]
    assert ping["allowed_mentions"]["users"] == [w.alice.id, w.bob.id]
    (digest,) = posts(w, w.guild.channel_named("digest"))
    assert "What the server shipped this week, digest to digest: from <t:" in digest["embeds"][0]["description"]
    dms = w.fake.dms_to(w.alice)
    assert len(dms) == 3  # the streak, recap and review-nudge DMs
    assert any("streak in **Builders** is at risk" in dm["content"] for dm in dms)
    assert w.fake.requests_to("PUT", rf"/guilds/{w.guild.id}/members/{w.alice.id}/roles/{refs['role']}")
    assert w.fake.get_message(refs["alice_goal"]) is None  # deleted
    assert "redrawn" in str(w.fake.get_message(refs["bob_goal"])["embeds"])  # edited


async def test_the_sender_asks_the_audience_about_every_kind(w: World) -> None:
    """Alice left: no row of any kind reaches her or mentions her; what is about nobody (relays,
    clean-ups) goes out as before, and the ping and digest are drawn without her."""
    refs = await setting_up(w)
    rows = oldest_rows(w, refs)
    await w.fake.member_leave(w.alice)  # without the members intent, an admin tells Shiplog
    noted = await w.invoke(w.admin, "settings member-left", member=w.alice)
    assert "no longer mention alice" in noted.content
    stored = await settled(w, await store(w, rows))

    alice = f"<@{w.alice.id}>"
    for kind, (_, data) in rows.items():
        message = messages.decode(kind, data)
        row = stored[kind]
        if not message.subjects():
            assert kind in ("github.relay", "discord.delete", "discord.edit")  # about nobody
            assert row.status == "sent", kind
        elif kind in ("rhythm.ping", "rhythm.digest"):
            assert row.status == "sent", kind  # drawn without her
            posted = w.fake.get_message(row.message_id)
            assert alice not in str(posted["content"]) + str(posted["embeds"]), kind
            assert w.alice.id not in (posted["allowed_mentions"] or {}).get("users", []), kind
        else:
            assert (row.status, row.last_error) == ("failed", audience.DEPARTED_ERROR), kind
    assert w.fake.dms_to(w.alice) == []
    assert not w.fake.requests_to("PUT", rf"/members/{w.alice.id}/roles/")
    for channel in ("goals", "celebrations", "accountability", "digest"):
        for post in posts(w, w.guild.channel_named(channel)):
            if post["id"] == str(refs["alice_goal"]):
                continue  # her own announcement from before she left (deleted by its row, or kept)
            assert w.alice.id not in (post["allowed_mentions"] or {}).get("users", []), post
    (ping,) = posts(w, w.guild.channel_named("accountability"))
    assert ping["content"] == f"📣 **Weekly check-in!**\n<@{w.bob.id}>\n• `#2` bob's goal"
    # Admins see why in /settings show.
    shown = await w.invoke(w.admin, "settings show")
    failed = next(f["value"] for f in shown.embeds[0]["fields"] if f["name"] == "⚠️ Could not deliver")
    assert "not sent: the member it is about left the server" in failed


async def test_what_a_member_turned_off_or_asked_to_forget_is_not_sent(w: World) -> None:
    """The opt-ins are asked when a message goes out, not only when it is queued: alice turns off
    every message she had chosen, bob asks Shiplog to forget him; rows owed meanwhile reach neither."""
    refs = await setting_up(w)
    rows = oldest_rows(w, refs)
    for command, options in (
        ("me streak-dms", {"enabled": False}),
        ("me recap-dms", {"enabled": False}),
        ("me review-nudges", {"mode": "off"}),
        ("me reminders", {"enabled": False}),
    ):
        await w.invoke(w.alice, command, **options)
    res = await w.invoke(w.bob, "me forget")
    await w.fake.click(w.guild, w.bob, res, "shiplog:forget:yes")
    owed = {kind: rows[kind] for kind in ("dm.streak", "dm.recap", "dm.review_nudge", "rhythm.ping", "kudos")}
    stored = await settled(w, await store(w, owed))

    for kind in ("dm.streak", "dm.recap", "dm.review_nudge"):
        assert (stored[kind].status, stored[kind].last_error) == ("failed", audience.OPTED_OUT_ERROR), kind
    assert w.fake.dms_to(w.alice) == []
    # The ping named alice (reminders off) and bob (forgotten): nobody is left to mention.
    assert (stored["rhythm.ping"].status, stored["rhythm.ping"].last_error) == ("failed", audience.FORGOTTEN_ERROR)
    assert posts(w, w.guild.channel_named("accountability")) == []
    # Kudos from bob, who asked to be forgotten, to alice: not posted (it would name him).
    assert (stored["kudos"].status, stored["kudos"].last_error) == ("failed", audience.FORGOTTEN_ERROR)
    assert [p for p in posts(w, w.celebrations) if "kudos" in p["content"]] == []
