"""#BuildInPublic posts that fit: one builder for every share button and for the weekly recap.

A draft is made of parts: fixed ones (the link, the hashtags, the words around them) and flexible
ones (a PR title, a goal, a repository name: member or GitHub text of any length). Each network
measures a post its own way (`Network.fits`); when a draft does not fit, the flexible parts are cut,
the lowest-priority first, at a word boundary, with an ellipsis, until it does. A cut never splits
a URL (cuts happen at spaces only), an emoji or any other grapheme (text is handled as grapheme
clusters), and the link and hashtags are never cut.

How each network counts is its own rule, ported in `counting` and checked against the official
counters (tests/fixtures/share):
- X: 280, weighted as twitter-text v3 does: a link (by its URL grammar: a known top-level domain is
  needed) counts 23, CJK and most symbols 2, Latin 1, an emoji twemoji-parser knows 2.
- Bluesky: 300 graphemes, and 3,000 bytes of UTF-8.
- Mastodon: 500, a link (`http(s)://` required) counts 23 and `@user@domain` as `@user`; the larger of
  its server's count (graphemes) and its web composer's.
- LinkedIn: 3,000 UTF-16 code units, room for a short story.
Member and GitHub text loses its noncharacters (U+FFFE, U+FFFF...) in `clean`: X refuses a post holding one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import regex

from bot.services.sharing.counting import (
    URL_LENGTH,
    bluesky_length,
    graphemes,
    mastodon_length,
    strip_noncharacters,
    x_length,
)
from bot.services.wording import noun, period_word, streak_words

__all__ = [
    "HASHTAGS",
    "NETWORKS",
    "URL_LENGTH",
    "Network",
    "Part",
    "build",
    "clean",
    "goal_done",
    "graphemes",
    "mastodon_length",
    "merged_pr",
    "streak_milestone",
    "weekly_recap",
    "x_length",
]

HASHTAGS = "#BuildInPublic #opensource"
ELLIPSIS = "…"
# Controls and invisible formatting, but not what emoji are made of (ZWJ, the tags of flag sequences).
_CONTROL = regex.compile(r"[[\p{Cc}\p{Cf}\p{Co}\p{Cs}]--[\u200d\n\U000E0020-\U000E007F]]", regex.V1)


def clean(text: str) -> str:
    """Make member or GitHub text safe in a one-line part: no line breaks, controls, noncharacters or code fences."""
    text = strip_noncharacters(_CONTROL.sub("", unicodedata.normalize("NFC", text))).replace("```", "'''")
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Network:
    """Where a draft goes, and how it measures a post."""

    key: str
    name: str
    limit: int
    length: Callable[[str], int]
    max_bytes: int | None = None

    def fits(self, text: str) -> bool:
        if self.max_bytes is not None and len(text.encode()) > self.max_bytes:
            return False
        return self.length(text) <= self.limit


NETWORKS: tuple[Network, ...] = (
    Network("x", "X", 280, x_length),
    Network("bluesky", "Bluesky", 300, bluesky_length, max_bytes=3000),
    Network("mastodon", "Mastodon", 500, mastodon_length),
    Network("linkedin", "LinkedIn", 3000, lambda text: len(text.encode("utf-16-le")) // 2),
)
LONG = frozenset({"mastodon", "linkedin"})  # room for the story lines


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a draft. `cut` > 0 makes it flexible: parts with the highest `cut` shrink first.

    `before` and `after` wrap the text (quotes around a title) and go with it when it is cut away;
    `sep` comes before it (a space, or line breaks) unless it is the first part shown.
    """

    text: str
    cut: int = 0
    before: str = ""
    after: str = ""
    sep: str = " "


def _compose(parts: Sequence[Part]) -> str:
    out: list[str] = []
    for part in parts:
        if not part.text:
            continue
        out.append(("" if not out else part.sep) + part.before + part.text + part.after)
    return "".join(out)


@lru_cache(maxsize=256)
def _clusters(text: str) -> tuple[str, ...]:
    """Graphemes of a part being cut: `build` asks for them at every step of its search."""
    return tuple(graphemes(text))


def _shortened(text: str, keep: int) -> str:
    """The first `keep` graphemes of text, back to the last space, with an ellipsis; '' if no word fits."""
    clusters = _clusters(text)
    if keep >= len(clusters):
        return text
    head = clusters[:keep]
    if keep < len(clusters) and not clusters[keep].isspace():
        last_space = next((i for i in range(keep - 1, -1, -1) if head[i].isspace()), None)
        head = head[:last_space] if last_space is not None else ()
    kept = "".join(head).rstrip(" ,.;:-–—")
    return kept + ELLIPSIS if kept else ""


def build(network: Network, parts: Sequence[Part]) -> str:
    """Compose the parts, cutting flexible ones until the post fits the network."""
    parts = list(parts)
    text = _compose(parts)
    for rank in sorted({part.cut for part in parts if part.cut > 0}, reverse=True):
        if network.fits(text):
            return text
        for index in [i for i, part in enumerate(parts) if part.cut == rank]:
            original = parts[index].text
            # The longest prefix that fits (binary search), then back to a word boundary.
            low, high = 0, len(_clusters(original))
            while low < high:
                middle = (low + high + 1) // 2
                trial = [*parts[:index], replace(parts[index], text=_shortened(original, middle)), *parts[index + 1 :]]
                if network.fits(_compose(trial)):
                    low = middle
                else:
                    high = middle - 1
            keep = low
            while True:  # cutting back to a space shortens it further, but a measure may not be monotone
                parts[index] = replace(parts[index], text=_shortened(original, keep))
                text = _compose(parts)
                if network.fits(text) or keep == 0:
                    break
                keep -= 1
            if network.fits(text):
                return text
    return text


def _drafts(short: Sequence[Part], long: Sequence[Part]) -> dict[str, str]:
    return {network.key: build(network, long if network.key in LONG else short) for network in NETWORKS}


def _tail(url: str | None) -> list[Part]:
    link = [Part(url, sep="\n")] if url else []
    return [*link, Part(HASHTAGS, sep="\n\n")]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def merged_pr(
    *, repo: str, title: str, url: str, total: int, in_repo: int, known: bool = True, exact: bool = True
) -> dict[str, str]:
    """Drafts about a merged pull request: the first ever, the first in a repository, or one more."""
    repo, title = clean(repo), clean(title)
    first = known and exact and total == 1
    if not known:
        head = [Part("🚢 Got a pull request merged"), Part(repo, cut=1, before="into ", after="!")]
    elif not exact:
        head = [Part(f"🚢 Another pull request merged ({total}+ so far)"), Part(repo, cut=1, before="into ", after="!")]
    elif first:
        head = [
            Part("🥇 My first open-source pull request just got merged"),
            Part(repo, cut=1, before="into ", after="!"),
        ]
    elif in_repo == 1:
        head = [
            Part(f"🚢 My {_ordinal(total)} merged pull request, and my first"),
            Part(repo, cut=1, before="in ", after="!"),
        ]
    else:
        head = [
            Part(f"🚢 My {_ordinal(total)} merged pull request, the {_ordinal(in_repo)}"),
            Part(repo, cut=1, before="in ", after="!"),
        ]
    # Cut first: the story lines, then the title; the repository's name last (it is in the link too).
    title_part = Part(title, cut=2, before="“", after="”", sep="\n\n")
    story: list[Part] = []
    if known and exact and in_repo >= 2:
        line = f"That makes {in_repo} in {repo}. Five to ten merged PRs in one project is how maintainers are made."
        story.append(Part(line, cut=3, sep="\n\n"))
    elif first:
        story.append(
            Part("Every maintainer started with one. Learning in public, one PR at a time.", cut=3, sep="\n\n")
        )
    return _drafts([*head, title_part, *_tail(url)], [*head, title_part, *story, *_tail(url)])


def goal_done(*, goal: str, url: str | None = None, days: int | None = None) -> dict[str, str]:
    """Drafts about a finished goal (`days`: how long it took, when known)."""
    took = f" after {days} {noun(days, 'day')}" if days else ""
    head = [Part(f"✅ Goal done{took}:")]
    goal_part = Part(clean(goal), cut=1, before="“", after="”")
    story = [Part("I set it in public, kept at it, and shipped it.", cut=2, sep="\n\n")]
    return _drafts([*head, goal_part, *_tail(url)], [*head, goal_part, *story, *_tail(url)])


def streak_milestone(*, length: int, cadence: str) -> dict[str, str]:
    """Drafts about a streak milestone (`length` periods of the `cadence`)."""
    unit = period_word(cadence)
    head = [Part(f"🔥 {length} {unit}s in a row of shipping in public.")]
    story = [Part(f"Not one {unit} without progress on open source. Small steps, every {unit}.", cut=1, sep="\n\n")]
    return _drafts([*head, *_tail(None)], [*head, *story, *_tail(None)])


def render(drafts: dict[str, str]) -> list[tuple[str, str]]:
    """Return (title, code-block body) per network, in NETWORKS' order: what the ephemeral reply shows."""
    out = []
    for network in NETWORKS:
        text = drafts[network.key]
        out.append((f"{network.name} · {network.length(text)}/{network.limit}", f"```\n{text}\n```"))
    return out


def weekly_recap(
    *,
    prs: Sequence[tuple[str, int]],
    goals_finished: Sequence[str],
    goals_set: int,
    checkins: int,
    streak: int,
    cadence: str,
    kudos: int,
    next_step: str | None = None,
) -> dict[str, str]:
    """Drafts about a member's week: merged PRs by repository, goals, check-ins, streak and kudos.

    A quiet week is not a failure: the draft then says what comes next (`next_step`) instead.
    """
    merged = sum(count for _, count in prs)
    facts = []
    if merged:
        facts.append(f"{merged} {noun(merged, 'PR')} merged")
    if goals_finished:
        facts.append(f"{len(goals_finished)} {noun(len(goals_finished), 'goal')} done")
    if checkins:
        facts.append(f"{checkins} {noun(checkins, 'check-in')}")
    if kudos:
        facts.append(f"{kudos} kudos received")
    if streak:
        facts.append(f"🔥 {streak_words(streak, cadence)} streak")
    quiet = not (merged or goals_finished or checkins)
    if quiet:
        head = [Part("📅 A quieter week in open source, and that's fine: rest is part of the work.")]
        step = [Part(clean(next_step), cut=1, before="Next up: ", sep="\n\n")] if next_step else []
        return _drafts([*head, *step, *_tail(None)], [*head, *step, *_tail(None)])
    head = [Part("📅 My week in open source: " + ", ".join(facts) + ".")]
    repos = ", ".join(f"{clean(repo)}{f' ×{count}' if count > 1 else ''}" for repo, count in prs)
    short = [*head, Part(repos, cut=1, before="Merged in ", sep="\n\n")] if repos else [*head]
    long = list(short)
    for index, goal in enumerate(goals_finished[:5]):
        long.append(Part(clean(goal), cut=2 + index, before="✅ ", sep="\n"))
    if goals_set:
        long.append(Part(f"🎯 {goals_set} {noun(goals_set, 'new goal')} set, in public.", cut=8, sep="\n"))
    if next_step:
        long.append(Part(clean(next_step), cut=9, before="Next up: ", sep="\n\n"))
    return _drafts([*short, *_tail(None)], [*long, *_tail(None)])
