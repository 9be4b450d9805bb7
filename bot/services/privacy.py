"""A member's own data: everything Shiplog stores about them, to take away or to erase."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import (
    Activity,
    CheckIn,
    GitHubAccount,
    GitHubLinkRequest,
    Goal,
    JobRun,
    Kudos,
    Member,
    MergedPullRequest,
    RestPeriod,
)
from bot.db.session import reading, transaction

# Tables whose rows belong to one member through a user_id column.
OWNED = (Member, Goal, CheckIn, Activity, RestPeriod, GitHubAccount, GitHubLinkRequest, MergedPullRequest)


def _row(obj: object) -> dict[str, Any]:
    mapper = inspect(obj.__class__)
    out = {}
    for column in mapper.columns:
        value = getattr(obj, column.key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        out[column.key] = value
    return out


async def export(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, now: datetime
) -> bytes:
    """Return a JSON document of everything stored about the member in this server."""
    data: dict[str, Any] = {"guild_id": guild_id, "user_id": user_id, "exported_at": now.isoformat()}
    async with reading(sessionmaker) as session:
        for model in OWNED:
            rows = await session.scalars(
                select(model).where(model.guild_id == guild_id, model.user_id == user_id)  # type: ignore[attr-defined]
            )
            data[model.__tablename__] = [_row(r) for r in rows]
        kudos = await session.scalars(
            select(Kudos).where(
                Kudos.guild_id == guild_id, or_(Kudos.from_user_id == user_id, Kudos.to_user_id == user_id)
            )
        )
        data["kudos"] = [_row(k) for k in kudos]
    return json.dumps(data, indent=2, ensure_ascii=False).encode()


async def forget(sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int) -> int:
    """Delete everything stored about the member in this server; return how many rows went."""
    removed = 0
    async with transaction(sessionmaker) as session:
        for model in OWNED:
            result = await session.execute(
                delete(model).where(model.guild_id == guild_id, model.user_id == user_id)  # type: ignore[attr-defined]
            )
            removed += result.rowcount or 0
        result = await session.execute(delete(JobRun).where(JobRun.guild_id == guild_id, JobRun.job == f"dm:{user_id}"))
        removed += result.rowcount or 0
        result = await session.execute(
            delete(Kudos).where(
                Kudos.guild_id == guild_id, or_(Kudos.from_user_id == user_id, Kudos.to_user_id == user_id)
            )
        )
        removed += result.rowcount or 0
    return removed
