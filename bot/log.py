"""Logging, configured once at start."""

from __future__ import annotations

import logging


def setup_logging(level: int | str = logging.INFO) -> None:
    """Send every log line to stderr with a timestamp and the logger's name."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        force=True,
    )
    # discord.py's gateway chatter is useful only when debugging the connection itself.
    logging.getLogger("discord").setLevel(
        max(logging.getLevelName(level) if isinstance(level, str) else level, logging.INFO)
    )
