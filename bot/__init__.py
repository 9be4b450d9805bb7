"""Shiplog: a Discord bot for #BuildInPublic communities. Its version and source come from pyproject.toml.

`bot/` is the application and its domain: the settings, the bot and its command tree, the web server, the
command line, `db/` (the tables) and `services/` (the rules, which write them). Outside `services/`, only
the bot writes a table itself: `app_state`, the hash of the last synced commands.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, metadata

_UPSTREAM = "https://github.com/shiplog-bot/shiplog"

try:
    _metadata = metadata("shiplog")
except PackageNotFoundError:  # a checkout run without `pip install -e .`
    __version__ = "0+unknown"
    SOURCE_URL = _UPSTREAM
else:
    __version__ = _metadata["Version"]
    # pyproject's [project.urls] become "Label, URL" entries: a fork points Source at its own repository.
    _urls = dict(entry.split(", ", 1) for entry in _metadata.get_all("Project-URL") or [] if ", " in entry)
    SOURCE_URL = _urls.get("Source", _UPSTREAM)
