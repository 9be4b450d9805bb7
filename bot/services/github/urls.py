"""Which links from GitHub Shiplog shows: `safe_url` is the one rule, for embeds, drafts, DMs and pages.

What GitHub sends (an `html_url`, a `repository_url`) is text from outside: a payload can be forged
or a field be odd. A link reaches members only when it is https, on a GitHub host, and has nothing in
it that could break out of a Markdown link (`[text](url)`, `<url>`) or an HTML attribute.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

HOSTS = frozenset({"github.com", "gist.github.com"})
MAX_CHARS = 300  # what merged_prs.url and github_open_prs.url hold
# The character set of the links members give (bot/services/links.py): RFC 3986's unreserved
# characters and sub-delimiters less ( ) * ', "%" only as an escape. No space, quote, bracket,
# backslash or control character: nothing in it can end a Markdown link or an HTML attribute early.
_PLAIN = re.compile(r"(?:[A-Za-z0-9\-._~!$&+,;=:@/?#]|%[0-9A-Fa-f]{2})+")


def safe_url(url: object, *, fallback: str | None = None) -> str | None:
    """Return `url` when it is an https link to GitHub fit to show; else `fallback` (when it is one)."""
    if _is_safe(url):
        return str(url)
    return fallback if fallback is not None and _is_safe(fallback) else None


def _is_safe(url: object) -> bool:
    if not isinstance(url, str) or len(url) > MAX_CHARS or not _PLAIN.fullmatch(url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.hostname in HOSTS
        and parts.netloc.lower() == parts.hostname  # no user, password or port
        and port is None
    )


def pull_url(repo: str, number: int) -> str | None:
    """Return the address of a pull request, built from its repository and number (None if they are odd)."""
    return safe_url(f"https://github.com/{repo}/pull/{int(number)}")


def issue_url(repo: str, number: int) -> str | None:
    """Return the address of an issue, built from its repository and number (None if they are odd)."""
    return safe_url(f"https://github.com/{repo}/issues/{int(number)}")
