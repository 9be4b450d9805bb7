"""Messages about GitHub: merge celebrations, relayed events, milestone roles and review nudges."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from bot.services.messages._base import (
    Message,
    OptIn,
    Role,
    Subject,
    _dict,
    _int,
    _list,
    _opt_int,
    _opt_str,
    _str,
)

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
class MergeWithdrawn(Message):
    """What a merge celebration says once its PR was labelled spam or invalid: only that it no longer counts.

    It is drawn over the celebration (a `DiscordEdit`); `user_id`, `repo` and `number` say whose and
    which it was (for /me forget and export), and are not shown.
    """

    KIND: ClassVar[str] = "github.merge_withdrawn"
    user_id: int = 0
    repo: str = ""
    number: int = 0

    def encode(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "repo": self.repo, "number": self.number}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        return cls(user_id=_int(data.get("user_id")), repo=_str(data.get("repo")), number=_int(data.get("number")))

    def subjects(self) -> tuple[Subject, ...]:
        return (Subject(self.user_id, Role.CELEBRATE),)


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
class NudgedPR:
    """One line of a review-nudge DM, as stored (github.nudges finds the waiting PRs: rhythm.ping.WaitingPR)."""

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
    prs: tuple[NudgedPR, ...] = ()

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
                NudgedPR(
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
