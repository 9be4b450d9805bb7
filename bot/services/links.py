"""Links members give: GitHub issue and pull request references, and plain web addresses.

A link a member gives may end up in a public post, where Discord reads markdown: every one is checked
against a character set that markdown cannot use (no brackets, parentheses, angle brackets, quotes,
backslashes, backticks, asterisks, pipes or whitespace), or refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.errors import UserError

# RFC 3986's unreserved characters and sub-delimiters, less ( ) * ' which markdown or Discord's
# link detection read; "%" only as a %XX escape. Discord shows a URL made of these as it is.
_SAFE = r"A-Za-z0-9\-._~!$&+,;=:@"
_SAFE_URL = re.compile(rf"^(?:[{_SAFE}/?#]|%[0-9A-Fa-f]{{2}})+$")
_SAFE_PART = re.compile(rf"^(?:[{_SAFE}/?]|%[0-9A-Fa-f]{{2}})*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOP_LABEL = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")  # a name, so never an IP address

_NAME = r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}"  # as GitHub: no double, leading or trailing hyphen
_REPO = r"[A-Za-z0-9._-]{1,100}"
_URL = re.compile(
    rf"^(?:https://)?(?:www\.)?github\.com/(?P<owner>{_NAME})/(?P<repo>{_REPO})/"
    rf"(?P<kind>issues|pull)/(?P<number>[0-9]{{1,9}})(?:/[A-Za-z0-9/_-]*)?/?(?:[?#][{_SAFE}/?#%]*)?$"
)
_SHORT = re.compile(rf"^(?P<owner>{_NAME})/(?P<repo>{_REPO})#(?P<number>[0-9]{{1,9}})$")


@dataclass(frozen=True, slots=True)
class IssueRef:
    """A GitHub issue or pull request: owner/repo in lower case, and its number."""

    repo: str
    number: int

    def __str__(self) -> str:
        return f"{self.repo}#{self.number}"

    @property
    def url(self) -> str:
        """Return a URL that opens the issue or pull request (GitHub redirects /issues/ to /pull/)."""
        return f"https://github.com/{self.repo}/issues/{self.number}"


def parse_issue_link(text: str) -> IssueRef:
    """Parse a GitHub issue or pull request URL (or owner/repo#N) into an IssueRef."""
    value = text.strip()
    match = _URL.match(value) or _SHORT.match(value)
    if match is None or int(match["number"]) == 0 or match["repo"] in (".", ".."):
        shown = " ".join(value.replace("`", "'").split())  # shown in a code span: no backtick may end it
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise UserError(
            f"`{shown}` isn't a GitHub issue or pull request link. Paste one like "
            "https://github.com/encode/httpx/pull/123 (or write encode/httpx#123)."
        )
    repo = match["repo"].removesuffix(".git")
    return IssueRef(repo=f"{match['owner']}/{repo}".lower(), number=int(match["number"]))


def is_web_link(text: str, *, limit: int = 300) -> bool:
    """Tell whether `text` is a plain https:// address on a public host name, safe to show as it is.

    Any host name will do (a check-in may link a blog post as well as a PR), but not an address, a
    port or a user name, and only in ASCII: a look-alike letter from another script is refused.
    """
    if not text or len(text) > limit or not _SAFE_URL.match(text):
        return False
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "https" or not text.lower().startswith("https://") or port is not None:
        return False
    if "@" in parts.netloc or ":" in parts.netloc or parts.hostname is None:
        return False
    labels = parts.hostname.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or not _TOP_LABEL.match(labels[-1]):
        return False
    return all(_SAFE_PART.match(part) for part in (parts.path, parts.query, parts.fragment))


def clean_web_link(text: str, *, limit: int = 300) -> str:
    """Return the link without surrounding spaces, or refuse it politely (see `is_web_link`)."""
    value = text.strip()
    if not is_web_link(value, limit=limit):
        raise UserError(
            "The link must be a plain web address starting with https://, such as "
            "https://github.com/you/project/pull/12: at most "
            f"{limit} characters, with no spaces, brackets, quotes or other markdown."
        )
    return value
