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

No Discord imports here, and no table written: `bot.services.outbox` stores these values in `outbox`.

The kinds live by feature (`members`, `rhythm`, `github`, on `_base`); this package holds the
registry, `decode`, and the kinds that clean up the bot's own posts (they carry any other kind).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from bot.services.messages._base import (
    Message,
    OptIn,
    Role,
    Subject,
    UnknownKind,
    _dict,
    _int,
)
from bot.services.messages.github import (
    FinishedGoal,
    Merged,
    MergeWithdrawn,
    NudgedPR,
    Relay,
    ReviewNudge,
    RoleGrant,
)
from bot.services.messages.members import (
    CheckinPosted,
    GoalAdded,
    GoalDone,
    GoalsMilestone,
    Kudos,
    StreakMilestone,
)
from bot.services.messages.rhythm import (
    Digest,
    DigestGoal,
    DigestKudos,
    DigestPR,
    DigestStreak,
    Ping,
    RecapDM,
    StreakDM,
)

__all__ = [
    "KINDS",
    "CheckinPosted",
    "Digest",
    "DigestGoal",
    "DigestKudos",
    "DigestPR",
    "DigestStreak",
    "DiscordDelete",
    "DiscordEdit",
    "FinishedGoal",
    "GoalAdded",
    "GoalDone",
    "GoalsMilestone",
    "Kudos",
    "MergeWithdrawn",
    "Merged",
    "Message",
    "NudgedPR",
    "OptIn",
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
    "subjects_of",
]


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
        MergeWithdrawn,
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
