"""Messages of the weekly rhythm: the ping, the digest, and the streak and recap DMs.

The ping's text is laid out, and a member taken out of it again, in bot/services/rhythm/ping.py.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Self

from bot.services.messages._base import (
    Message,
    OptIn,
    Role,
    Subject,
    _dict,
    _int,
    _ints,
    _list,
    _opt_str,
    _str,
)
from bot.services.rhythm.ping import drop_from_ping

# --- the weekly rhythm ------------------------------------------------------------------------------


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
        named = [pr.user_id for pr in self.prs] + [goal.user_id for goal in self.goals]
        honoured = [streak.user_id for streak in self.streaks] + [kudos.user_id for kudos in self.kudos_top]
        history = {Subject(user_id, Role.NAME) for user_id in named}
        honour = {Subject(user_id, Role.CELEBRATE) for user_id in honoured}
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
