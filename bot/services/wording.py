"""Words Shiplog writes in many places: plurals, the period a streak counts ("week" or "day") and a
streak's length ("3-week").

Replies, pages, drafts and messages all say these through here, so they read the same everywhere;
tests/test_wording.py checks that no other module writes its own. Plain text in, plain text out.
"""

from __future__ import annotations

__all__ = ["noun", "period_word", "periods", "plural", "streak_words"]


def noun(count: int, word: str, many: str | None = None) -> str:
    """Return `word` for one, else `many` (for words that do not just take an s) or `word` + 's'."""
    return word if count == 1 else many or word + "s"


def plural(count: int, word: str, many: str | None = None) -> str:
    """Say '1 linked member' or '1,234 linked members'."""
    return f"{count:,} {noun(count, word, many)}"


def period_word(cadence: str) -> str:
    """Return the period a streak of this cadence counts: 'week' (weekly) or 'day' (daily)."""
    return "week" if cadence == "weekly" else "day"


def periods(count: int, cadence: str) -> str:
    """Return 'week', 'weeks', 'day' or 'days', to follow the number `count`."""
    return noun(count, period_word(cadence))


def streak_words(length: int, cadence: str) -> str:
    """Say '3-week' or '1-day'."""
    return f"{length}-{period_word(cadence)}"
