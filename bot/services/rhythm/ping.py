"""The accountability ping's text: who it mentions and how, laid out in messages that fit, and the
removal of one member from a ping already written (when they opt out before it is delivered).

Pure: no database, no Discord. The run (`runs`) works out who is due and queues what this writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.db.models import Guild
from bot.services.wording import noun, period_word

MESSAGE_LIMIT = 2000

# The ping's text and the removal of a member from it live here together: `pack_ping` lays the ping
# out from `ping_token`s, and `drop_from_ping` (used by messages.Ping) takes one member's token out again.
WAITING_MARK = "⏳"  # after a member's mention: a PR of theirs waits for a first review
STREAK_MARK = "🔥"  # opens a line of members whose N-period streak is at risk: "🔥3 <@a> <@b>"
_USER_MENTION = re.compile(r"<@!?[0-9]+>")


def ping_token(user_id: int, *, waiting: bool = False) -> str:
    """Write one member's part of a ping: their mention, and the review-wait mark if it applies."""
    return f"<@{user_id}>" + (f" {WAITING_MARK}" if waiting else "")


def drop_from_ping(content: str, user_id: int) -> str:
    """Return a ping's text without the member's part (their `ping_token`).

    A ping is lines of mentions, each mention maybe followed by a mark ("🔥3 <@a> <@b> ⏳"). Older
    pings were blocks: a line starting with the member's mention, then their "• " goal lines.
    """
    token = re.compile(rf"\s*<@{user_id}>(?: {WAITING_MARK})?")
    kept, skipping = [], False
    for line in content.split("\n"):
        if skipping and line.startswith("• "):
            continue
        skipping = False
        if token.search(line) is None:
            kept.append(line)
            continue
        rest = token.sub("", line).strip()
        if _USER_MENTION.search(rest) is None:
            # Nobody else on the line: drop it, and an older block's goal lines after it.
            skipping = line.startswith(f"<@{user_id}>")
            continue
        kept.append(rest)
    return "\n".join(kept)


@dataclass(frozen=True, slots=True)
class PingSettings:
    """Who the ping mentions: members with an open goal, or only those of them with no check-in since
    the previous ping (`quiet_only`); at most `cap` of them (None: all), the rest named as a count and,
    if set, through `role_id`."""

    quiet_only: bool = False
    cap: int | None = None
    role_id: int | None = None

    @classmethod
    def of(cls, guild: Guild) -> PingSettings:
        """Read a guild's ping settings."""
        return cls(bool(guild.ping_quiet_only), guild.ping_cap, guild.ping_role_id)


@dataclass(frozen=True, slots=True)
class WaitingPR:
    """An open PR with no review, older than the server's setting (github.nudges finds them; the ping
    and the nudges show them)."""

    repo: str
    number: int
    title: str
    url: str | None  # None when the stored address is not a safe GitHub link
    days: int

    @property
    def ref(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True, slots=True)
class DueMember:
    """A member the ping may mention, their streak if it is at risk, and their PRs waiting for a first
    review (for members who chose nudges in the ping)."""

    user_id: int
    open_goals: int = 0
    streak_at_risk: int = 0
    waiting: tuple[WaitingPR, ...] = ()


@dataclass(frozen=True, slots=True)
class PingMessage:
    """One message of the ping and exactly the members (and role) it mentions."""

    content: str
    user_ids: tuple[int, ...]
    role_ids: tuple[int, ...] = ()


def ping_header(cadence: str = "weekly", *, quiet_only: bool = False) -> str:
    """Write the ping's first lines: what it asks, where the goals are, and what its marks mean."""
    period = period_word(cadence)
    asks = (
        "No check-in since the last ping from the members below: how are your goals going?"
        if quiet_only
        else "How are your goals going?"
    )
    return (
        f"📣 **Weekly check-in!** {asks} Share progress with `/checkin`; your goals are in `/goal list`, "
        f"the week is in the digest.\n-# {STREAK_MARK}N: your N-{period} streak is at risk, check in this "
        f"{period} · {WAITING_MARK}: a PR waits for a review (`/github prs`) · `/me reminders` turns these off."
    )


PING_HEADER = ping_header()


def member_token(member: DueMember) -> str:
    """Write one member's part of the ping: the mention, and the review-wait mark if they chose it."""
    return ping_token(member.user_id, waiting=bool(member.waiting))


def overflow_line(count: int, *, quiet_only: bool, role_id: int | None) -> str:
    """Name the members past the cap as a count, and mention the role if one is set."""
    who = "who haven't checked in since the last ping" if quiet_only else "with open goals"
    line = f"…and **{count:,}** more {noun(count, 'member')} {who}"
    return line + (f": <@&{role_id}>" if role_id else ".")


def pack_ping(
    members: Sequence[DueMember],
    *,
    header: str = PING_HEADER,
    overflow: str = "",
    role_ids: Sequence[int] = (),
    limit: int = MESSAGE_LIMIT,
) -> list[PingMessage]:
    """Lay the ping out in as few messages as fit, members in the order given.

    Members whose streak is at risk share a line that starts with its length ("🔥3 <@a> <@b>"), the
    rest share lines of mentions. Each message is filled before the next is opened, so every message
    but the last has less room left than one member's part. The header opens the first message; the
    `overflow` line (naming who is past the cap, and mentioning `role_ids`) closes the last.
    """
    messages: list[PingMessage] = []
    lines: list[str] = [header] if header else []
    size = len(header)
    users: list[int] = []
    group: int | None = None  # the streak the last line is for, None before a line of members

    def close() -> None:
        nonlocal lines, size, users, group
        if lines:
            messages.append(PingMessage("\n".join(lines), tuple(users)))
        lines, size, users, group = [], 0, [], None

    for member in members:
        token = member_token(member)
        if member.streak_at_risk == group:
            piece = " " + token
        else:
            prefix = f"{STREAK_MARK}{member.streak_at_risk} " if member.streak_at_risk else ""
            piece = ("\n" if lines else "") + prefix + token
        if size + len(piece) > limit:
            close()
            prefix = f"{STREAK_MARK}{member.streak_at_risk} " if member.streak_at_risk else ""
            piece = prefix + token
            if len(piece) > limit:
                raise ValueError(f"a member's part of {len(piece)} characters does not fit in a message")
        if member.streak_at_risk == group:
            lines[-1] += piece
        else:
            lines.append(piece.lstrip("\n"))
        size += len(piece)
        users.append(member.user_id)
        group = member.streak_at_risk
    if overflow:
        if lines and size + 1 + len(overflow) > limit:
            close()
        lines.append(overflow)
        messages.append(PingMessage("\n".join(lines), tuple(users), tuple(role_ids)))
    else:
        close()
    return messages


def plan_ping(
    members: Sequence[DueMember], settings: PingSettings, *, cadence: str = "weekly", limit: int = MESSAGE_LIMIT
) -> tuple[list[PingMessage], list[DueMember]]:
    """Return the ping's messages and the members they mention: at most the cap of them, the rest named
    as a count (and through the role). No members due: no messages."""
    if not members:
        return [], []
    shown = list(members if settings.cap is None else members[: settings.cap])
    rest = len(members) - len(shown)
    overflow = overflow_line(rest, quiet_only=settings.quiet_only, role_id=settings.role_id) if rest else ""
    role_ids = (settings.role_id,) if rest and settings.role_id else ()
    header = ping_header(cadence, quiet_only=settings.quiet_only)
    return pack_ping(shown, header=header, overflow=overflow, role_ids=role_ids, limit=limit), shown
