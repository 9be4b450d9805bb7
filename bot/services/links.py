"""GitHub issue and pull request references."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import UserError

_NAME = r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}"  # as GitHub: no double, leading or trailing hyphen
_REPO = r"[A-Za-z0-9._-]{1,100}"
_URL = re.compile(
    rf"^(?:https?://)?(?:www\.)?github\.com/(?P<owner>{_NAME})/(?P<repo>{_REPO})/"
    r"(?P<kind>issues|pull)/(?P<number>[0-9]{1,9})(?:/[A-Za-z0-9/_-]*)?/?(?:[?#]\S*)?$"
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
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise UserError(
            f"`{shown}` isn't a GitHub issue or pull request link. Paste one like "
            "https://github.com/encode/httpx/pull/123 (or write encode/httpx#123)."
        )
    repo = match["repo"].removesuffix(".git")
    return IssueRef(repo=f"{match['owner']}/{repo}".lower(), number=int(match["number"]))
