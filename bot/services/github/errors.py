"""What can go wrong asking GitHub: every failure is a `GitHubError`, whose message is safe to show a member."""

from __future__ import annotations

from datetime import datetime

from bot.errors import UserError


class GitHubError(UserError):
    """GitHub could not give an answer; the message says why, politely."""


class GitHubNotFound(GitHubError):
    """The user or repository does not exist (or is private)."""


class GitHubRateLimited(GitHubError):
    """GitHub's rate limit is reached; `reset_at` (aware, UTC) is when to try again, if GitHub said."""

    def __init__(self, message: str, reset_at: datetime | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class GitHubUnprocessable(GitHubError):
    """GitHub could not run a search (HTTP 422), such as one naming a user who no longer exists."""


class GitHubUnavailable(GitHubError):
    """GitHub is down, slow or unreachable."""

    def __init__(self, message: str = "GitHub isn't answering right now; try again in a few minutes.") -> None:
        super().__init__(message)
