"""Messages about one member's own work: goals, check-ins, kudos and milestones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from bot.services.messages._base import (
    Message,
    Role,
    Subject,
    _int,
    _opt_str,
    _str,
)

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
