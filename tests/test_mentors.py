"""Mentors by repository (bot/services/github/mentors.py): who merged where, named only when opted in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, GitHubMerge, GitHubProfile, Member, MergedPullRequest
from bot.db.session import reading, transaction
from bot.errors import UserError
from bot.services import privacy
from bot.services.github import mentors
from bot.services.guilds import ensure_guild
from tests.conftest import NOW

GUILD = 1
ALICE, BOB, CAROL, DAVE, ROBOT = 11, 12, 13, 14, 15
REPO = "encode/httpx"


async def _link(session: AsyncSession, user_id: int, github_id: int, login: str) -> None:
    session.add(GitHubProfile(id=github_id, login=login, history_status="done"))
    session.add(
        GitHubAccount(guild_id=GUILD, user_id=user_id, github_id=github_id, login=login, login_lower=login.lower())
    )


def _history(github_id: int, repo: str, number: int, days_ago: int, *, private: bool = False) -> GitHubMerge:
    return GitHubMerge(
        github_id=github_id,
        repo=repo,
        number=number,
        merged_at=NOW - timedelta(days=days_ago),
        source="history",
        private=private,
    )


def _server(user_id: int, repo: str, number: int, days_ago: int, *, private: bool = False) -> MergedPullRequest:
    return MergedPullRequest(
        guild_id=GUILD,
        user_id=user_id,
        github_id=None,
        repo=repo,
        number=number,
        title="Fix",
        url=f"https://github.com/{repo}/pull/{number}",
        merged_at=NOW - timedelta(days=days_ago),
        private=private,
    )


@pytest.fixture
async def server(sessionmaker: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Alice: 3 merges in httpx (history and webhook, one PR seen by both). Bob: 1. Carol: 2, not
    opted in. Dave: 4, but left. A bot-linked account: 5. A private merge of Bob's in httpx-secret."""
    async with transaction(sessionmaker) as session:
        await ensure_guild(session, GUILD)
        for user_id, github_id, login in (
            (ALICE, 101, "alice"),
            (BOB, 102, "bob"),
            (CAROL, 103, "carol"),
            (DAVE, 104, "dave"),
            (ROBOT, 105, "helper[bot]"),
        ):
            await _link(session, user_id, github_id, login)
        await session.flush()
        session.add_all(
            [
                _history(101, REPO, 1, 300),
                _history(101, REPO, 2, 200),
                _server(ALICE, REPO, 2, 200),  # the same PR, from a webhook: counted once
                _server(ALICE, REPO, 3, 10),
                _server(BOB, REPO, 4, 5),
                _history(103, REPO, 5, 50),
                _history(103, REPO, 6, 40),
                *[_history(104, REPO, 10 + n, 30) for n in range(4)],
                *[_history(105, REPO, 20 + n, 30) for n in range(5)],
                _history(104, "dave/solo", 1, 30),
                _history(105, "bots/only", 1, 30),
                _history(102, "bob/httpx-secret", 1, 3, private=True),
                _server(BOB, "bob/httpx-secret", 1, 3, private=True),
            ]
        )
        session.add_all(
            [
                Member(guild_id=GUILD, user_id=ALICE, mentor=True, mentor_note="ask me about transports"),
                Member(guild_id=GUILD, user_id=BOB, mentor=True),
                Member(guild_id=GUILD, user_id=CAROL),
                Member(guild_id=GUILD, user_id=DAVE, mentor=True, left_at=NOW),
                Member(guild_id=GUILD, user_id=ROBOT, mentor=True),
            ]
        )
    return sessionmaker


async def test_who_knows_names_opted_in_members_most_merges_first_and_counts_the_rest(server) -> None:
    found = await mentors.who_knows(server, guild_id=GUILD, repo="ENCODE/httpx")
    assert found.repo == REPO
    assert [(m.user_id, m.merges, m.last_merged_at, m.note) for m in found.mentors] == [
        (ALICE, 3, NOW - timedelta(days=10), "ask me about transports"),
        (BOB, 1, NOW - timedelta(days=5), None),
    ]
    # Carol did not opt in: counted. Dave left and the bot is a bot: neither named nor counted.
    assert found.others == 1


async def test_a_private_repository_names_and_counts_nobody(server) -> None:
    found = await mentors.who_knows(server, guild_id=GUILD, repo="bob/httpx-secret")
    assert (found.mentors, found.others, found.anyone) == ([], 0, False)


async def test_a_merge_one_path_saw_as_private_is_never_counted(server) -> None:
    async with transaction(server) as session:
        session.add(_server(CAROL, REPO, 5, 50, private=True))
    found = await mentors.who_knows(server, guild_id=GUILD, repo=REPO)
    assert found.others == 1  # Carol still has #6
    async with transaction(server) as session:
        session.add(_server(CAROL, REPO, 6, 40, private=True))
    assert (await mentors.who_knows(server, guild_id=GUILD, repo=REPO)).others == 0


async def test_another_server_sees_nothing_of_this_one(server) -> None:
    found = await mentors.who_knows(server, guild_id=2, repo=REPO)
    assert not found.anyone


async def test_people_for_leaves_out_the_member_asking(server) -> None:
    async with reading(server) as session:
        found = await mentors.people_for(session, GUILD, REPO, leave_out=ALICE)
    assert [m.user_id for m in found.mentors] == [BOB]


async def test_merged_repos_completes_public_repositories_busiest_first(server) -> None:
    # Not the private one, nor where only a member who left (dave/solo) or a bot (bots/only) merged.
    assert await mentors.merged_repos(server, guild_id=GUILD, typed="") == [REPO]
    assert await mentors.merged_repos(server, guild_id=GUILD, typed="HTTP") == [REPO]
    assert await mentors.merged_repos(server, guild_id=GUILD, typed="secret") == []
    assert await mentors.merged_repos(server, guild_id=GUILD, typed="%") == []


async def test_opting_in_keeps_the_note_and_opting_out_deletes_it(sessionmaker) -> None:
    setting = await mentors.set_mentor(
        sessionmaker, guild_id=GUILD, user_id=ALICE, enabled=True, note="  docs\n and  CI "
    )
    assert setting == mentors.MentorSetting(True, "docs and CI")
    setting = await mentors.set_mentor(sessionmaker, guild_id=GUILD, user_id=ALICE, enabled=True)
    assert setting == mentors.MentorSetting(True, "docs and CI")
    setting = await mentors.set_mentor(sessionmaker, guild_id=GUILD, user_id=ALICE, enabled=False)
    assert setting == mentors.MentorSetting(False, None)


async def test_a_note_too_long_is_refused(sessionmaker) -> None:
    with pytest.raises(UserError, match="up to 100 characters"):
        await mentors.set_mentor(sessionmaker, guild_id=GUILD, user_id=ALICE, enabled=True, note="x" * 101)


async def test_export_shows_the_opt_in_and_forget_erases_it(server) -> None:
    exported = await privacy.export(server, guild_id=GUILD, user_id=ALICE, now=NOW)
    assert b'"mentor": true' in exported
    assert b"ask me about transports" in exported
    await privacy.forget(server, guild_id=GUILD, user_id=ALICE, now=NOW)
    found = await mentors.who_knows(server, guild_id=GUILD, repo=REPO)
    assert [m.user_id for m in found.mentors] == [BOB]
    assert found.others == 1


@pytest.mark.parametrize(
    "typed",
    [
        "encode/httpx",
        " Encode/HTTPX ",
        "https://github.com/encode/httpx",
        "github.com/encode/httpx/pull/3?diff=split",
        "https://www.github.com/encode/httpx/issues/7#top",
        "encode/httpx.git",
    ],
)
def test_parse_repo_reads_a_name_or_any_address_inside_the_repository(typed: str) -> None:
    assert mentors.parse_repo(typed).lower() == REPO


@pytest.mark.parametrize("typed", ["httpx", "https://github.com/encode", "a b/c", "https://gitlab.com/encode/httpx"])
def test_parse_repo_refuses_what_is_not_a_repository(typed: str) -> None:
    with pytest.raises(UserError, match="isn't a GitHub repository"):
        mentors.parse_repo(typed)
