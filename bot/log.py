"""Logging, configured once at start."""

from __future__ import annotations

import logging

# Lines that greet every start and say nothing about this bot, shown only at DEBUG: Alembic names
# its plugins and dialect on every run ("Running upgrade a -> b" stays), and discord.py warns that
# voice needs PyNaCl and davey, though Shiplog joins no voice channel.
_CHATTER = {
    "alembic.runtime.migration": ("Context impl ", "Will assume "),
    "discord.client": ("PyNaCl is not installed", "davey is not installed"),
}


class _DropChatter(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(self.prefixes))


def setup_logging(level: int | str = logging.INFO) -> None:
    """Send every log line to stderr with a timestamp and the logger's name."""
    number = logging.getLevelName(level) if isinstance(level, str) else level
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        force=True,
    )
    # discord.py's gateway chatter is useful only when debugging the connection itself.
    logging.getLogger("discord").setLevel(max(number, logging.INFO))
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING if number > logging.DEBUG else number)
    for name, prefixes in _CHATTER.items():
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, _DropChatter)]:
            logger.removeFilter(old)
        if number > logging.DEBUG:
            logger.addFilter(_DropChatter(prefixes))
