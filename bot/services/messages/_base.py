"""What every message kind shares: its subjects, its base class, and the readers of stored values.

The readers (`_int`, `_str`, ...) take whatever a stored payload holds and return the type asked
for, or its default: nothing in a stored payload is required.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Self


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
