"""The outbox contract: every kind of message Shiplog owes, as a typed value.

Each kind is a frozen dataclass with its `KIND` (the outbox row's `kind` column), `encode()` (the
row's JSON `data`) and `decode(data)`, which reads every shape the payload ever had: rows outlive
upgrades, so a row queued by an older version (a `github.merged` row from before `repo_name`, say)
is still delivered. A key that is missing takes its default; nothing in a stored payload is required.

Each value also says who it is about (`subjects()`): the members it DMs, pings, celebrates or names,
with the opt-in that must allow it. The outbox sender asks `bot.services.audience` about those
subjects right before it draws or acts. A message about several members (the weekly ping, the
digest) can be drawn without some of them (`without`); every other message is about its members
as a whole, and is not sent at all when one of them may not be addressed.

Services enqueue these values (`outbox.enqueue(session, message, ...)`); the cogs register one
renderer or action per `KIND` (bot.renderers / bot.actions) and receive the decoded value.

No Discord imports here.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, ClassVar, Self

__all__ = [
    "KINDS",
    "CheckinPosted",
    "Digest",
    "DiscordDelete",
    "DiscordEdit",
    "GoalAdded",
    "GoalDone",
    "GoalsMilestone",
    "Kudos",
    "Merged",
    "Message",
    "Ping",
    "RecapDM",
    "Relay",
    "ReviewNudge",
    "Role",
    "RoleGrant",
    "StreakDM",
    "StreakMilestone",
    "Subject",
    "UnknownKind",
    "decode",
]


class Role(StrEnum):
    """How a message addresses a member."""

    DM = "dm"  # a direct message to them
    MENTION = "mention"  # a post that pings them
    CELEBRATE = "celebrate"  # a post about them (their goal, check-in, merge, a role given to them)
    NAME = "name"  # a line of history in a post about many (the digest's merged PRs and goals)


class OptIn(StrEnum):
    """A member's own setting that must allow a message (see audience.OPT_INS)."""

    REMINDERS = "reminders"
    STREAK_DMS = "streak_dms"
    RECAP_DMS = "recap_dms"
    REVIEW_NUDGE_DMS = "review_nudges:dm"


@dataclass(frozen=True, slots=True)
class Subject:
    """A member a message addresses, how, and the opt-in (if any) that must allow it."""

    user_id: int
    role: Role
    opt_in: OptIn | None = None


class UnknownKind(KeyError):
    """An outbox row of a kind this version does not know."""


# --- reading stored values --------------------------------------------------------------------------


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        return default


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _str(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ints(value: Any) -> tuple[int, ...]:
    return tuple(_int(v) for v in _list(value))


class Message:
    """What every kind has (the kinds below are frozen dataclasses)."""

    KIND: ClassVar[str]
    # Rows of this kind due together for one channel may be drawn as one message (outbox fold_key).
    FOLDS: ClassVar[bool] = False

    def encode(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        raise NotImplementedError

    def subjects(self) -> tuple[Subject, ...]:
        """The members this message DMs, pings, celebrates or names."""
        return ()

    def without(self, refused: Collection[Subject]) -> Self | None:
        """This message without the `refused` subjects, or None when it cannot be sent without them.

        A message about one member (or two, as kudos) is about them as a whole: None."""
        return None if any(subject in refused for subject in self.subjects()) else self


# --- goals ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _GoalMessage(Message):
    user_id: int = 0
    number: int = 0
    text: str = ""
    due: str | None = None  # ISO date
    link: str | None = None  # owner/repo#number

    def encode(self) -> dict[str, Any]:
        return {"number": self.number, "user_id": self.user_id, "text": self.text, "due": self.due, "link": self.link}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            user_id=_int(data.get("user_id")),
            number=_int(data.get("number")),
            text=_str(data.get("text")),
            due=_opt_str(data.get("due")),
            link=_opt_str(data.get("link")),
        )

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.user_id, Role.CELEBRATE),)


@dataclass(frozen=True, slots=True)
class GoalAdded(_GoalMessage):
    """A new public goal, announced in the goals channel."""

    KIND: ClassVar[str] = "goal.added"


@dataclass(frozen=True, slots=True)
class GoalDone(_GoalMessage):
    """A finished goal, celebrated in the goals channel."""

    KIND: ClassVar[str] = "goal.done"


# --- check-ins, kudos, milestones -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckinPosted(Message):
    """A check-in shared in the accountability channel."""

    KIND: ClassVar[str] = "checkin.posted"
    user_id: int = 0
    note: str = ""
    link: str | None = None
    streak: int = 0
    cadence: str = "weekly"

    def encode(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "note": self.note,
            "link": self.link,
            "streak": self.streak,
            "cadence": self.cadence,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            user_id=_int(data.get("user_id")),
            note=_str(data.get("note")),
            link=_opt_str(data.get("link")),
            streak=_int(data.get("streak")),
            cadence=_str(data.get("cadence"), "weekly"),
        )

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.user_id, Role.CELEBRATE),)


@dataclass(frozen=True, slots=True)
class Kudos(Message):
    """A public thank-you: it pings the member thanked and names the giver."""

    KIND: ClassVar[str] = "kudos"
    from_user_id: int = 0
    to_user_id: int = 0
    reason: str = ""

    def encode(self) -> dict[str, Any]:
        return {"from_user_id": self.from_user_id, "to_user_id": self.to_user_id, "reason": self.reason}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            from_user_id=_int(data.get("from_user_id")),
            to_user_id=_int(data.get("to_user_id")),
            reason=_str(data.get("reason")),
        )

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.to_user_id, Role.MENTION), Subject(self.from_user_id, Role.NAME))


@dataclass(frozen=True, slots=True)
class StreakMilestone(Message):
    """A streak milestone, celebrated (with a ping) in the celebrations channel."""

    KIND: ClassVar[str] = "milestone.streak"
    user_id: int = 0
    streak: int = 0
    cadence: str = "weekly"

    def encode(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "streak": self.streak, "cadence": self.cadence}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            user_id=_int(data.get("user_id")),
            streak=_int(data.get("streak")),
            cadence=_str(data.get("cadence"), "weekly"),
        )

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.user_id, Role.MENTION),)


@dataclass(frozen=True, slots=True)
class GoalsMilestone(Message):
    """A round number of finished goals, celebrated (with a ping)."""

    KIND: ClassVar[str] = "milestone.goals"
    user_id: int = 0
    goals: int = 0

    def encode(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "goals": self.goals}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(user_id=_int(data.get("user_id")), goals=_int(data.get("goals")))

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.user_id, Role.MENTION),)


# --- the weekly rhythm ------------------------------------------------------------------------------

# The ping's text and the removal of a member from it live here together: schedule.pack_ping lays
# the ping out from `ping_token`s, and `drop_from_ping` takes one member's token out again.
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
class Ping(Message):
    """One message of the weekly accountability ping: it pings exactly `user_ids` (and `role_ids`)."""

    KIND: ClassVar[str] = "rhythm.ping"
    content: str = ""
    user_ids: tuple[int, ...] = ()
    role_ids: tuple[int, ...] = ()

    def encode(self) -> dict[str, Any]:
        data: dict[str, Any] = {"content": self.content, "user_ids": list(self.user_ids)}
        if self.role_ids:
            data["role_ids"] = list(self.role_ids)
        return data

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            content=_str(data.get("content")),
            user_ids=_ints(data.get("user_ids")),
            role_ids=_ints(data.get("role_ids")),
        )

    def subjects(self) -> tuple[Subject, ...]:
        return tuple(Subject(user_id, Role.MENTION, OptIn.REMINDERS) for user_id in self.user_ids)

    def without(self, refused: Collection[Subject]) -> Self | None:
        """The ping without the refused members' mentions; None when it pinged only them."""
        gone = {subject.user_id for subject in self.subjects() if subject in refused}
        if not gone:
            return self
        content = self.content
        for user_id in sorted(gone):
            content = drop_from_ping(content, user_id)
        kept = tuple(user_id for user_id in self.user_ids if user_id not in gone)
        if not kept and not self.role_ids:
            return None
        return replace(self, content=content, user_ids=kept)


@dataclass(frozen=True, slots=True)
class DigestPR:
    user_id: int = 0
    repo: str = ""
    number: int = 0
    title: str = ""
    url: str | None = None


@dataclass(frozen=True, slots=True)
class DigestGoal:
    user_id: int = 0
    number: int = 0
    text: str = ""


@dataclass(frozen=True, slots=True)
class DigestStreak:
    user_id: int = 0
    current: int = 0
    cadence: str = "weekly"


@dataclass(frozen=True, slots=True)
class DigestKudos:
    user_id: int = 0
    count: int = 0


@dataclass(frozen=True, slots=True)
class Digest(Message):
    """The weekly digest: names members (their merged PRs, finished goals, streaks, kudos), pings nobody."""

    KIND: ClassVar[str] = "rhythm.digest"
    start: str | None = None  # ISO datetimes of the week
    end: str | None = None
    period: str | None = None
    pr_count: int = 0
    pr_authors: int = 0
    prs: tuple[DigestPR, ...] = ()
    goals_set: int = 0
    goals_finished: int = 0
    goals: tuple[DigestGoal, ...] = ()
    streaks: tuple[DigestStreak, ...] = ()
    kudos_count: int = 0
    kudos_top: tuple[DigestKudos, ...] = ()

    def encode(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "prs": {
                "count": self.pr_count,
                "authors": self.pr_authors,
                "latest": [
                    {"user_id": p.user_id, "repo": p.repo, "number": p.number, "title": p.title, "url": p.url}
                    for p in self.prs
                ],
            },
            "goals": {
                "set": self.goals_set,
                "finished": self.goals_finished,
                "latest_finished": [{"user_id": g.user_id, "number": g.number, "text": g.text} for g in self.goals],
            },
            "streaks": [{"user_id": s.user_id, "current": s.current, "cadence": s.cadence} for s in self.streaks],
            "kudos": {
                "count": self.kudos_count,
                "top": [{"user_id": k.user_id, "count": k.count} for k in self.kudos_top],
            },
        }
        if self.period is not None:
            data["period"] = self.period
        return data

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        prs, goals, kudos = _dict(data.get("prs")), _dict(data.get("goals")), _dict(data.get("kudos"))
        return cls(
            start=_opt_str(data.get("start")),
            end=_opt_str(data.get("end")),
            period=_opt_str(data.get("period")),
            pr_count=_int(prs.get("count")),
            pr_authors=_int(prs.get("authors")),
            prs=tuple(
                DigestPR(
                    _int(p.get("user_id")),
                    _str(p.get("repo")),
                    _int(p.get("number")),
                    _str(p.get("title")),
                    _opt_str(p.get("url")),
                )
                for p in map(_dict, _list(prs.get("latest")))
            ),
            goals_set=_int(goals.get("set")),
            goals_finished=_int(goals.get("finished")),
            goals=tuple(
                DigestGoal(_int(g.get("user_id")), _int(g.get("number")), _str(g.get("text")))
                for g in map(_dict, _list(goals.get("latest_finished")))
            ),
            streaks=tuple(
                DigestStreak(_int(s.get("user_id")), _int(s.get("current")), _str(s.get("cadence"), "weekly"))
                for s in map(_dict, _list(data.get("streaks")))
            ),
            kudos_count=_int(kudos.get("count")),
            kudos_top=tuple(
                DigestKudos(_int(k.get("user_id")), _int(k.get("count"))) for k in map(_dict, _list(kudos.get("top")))
            ),
        )

    def subjects(self) -> tuple[Subject, ...]:
        # The week's PRs and goals are history: only a member who was forgotten leaves them. The
        # longest streaks and the most thanked are a place of honour: for members still here.
        history = {Subject(x.user_id, Role.NAME) for x in (*self.prs, *self.goals)}
        honour = {Subject(x.user_id, Role.CELEBRATE) for x in (*self.streaks, *self.kudos_top)}
        return tuple(sorted(history | honour, key=lambda s: (s.user_id, s.role)))

    def without(self, refused: Collection[Subject]) -> Self:
        """The digest without the refused members' lines (the counts stay: they are the server's)."""

        def keep(user_id: int, role: Role) -> bool:
            return Subject(user_id, role) not in refused

        return replace(
            self,
            prs=tuple(p for p in self.prs if keep(p.user_id, Role.NAME)),
            goals=tuple(g for g in self.goals if keep(g.user_id, Role.NAME)),
            streaks=tuple(s for s in self.streaks if keep(s.user_id, Role.CELEBRATE)),
            kudos_top=tuple(k for k in self.kudos_top if keep(k.user_id, Role.CELEBRATE)),
        )


@dataclass(frozen=True, slots=True)
class StreakDM(Message):
    """The opt-in DM a day before a streak would break."""

    KIND: ClassVar[str] = "dm.streak"
    user_id: int = 0
    streak: int = 0
    freezes: int = 0
    cadence: str = "weekly"
    period: str | None = None
    ends_at: str | None = None  # ISO datetime

    def encode(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "streak": self.streak,
            "freezes": self.freezes,
            "cadence": self.cadence,
            "period": self.period,
            "ends_at": self.ends_at,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            user_id=_int(data.get("user_id")),
            streak=_int(data.get("streak")),
            freezes=_int(data.get("freezes")),
            cadence=_str(data.get("cadence"), "weekly"),
            period=_opt_str(data.get("period")),
            ends_at=_opt_str(data.get("ends_at")),
        )

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.user_id, Role.DM, OptIn.STREAK_DMS),)


@dataclass(frozen=True, slots=True)
class RecapDM(Message):
    """The opt-in weekly recap DM, sent after the digest: ready-to-post drafts about the member's week."""

    KIND: ClassVar[str] = "dm.recap"
    user_id: int = 0
    start: str | None = None
    quiet: bool = False
    drafts: Mapping[str, str] = field(default_factory=dict)

    def encode(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "start": self.start, "quiet": self.quiet, "drafts": dict(self.drafts)}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            user_id=_int(data.get("user_id")),
            start=_opt_str(data.get("start")),
            quiet=bool(data.get("quiet", False)),
            drafts={str(k): _str(v) for k, v in _dict(data.get("drafts")).items()},
        )

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.user_id, Role.DM, OptIn.RECAP_DMS),)


# --- GitHub -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FinishedGoal:
    number: int = 0
    text: str = ""


@dataclass(frozen=True, slots=True)
class Merged(Message):
    """A merge celebration: it pings the member whose PR merged."""

    KIND: ClassVar[str] = "github.merged"
    user_id: int = 0
    repo: str = ""  # lower case, for matching
    repo_name: str = ""  # as GitHub spells it (rows queued before it existed: `repo`)
    number: int = 0
    title: str = ""
    url: str | None = None
    merged_id: int | None = None
    login: str | None = None
    total: int = 1
    in_repo: int = 1
    # False when the member's history was not imported (claim no "first"); older rows: True.
    known: bool = True
    exact: bool = True
    milestones: tuple[str, ...] = ()
    goals: tuple[FinishedGoal, ...] = ()
    source: str = "webhook"
    # From a private repository: celebrated here, never shared (rows queued before it existed: public,
    # as their merges were then; the share itself asks the stored merge, audience.require_public_merge).
    private: bool = False

    def encode(self) -> dict[str, Any]:
        return {
            "merged_id": self.merged_id,
            "user_id": self.user_id,
            "login": self.login,
            "repo": self.repo,
            "repo_name": self.repo_name or self.repo,
            "number": self.number,
            "title": self.title,
            "url": self.url,
            "total": self.total,
            "in_repo": self.in_repo,
            "known": self.known,
            "exact": self.exact,
            "milestones": list(self.milestones),
            "goals": [{"number": g.number, "text": g.text} for g in self.goals],
            "source": self.source,
            "private": self.private,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        repo = _str(data.get("repo"))
        return cls(
            user_id=_int(data.get("user_id")),
            repo=repo,
            repo_name=_str(data.get("repo_name")) or repo,
            number=_int(data.get("number")),
            title=_str(data.get("title")),
            url=_opt_str(data.get("url")),
            merged_id=_opt_int(data.get("merged_id")),
            login=_opt_str(data.get("login")),
            total=_int(data.get("total"), 1),
            in_repo=_int(data.get("in_repo"), 1),
            known=bool(data.get("known", True)),
            exact=bool(data.get("exact", True)),
            milestones=tuple(_str(m) for m in _list(data.get("milestones"))),
            goals=tuple(
                FinishedGoal(_int(g.get("number")), _str(g.get("text"))) for g in map(_dict, _list(data.get("goals")))
            ),
            source=_str(data.get("source"), "webhook"),
            private=data.get("private") is True,
        )

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.user_id, Role.MENTION),)


@dataclass(frozen=True, slots=True)
class Relay(Message):
    """A relayed GitHub event (a repository's subscription); bursts for one channel fold into one post."""

    KIND: ClassVar[str] = "github.relay"
    FOLDS: ClassVar[bool] = True
    event: str = ""  # stored as "kind": pulls, issues, good-first-issues, releases
    action: str = ""
    repo: str = ""
    number: int | None = None
    title: str = ""
    tag: str | None = None
    url: str | None = None
    author: str | None = None
    labels: tuple[str, ...] = ()

    def encode(self) -> dict[str, Any]:
        return {
            "kind": self.event,
            "action": self.action,
            "repo": self.repo,
            "number": self.number,
            "title": self.title,
            "tag": self.tag,
            "url": self.url,
            "author": self.author,
            "labels": list(self.labels),
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            event=_str(data.get("kind")),
            action=_str(data.get("action")),
            repo=_str(data.get("repo")),
            number=_opt_int(data.get("number")),
            title=_str(data.get("title")),
            tag=_opt_str(data.get("tag")),
            url=_opt_str(data.get("url")),
            author=_opt_str(data.get("author")),
            labels=tuple(_str(x) for x in _list(data.get("labels"))),
        )


@dataclass(frozen=True, slots=True)
class RoleGrant(Message):
    """Give a member a milestone role (an action: nothing is posted)."""

    KIND: ClassVar[str] = "role.grant"
    user_id: int = 0
    role_id: int = 0
    reason: str | None = None

    def encode(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "role_id": self.role_id, "reason": self.reason}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            user_id=_int(data.get("user_id")), role_id=_int(data.get("role_id")), reason=_opt_str(data.get("reason"))
        )

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.user_id, Role.CELEBRATE),)


@dataclass(frozen=True, slots=True)
class WaitingPR:
    ref: str = ""
    title: str = ""
    url: str = ""
    days: int = 0
    text: str = ""


@dataclass(frozen=True, slots=True)
class ReviewNudge(Message):
    """The opt-in DM about the member's PRs waiting for a first review."""

    KIND: ClassVar[str] = "dm.review_nudge"
    user_id: int = 0
    prs: tuple[WaitingPR, ...] = ()

    def encode(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "prs": [{"ref": p.ref, "title": p.title, "url": p.url, "days": p.days, "text": p.text} for p in self.prs],
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            user_id=_int(data.get("user_id")),
            prs=tuple(
                WaitingPR(
                    _str(p.get("ref")),
                    _str(p.get("title")),
                    _str(p.get("url")),
                    _int(p.get("days")),
                    _str(p.get("text")),
                )
                for p in map(_dict, _list(data.get("prs")))
            ),
        )

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.user_id, Role.DM, OptIn.REVIEW_NUDGE_DMS),)


# --- cleaning up the bot's own messages (queued by /me forget) --------------------------------------


@dataclass(frozen=True, slots=True)
class DiscordDelete(Message):
    """Delete one of the bot's messages. About nobody: it removes what was about someone."""

    KIND: ClassVar[str] = "discord.delete"
    channel_id: int = 0
    message_id: int = 0

    def encode(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id, "message_id": self.message_id}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(channel_id=_int(data.get("channel_id")), message_id=_int(data.get("message_id")))


@dataclass(frozen=True, slots=True)
class DiscordEdit(Message):
    """Redraw one of the bot's messages from `message` (a ping or digest a member was taken out of)."""

    KIND: ClassVar[str] = "discord.edit"
    channel_id: int = 0
    message_id: int = 0
    message: Message | None = None

    def encode(self) -> dict[str, Any]:
        data: dict[str, Any] = {"channel_id": self.channel_id, "message_id": self.message_id}
        if self.message is not None:
            data |= {"kind": self.message.KIND, "data": self.message.encode()}
        return data

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        inner = None
        if isinstance(data.get("kind"), str) and data["kind"] in KINDS:
            inner = decode(data["kind"], _dict(data.get("data")))
        return cls(channel_id=_int(data.get("channel_id")), message_id=_int(data.get("message_id")), message=inner)


# --- the registry -----------------------------------------------------------------------------------

KINDS: dict[str, type[Message]] = {
    cls.KIND: cls
    for cls in (
        GoalAdded,
        GoalDone,
        CheckinPosted,
        Kudos,
        StreakMilestone,
        GoalsMilestone,
        Ping,
        Digest,
        StreakDM,
        RecapDM,
        Merged,
        Relay,
        RoleGrant,
        ReviewNudge,
        DiscordDelete,
        DiscordEdit,
    )
}


def decode(kind: str, data: Mapping[str, Any] | None) -> Message:
    """Read a stored row's payload as its kind's value (any shape a released version stored)."""
    try:
        cls = KINDS[kind]
    except KeyError:
        raise UnknownKind(kind) from None
    return cls.decode(_dict(data))


def subjects_of(messages: Iterable[Message]) -> set[Subject]:
    """Every subject of these messages."""
    return {subject for message in messages for subject in message.subjects()}
