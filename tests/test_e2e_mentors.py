"""Mentors by repository, the way members use it: /me mentor, /github who-knows and /goal add's hint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import GitHubAccount, GitHubMerge, GitHubProfile, Member
from bot.db.session import reading, transaction
from bot.playground.samples import merged_pr_payload
from bot.services.guilds import ensure_guild
from tests.conftest import NOW
from tests.harness import World, eventually, world
from tests.test_e2e_github import OCTO_ID, post_delivery

REPO = "octo-org/hello-world"  # where the sample webhook merges


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        yield w


async def link(w: World, member, github_id: int, login: str, merges: dict[str, int], *, private: bool = False) -> None:
    """Link `member` to `login`, with imported history: `merges` is repository -> merged PRs there."""
    async with transaction(w.sessionmaker) as session:
        await ensure_guild(session, w.guild.id)
        session.add(GitHubProfile(id=github_id, login=login, history_status="done"))
        session.add(
            GitHubAccount(
                guild_id=w.guild.id, user_id=member.id, github_id=github_id, login=login, login_lower=login.lower()
            )
        )
        await session.flush()
        for repo, count in merges.items():
            for number in range(1, count + 1):
                session.add(
                    GitHubMerge(
                        github_id=github_id,
                        repo=repo,
                        number=100 + number,
                        merged_at=NOW - timedelta(days=30 * number),
                        source="history",
                        private=private,
                    )
                )


def no_pings(res) -> None:
    assert res.ephemeral
    assert res.allowed_mentions["parse"] == []
    assert not res.allowed_mentions.get("users")
    assert res.message["mentions"] == []


async def test_me_mentor_opts_in_with_a_note_and_out_again(w: World) -> None:
    res = await w.invoke(w.alice, "me mentor", enabled=True, note="happy to review **docs** PRs")
    no_pings(res)
    assert "name you as someone who can help" in res.content
    assert "happy to review \\*\\*docs\\*\\* PRs" in res.content
    async with reading(w.sessionmaker) as session:
        member = await session.scalar(select(Member).where(Member.user_id == w.alice.id))
    assert member is not None and member.mentor and member.mentor_note == "happy to review **docs** PRs"

    res = await w.invoke(w.alice, "me mentor", enabled=False)
    no_pings(res)
    assert "no longer named as a mentor" in res.content
    async with reading(w.sessionmaker) as session:
        member = await session.scalar(select(Member).where(Member.user_id == w.alice.id))
    assert member is not None and not member.mentor and member.mentor_note is None


async def test_a_mentor_is_off_by_default(w: World) -> None:
    await w.invoke(w.alice, "me timezone", tz="Europe/Berlin")
    async with reading(w.sessionmaker) as session:
        member = await session.scalar(select(Member).where(Member.user_id == w.alice.id))
    assert member is not None and not member.mentor


async def a_server_with_merges(w: World) -> None:
    """Alice (Codertocat): 2 merges in the history import and 1 by webhook, opted in with a note.
    Bob: 1 merge in the history, not opted in. Alice also merged in a private repository."""
    await link(w, w.alice, OCTO_ID, "Codertocat", {REPO: 2})
    await link(w, w.bob, 7, "bobcat", {REPO: 1})
    async with transaction(w.sessionmaker) as session:
        session.add(
            GitHubMerge(github_id=OCTO_ID, repo="alice/stealth", number=1, merged_at=NOW, source="radar", private=True)
        )
    status, _ = await post_delivery(w, merged_pr_payload(merged_at="2026-11-20T10:00:00Z"))
    assert status == 202
    await eventually(lambda: count_merges(w), timeout=10)
    await w.invoke(w.alice, "me mentor", enabled=True, note="ask me about the <@&1> release @everyone")


async def count_merges(w: World) -> bool:
    async with reading(w.sessionmaker) as session:
        found = await session.scalar(
            select(GitHubMerge.id).where(GitHubMerge.github_id == OCTO_ID, GitHubMerge.source == "webhook")
        )
    return found is not None


async def test_who_knows_names_mentors_most_merges_first_and_only_counts_the_others(w: World) -> None:
    await a_server_with_merges(w)
    res = await w.invoke(w.admin, "github who-knows", repo="https://github.com/OCTO-ORG/Hello-World/pull/2")
    no_pings(res)
    assert res.content.startswith("🤝 Who can help in **OCTO-ORG/Hello-World**")
    lines = res.embed["description"].split("\n")
    assert lines[0].startswith(f"<@{w.alice.id}> · **3 merged PRs**, the last <t:")
    assert lines[0].endswith("· “ask me about the <@&1> release @\u200beveryone”")  # in an embed: pings nobody
    assert "<t:1795168800:D>" in lines[0]  # the webhook's merge, 2026-11-20: her last there
    assert lines[1:] == ["and 1 more member has merged PRs here."]
    assert str(w.bob.id) not in res.content + res.embed["description"]


async def test_who_knows_without_mentors_only_counts(w: World) -> None:
    await link(w, w.bob, 7, "bobcat", {REPO: 1})
    res = await w.invoke(w.bob, "github who-knows", repo=REPO.upper())
    no_pings(res)
    assert res.content.startswith("1 member has merged PRs in **OCTO-ORG/HELLO-WORLD**, but none")
    assert "`/me mentor`" in res.content and not res.embeds


async def test_a_repository_nobody_merged_in_gets_a_kind_line_suggesting_gfi(w: World) -> None:
    await a_server_with_merges(w)
    for repo in ("pallets/flask", "alice/stealth"):  # nobody, and a private repository
        res = await w.invoke(w.bob, "github who-knows", repo=repo)
        no_pings(res)
        assert res.content.startswith("Nobody here has merged a PR in")
        assert f"`/gfi repo:{repo}`" in res.content
        assert not res.embeds


async def test_bad_input_gets_a_polite_ephemeral_answer(w: World) -> None:
    res = await w.invoke(w.bob, "github who-knows", repo="not a repository")
    assert res.ephemeral
    assert "isn't a GitHub repository" in res.content


async def test_autocomplete_offers_the_public_repositories_members_merged_in(w: World) -> None:
    await a_server_with_merges(w)
    choices = await w.autocomplete(w.bob, "github who-knows", "repo", "HELLO")
    assert [c["value"] for c in choices] == [REPO]
    assert await w.autocomplete(w.bob, "github who-knows", "repo", "stealth") == []


async def test_a_mentor_who_left_is_neither_named_nor_counted(w: World) -> None:
    await a_server_with_merges(w)
    await w.fake.member_leave(w.alice)
    noted = await w.invoke(w.admin, "settings member-left", member=w.alice)
    assert "no longer mention alice" in noted.content
    res = await w.invoke(w.bob, "github who-knows", repo=REPO)
    assert res.content.startswith("1 member has merged PRs in **octo-org/hello-world**")  # bob
    assert str(w.alice.id) not in res.content


async def test_a_mentor_who_opted_out_is_only_counted(w: World) -> None:
    await a_server_with_merges(w)
    await w.invoke(w.alice, "me mentor", enabled=False)
    res = await w.invoke(w.bob, "github who-knows", repo=REPO)
    assert res.content.startswith("2 members have merged PRs in **octo-org/hello-world**, but none")
    assert not res.embeds


async def test_goal_add_with_a_link_names_who_can_help_and_pings_nobody(w: World) -> None:
    await a_server_with_merges(w)
    res = await w.invoke(
        w.bob, "goal add", text="fix the docs", link="https://github.com/octo-org/Hello-World/issues/5"
    )
    no_pings(res)
    last = res.content.splitlines()[-1]
    assert last.startswith(f"🤝 Who can help: <@{w.alice.id}> (3 merged PRs) merged in **octo-org/hello-world**")
    assert "`/github who-knows repo:octo-org/hello-world`" in last
    assert str(w.bob.id) not in res.content

    # Alice is not named to herself (bob did not opt in), nor anyone for a repository nobody merged in.
    for member, link in ((w.alice, "octo-org/hello-world#6"), (w.bob, "pallets/flask#1"), (w.bob, None)):
        res = await w.invoke(member, "goal add", text="another goal", **({"link": link} if link else {}))
        no_pings(res)
        assert "Who can help" not in res.content


async def test_me_export_shows_the_opt_in_and_me_forget_removes_the_mentor(w: World) -> None:
    await a_server_with_merges(w)
    exported = json.loads((await w.invoke(w.alice, "me export")).files[0].data)
    (member,) = exported["members"]
    assert member["mentor"] is True and member["mentor_note"] == "ask me about the <@&1> release @everyone"

    res = await w.invoke(w.alice, "me forget")
    done = await w.fake.click(w.guild, w.alice, res, "shiplog:forget:yes")
    await done.wait_for(lambda r: "deleted everything" in (r.content or ""), timeout=10)
    res = await w.invoke(w.bob, "github who-knows", repo=REPO)
    # Alice's account and history are gone with her: only bob is left, counted.
    assert res.content.startswith("1 member has merged PRs in **octo-org/hello-world**, but none")
    assert str(w.alice.id) not in res.content
