"""Declarative base and column types shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, Table, TypeDecorator
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.functions import FunctionElement

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that refuses naive datetimes and always reads back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        # SQLite keeps text; store it without an offset so that ordering by text is ordering by time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Discord snowflakes need 64 bits. Row ids are BIGINT on PostgreSQL but must be plain INTEGER on
# SQLite, where only "INTEGER PRIMARY KEY" is the auto-incrementing rowid (it is 64-bit there too).
Snowflake = BigInteger
RowId = BigInteger().with_variant(Integer(), "sqlite")


class iso_date(FunctionElement[str]):
    """The text "YYYY-MM-DD" of a DATE column, on every database.

    CAST(date AS VARCHAR) is that on SQLite (which stores the text) and on PostgreSQL only while
    its DateStyle starts with ISO: a server set to "SQL, DMY" answers "16/11/2026".
    """

    type = String()
    inherit_cache = True


@compiles(iso_date)
def _iso_date(element: iso_date, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS VARCHAR)"


@compiles(iso_date, "postgresql")
def _iso_date_postgresql(element: iso_date, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


def storable(text: str) -> str:
    """Return `text` without NUL characters: PostgreSQL refuses them in text columns (SQLite keeps them)."""
    return text.replace("\x00", "")


def utcnow() -> datetime:
    """Return the current aware UTC time."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base class of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """Return a model's Core table, for statements that skip the ORM's bookkeeping per row.

    `Model.__table__` is typed as any FromClause (a model may map a join), which `update()` and
    `delete()` refuse; every Shiplog model maps one table of the metadata.
    """
    return model.metadata.tables[model.__tablename__]
