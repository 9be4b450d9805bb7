"""One merged pull request, as a webhook or the radar's search reported it: what a celebration takes.

Both paths read what they received into a `Merge` (`Merge.from_webhook`, `Merge.from_search`), and
`events.celebrate_merge` takes that value: it never sees a webhook's dict or a search item. A bot's
merge is never a `Merge` (the constructors return None): bots are not celebrated. Nor is a PR
labelled `spam` or `invalid` (Hacktoberfest's convention, `discounted`): it counts for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.services import audience
from bot.services.github.api import SearchItem, parse_time
from bot.services.github.urls import pull_url, safe_url

Source = Literal["webhook", "radar"]
# Labels that make a pull request count for nothing (Hacktoberfest's convention), in lower case.
DISCOUNTED_LABELS = frozenset({"spam", "invalid"})


def discounted(labels: Iterable[str]) -> bool:
    """Tell whether a pull request with these label names counts for nothing (`spam`, `invalid`, any case)."""
    return any(str(name).strip().lower() in DISCOUNTED_LABELS for name in labels)


def label_names(labels: Any) -> list[str]:
    """Return the names of a payload's `labels` list (what is not a named label is left out)."""
    if not isinstance(labels, list):
        return []
    return [str(label["name"]) for label in labels if isinstance(label, dict) and isinstance(label.get("name"), str)]


BOT_SUFFIX = "[bot]"  # what every GitHub App's account login ends with


def is_bot(user: Mapping[str, Any] | None) -> bool:
    """Tell whether a GitHub user, as a payload shows one, is a bot account (no user at all counts as one)."""
    if not user:
        return True
    return user.get("type") == "Bot" or is_bot_login(str(user.get("login", "")))


def is_bot_login(login: str) -> bool:
    """Tell whether a login is a bot account's (when only the login is known, as on a stored link)."""
    return login.lower().endswith(BOT_SUFFIX)


@dataclass(frozen=True, slots=True)
class Merge:
    """A merged pull request by a person, read from what GitHub sent.

    `title` is GitHub's text as sent (the celebration stores it `storable`); `url` is a link fit to
    show (urls.safe_url), or None. `merged_at` None: GitHub did not say, and the merge is dated
    when it is celebrated.
    """

    repo: str  # owner/name in lower case: the key merges are recorded and matched by
    repo_name: str  # as the celebration shows it
    number: int
    title: str
    url: str | None
    body: str | None  # the PR's description: the issues it closes finish linked goals
    author_id: int | None  # None: a webhook that named the author by login only
    author_login: str
    merged_at: datetime | None
    private: bool  # from a private repository (audience.py): celebrated here, never published
    source: Source

    @property
    def own_repo(self) -> bool:
        """Whether the author merged into a repository of their own account."""
        return self.repo.partition("/")[0] == self.author_login.lower()

    @classmethod
    def from_webhook(cls, payload: Mapping[str, Any]) -> Merge | None:
        """Read a `pull_request` event's merge; None when a bot wrote it, it is labelled `spam` or
        `invalid` (discounted), or the payload names no repository.

        Public only when the payload says `repository.private: false` (audience.merge_is_private).
        A pull request without a sound number raises: the delivery is one the code cannot handle.
        """
        repo = str((payload.get("repository") or {}).get("full_name", "")).lower()
        pr = payload.get("pull_request") or {}
        author = pr.get("user") or {}
        if not repo or is_bot(author) or discounted(label_names(pr.get("labels"))):
            return None
        shown = ((pr.get("base") or {}).get("repo") or {}).get("full_name")
        number, body = int(pr["number"]), pr.get("body")
        return cls(
            repo=repo,
            repo_name=str(shown or repo),
            number=number,
            title=str(pr.get("title") or ""),
            url=safe_url(pr.get("html_url"), fallback=pull_url(repo, number)),
            body=body if isinstance(body, str) else None,
            author_id=int(author["id"]) if author.get("id") is not None else None,
            author_login=str(author.get("login", "")),
            # A merged PR closes as it merges: when it closed is when it merged, if that is all it says.
            merged_at=parse_time(pr.get("merged_at")) or parse_time(pr.get("closed_at")),
            private=audience.merge_is_private(payload),
            source="webhook",
        )

    @classmethod
    def from_search(cls, item: SearchItem, *, private: bool) -> Merge | None:
        """Read a merged pull request the radar's search found; None when a bot wrote it or it is discounted.

        `private` is what audience.search_results_private says of its repository.
        """
        if is_bot(item.author) or discounted(item.labels):
            return None
        repo = item.repo.lower()
        return cls(
            repo=repo,
            repo_name=repo,
            number=item.number,
            title=item.title,
            url=item.url,
            body=item.body,
            author_id=item.author_id,
            author_login=item.author_login,
            merged_at=item.merged_at or item.closed_at,
            private=private,
            source="radar",
        )


@dataclass(frozen=True, slots=True)
class Discounted:
    """A person's merged pull request labelled spam or invalid, perhaps after it was counted and celebrated.

    What `events.withdraw_merge` takes to take it out of the counts again. A repository and a number
    name one pull request, and so its one author.
    """

    repo: str  # owner/name in lower case, as a `Merge` is recorded
    number: int

    @classmethod
    def from_webhook(cls, payload: Mapping[str, Any]) -> Discounted | None:
        """Read a `pull_request` event (closed or labeled) of a person's merged PR now labelled so; else None."""
        repo = str((payload.get("repository") or {}).get("full_name", "")).lower()
        pr = payload.get("pull_request") or {}
        if not repo or not pr.get("merged") or is_bot(pr.get("user")) or not discounted(label_names(pr.get("labels"))):
            return None
        return cls(repo=repo, number=int(pr["number"]))

    @classmethod
    def from_search(cls, item: SearchItem) -> Discounted | None:
        """Read a search item of a person's merged PR now labelled so; else None."""
        if item.merged_at is None or is_bot(item.author) or not discounted(item.labels):
            return None
        return cls(repo=item.repo.lower(), number=item.number)
