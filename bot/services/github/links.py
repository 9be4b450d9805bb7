"""Linking members to GitHub accounts: a one-time code shown on their profile, or an approval on GitHub (device.py)."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, GitHubLinkRequest, GitHubProfile
from bot.db.session import changed_rows, hold, reading, transaction
from bot.errors import NotFoundError, UserError
from bot.services.github.api import GitHubAPI, GitHubNotFound, GitHubUser, is_login, validate_login
from bot.services.github.history import drop_orphans, ensure_profile
from bot.services.github.urls import safe_url
from bot.services.guilds import ensure_guild

log = logging.getLogger(__name__)

CODE_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class LinkChallenge:
    """What the member must do to prove the account is theirs."""

    login: str
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    """A member's linked GitHub account."""

    user_id: int
    login: str
    github_id: int | None
    linked_at: datetime

    @property
    def url(self) -> str | None:
        """Return the profile URL (None when the login would not make a safe one)."""
        return safe_url(f"https://github.com/{self.login}")


def clean_login(login: str) -> str:
    """Return a GitHub login without '@' or a profile URL around it; refuse what cannot be a login."""
    value = re.sub(r"^(?:https?://)?(?:www\.)?github\.com/", "", login.strip(), flags=re.IGNORECASE).strip("/")
    return validate_login(value)


def _view(account: GitHubAccount) -> LinkedAccount:
    return LinkedAccount(account.user_id, account.login, account.github_id, account.linked_at)


async def _holder(
    session: AsyncSession, guild_id: int, *, github_id: int | None, login: str, other_than: int
) -> GitHubAccount | None:
    # Another member's link to this account, if any. Who a link belongs to is the numeric id: a link
    # showing this login under another id is only stale (that user renamed; `follow_login` sets it
    # aside). Without the id, the login is all there is.
    by_login = GitHubAccount.login_lower == login.lower()
    if github_id is not None:
        by_login = by_login & or_(GitHubAccount.github_id.is_(None), GitHubAccount.github_id == github_id)
    conditions = [by_login]
    if github_id is not None:
        conditions.append(GitHubAccount.github_id == github_id)
    return await session.scalar(
        select(GitHubAccount)
        .where(GitHubAccount.guild_id == guild_id, GitHubAccount.user_id != other_than, or_(*conditions))
        .limit(1)
    )


async def _store_profile(session: AsyncSession, account: GitHubAccount, now: datetime) -> None:
    # A newly linked account's history is imported by the radar's next pass (woken by the cog).
    if account.github_id is not None:
        await ensure_profile(session, account.github_id, account.login, now=now)


async def _store(
    session: AsyncSession, *, guild_id: int, user_id: int, login: str, github_id: int | None, by: int, now: datetime
) -> GitHubAccount:
    holder = await _holder(session, guild_id, github_id=github_id, login=login, other_than=user_id)
    if holder is not None:
        raise UserError(
            f"The GitHub account `{login}` is already linked to <@{holder.user_id}>. "
            "One account per member: they can `/github unlink` first."
        )
    await session.execute(
        delete(GitHubAccount).where(GitHubAccount.guild_id == guild_id, GitHubAccount.user_id == user_id)
    )
    await session.flush()
    if github_id is not None:
        await follow_login(session, github_id, login)  # a stale holder of the login steps aside
    account = GitHubAccount(
        guild_id=guild_id,
        user_id=user_id,
        github_id=github_id,
        login=login,
        login_lower=login.lower(),
        linked_by=by,
        linked_at=now,
    )
    session.add(account)
    await session.flush()
    await _store_profile(session, account, now)
    return account


async def start_link(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, login: str, now: datetime
) -> LinkChallenge:
    """Give the member a one-time code to put in their GitHub bio or a public gist."""
    login = clean_login(login)
    code = f"shiplog-{secrets.token_hex(4)}"
    async with transaction(sessionmaker) as session:
        await ensure_guild(session, guild_id)
        holder = await _holder(session, guild_id, github_id=None, login=login, other_than=user_id)
        if holder is not None:
            raise UserError(f"The GitHub account `{login}` is already linked to another member here.")
        request = await session.get(GitHubLinkRequest, (guild_id, user_id))
        if request is None:
            request = GitHubLinkRequest(guild_id=guild_id, user_id=user_id)
            session.add(request)
        request.login, request.code = login, code
        request.created_at, request.expires_at = now, now + CODE_LIFETIME
    return LinkChallenge(login, code, now + CODE_LIFETIME)


async def verify_link(
    sessionmaker: async_sessionmaker[AsyncSession], api: GitHubAPI, *, guild_id: int, user_id: int, now: datetime
) -> LinkedAccount:
    """Confirm the code through the GitHub API and link the account."""
    async with reading(sessionmaker) as session:
        request = await session.get(GitHubLinkRequest, (guild_id, user_id))
        if request is None:
            raise UserError("Start with `/github link username:<your login>`: it gives you a code to show.")
        if request.expires_at <= now:
            raise UserError("Your code has expired. Run `/github link` again for a new one.")
        login, code = request.login, request.code
    # The GitHub calls happen outside any transaction: they can take seconds.
    user = await api.get_user(login)
    if not await api.user_shows_code(user.login, code):
        raise UserError(
            f"I couldn't find `{code}` in the bio of github.com/{user.login} or in a public gist of theirs. "
            "Add it, wait a few seconds and try `/github verify` again."
        )
    async with transaction(sessionmaker) as session:
        account = await _store(
            session, guild_id=guild_id, user_id=user_id, login=user.login, github_id=user.id, by=user_id, now=now
        )
        await session.execute(
            delete(GitHubLinkRequest).where(
                GitHubLinkRequest.guild_id == guild_id, GitHubLinkRequest.user_id == user_id
            )
        )
        return _view(account)


async def link_approved(
    sessionmaker: async_sessionmaker[AsyncSession], user: GitHubUser, *, guild_id: int, user_id: int, now: datetime
) -> LinkedAccount:
    """Link the account the member approved Shiplog for on GitHub (the device flow, `device.py`).

    Their approval proves the account is theirs, as a verified code does; the rest of the rules are
    the same (one member per account). Bots never count: a bot account is refused.
    """
    if user.type != "User":
        raise UserError(
            f"`{user.login}` is a{'n' if user.type[:1] in 'AEIOU' else ''} {user.type.lower()} account on GitHub, "
            "not a person's: sign in to GitHub as yourself and run `/github link` again."
        )
    async with transaction(sessionmaker) as session:
        await ensure_guild(session, guild_id)
        account = await _store(
            session, guild_id=guild_id, user_id=user_id, login=user.login, github_id=user.id, by=user_id, now=now
        )
        # A code for the bio, asked for earlier, is no longer needed.
        await session.execute(
            delete(GitHubLinkRequest).where(
                GitHubLinkRequest.guild_id == guild_id, GitHubLinkRequest.user_id == user_id
            )
        )
        return _view(account)


async def admin_link(
    sessionmaker: async_sessionmaker[AsyncSession],
    api: GitHubAPI,
    *,
    guild_id: int,
    user_id: int,
    login: str,
    admin_id: int,
    now: datetime,
) -> LinkedAccount:
    """Link a member's account without a code (Manage Server); the numeric id is looked up when GitHub answers."""
    login = clean_login(login)
    user: GitHubUser | None = None
    try:
        user = await api.get_user(login)
    except GitHubNotFound:
        raise
    except UserError:
        user = None  # GitHub is down or rate limited: link by login, the id is learned from the first event
    async with transaction(sessionmaker) as session:
        await ensure_guild(session, guild_id)
        account = await _store(
            session,
            guild_id=guild_id,
            user_id=user_id,
            login=user.login if user else login,
            github_id=user.id if user else None,
            by=admin_id,
            now=now,
        )
        return _view(account)


async def unlink(sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int) -> LinkedAccount:
    """Remove the member's link (and any pending code)."""
    async with transaction(sessionmaker) as session:
        account = await session.scalar(
            select(GitHubAccount).where(GitHubAccount.guild_id == guild_id, GitHubAccount.user_id == user_id)
        )
        await session.execute(
            delete(GitHubLinkRequest).where(
                GitHubLinkRequest.guild_id == guild_id, GitHubLinkRequest.user_id == user_id
            )
        )
        if account is None:
            raise NotFoundError("You have no GitHub account linked here.")
        view = _view(account)
        await session.delete(account)
        await session.flush()
        # The radar stops watching at once; what it knew goes when no server links the account any more.
        await drop_orphans(session)
        return view


async def whois(sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int) -> LinkedAccount | None:
    """Return the member's linked account, if any."""
    async with reading(sessionmaker) as session:
        account = await session.scalar(
            select(GitHubAccount).where(GitHubAccount.guild_id == guild_id, GitHubAccount.user_id == user_id)
        )
        return _view(account) if account else None


async def members_for(session: AsyncSession, *, github_id: int | None, login: str) -> list[GitHubAccount]:
    """Return every guild's link for this GitHub user: by numeric id, else by login (case-insensitive).

    A link made by login learns the numeric id here, so a later rename keeps it; the login GitHub
    gives is followed everywhere (`follow_login`).
    """
    if github_id is None:
        accounts = list(
            await session.scalars(
                select(GitHubAccount).where(
                    GitHubAccount.login_lower == login.lower(), GitHubAccount.github_id.is_(None)
                )
            )
        )
        for account in accounts:
            account.login = login
        return accounts
    if login:
        settled = await _settled_links(session, github_id, login)
        if settled is not None:
            return settled
        await adopt_id(session, github_id, login)
        await follow_login(session, github_id, login)
    return list(await session.scalars(select(GitHubAccount).where(GitHubAccount.github_id == github_id)))


async def _settled_links(session: AsyncSession, github_id: int, login: str) -> list[GitHubAccount] | None:
    """Return the user's links when nothing is left to adopt or follow (the usual case), in one query;
    None when `adopt_id` or `follow_login` has something to do.

    Settled: every link showing `login` is this user's, and every link to this user shows `login`,
    exactly, and so does the profile. Then those two would change nothing, and their four queries
    (and two writes) are saved for each merge.
    """
    if not is_login(login):
        return None
    lower = login.lower()
    links = list(
        await session.scalars(
            select(GitHubAccount).where(or_(GitHubAccount.github_id == github_id, GitHubAccount.login_lower == lower))
        )
    )
    if any(link.github_id != github_id or link.login != login or link.login_lower != lower for link in links):
        return None
    profile = await session.get(GitHubProfile, github_id)
    if profile is not None and profile.login != login:
        return None
    if profile is not None:
        hold(session, profile)  # the merge reads it next (history.ensure_profile)
    return links


# A link whose login now belongs to another GitHub user keeps its display login and has this prefix and its
# row id in `login_lower`: no login contains "#", and row ids are unique, so it matches no login and
# never collides with another link.
STALE_LOGIN = "#"


async def adopt_id(session: AsyncSession, github_id: int, login: str) -> int:
    """Give the links an admin made by `login` (no id known yet) GitHub's numeric id; return how many.

    A server that already links this id to someone keeps that link: the one by login is left as it is.
    """
    linked_here = select(GitHubAccount.guild_id).where(GitHubAccount.github_id == github_id)
    result = await session.execute(
        update(GitHubAccount)
        .where(
            GitHubAccount.login_lower == login.lower(),
            GitHubAccount.github_id.is_(None),
            GitHubAccount.guild_id.not_in(linked_here),
        )
        .values(github_id=github_id)
        .execution_options(synchronize_session="fetch")
    )
    return changed_rows(result)


async def follow_login(session: AsyncSession, github_id: int, login: str) -> None:
    """Make `login` what GitHub user `github_id` is called, on its profile and on every link to it.

    Identity is the numeric id; a login is only a display name, and two users can swap theirs. So a
    link still showing this login for another user is stale: it steps aside first (its `login_lower`
    becomes STALE_LOGIN and its row id), in this same transaction, and no unique constraint on
    (guild, login_lower) can fail whatever order renames are learned in. That user's own new login is
    followed when GitHub names it.
    """
    if not is_login(login):
        log.warning("not following GitHub user %s to %.60r: that is no GitHub login", github_id, login)
        return
    lower = login.lower()
    await session.flush()
    linked_here = select(GitHubAccount.guild_id).where(GitHubAccount.github_id == github_id)
    stale = (
        await session.execute(
            select(GitHubAccount.id).where(
                GitHubAccount.login_lower == lower,
                or_(
                    GitHubAccount.github_id != github_id,
                    GitHubAccount.github_id.is_(None) & GitHubAccount.guild_id.in_(linked_here),
                ),
            )
        )
    ).scalars()
    for row_id in list(stale):
        log.info("GitHub login %s now belongs to user %s: link row %s set aside", login, github_id, row_id)
        await session.execute(
            update(GitHubAccount)
            .where(GitHubAccount.id == row_id)
            .values(login_lower=f"{STALE_LOGIN}{row_id}")
            .execution_options(synchronize_session="fetch")
        )
    await session.execute(
        update(GitHubAccount)
        .where(
            GitHubAccount.github_id == github_id, or_(GitHubAccount.login != login, GitHubAccount.login_lower != lower)
        )
        .values(login=login, login_lower=lower)
        .execution_options(synchronize_session="fetch")
    )
    profile = await session.get(GitHubProfile, github_id)
    if profile is not None and profile.login != login:
        profile.login = login
