"""Mentors by repository, the way members use it: /me mentor, /github who-knows and /goal add's hint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import GitHubAccount, GitHubMerge, GitHubProfile, Member
from bot.db.session import reading, transaction
from tests.conftest import NOW
from tests.harness import World, world

REPO = "encode/httpx"


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        yield w


async def link(w: World, member, github_id: int, login: str, merges: dict[str, int]) -> None:
    """Link `member` to `login`, with imported history: `merges` is repository -> merged PRs there."""
    async with transaction(w.sessionmaker) as session:
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
                        number=number,
                        merged_at=NOW - timedelta(days=30 * number),
                        source="history",
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
