"""Share drafts fit every network, whatever the title, goal or repository (property-tested)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services.sharing import share
from bot.services.sharing.share import ELLIPSIS, HASHTAGS, NETWORKS

# Any text a member or GitHub can send: every plane, emoji sequences, combining marks, RTL, spaces.
EMOJI = ["👩‍👩‍👧", "🇫🇷", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "👍🏽", "❤️", "e\u0301", "🧑‍💻", "ﷺ", "𝕏", "字"]
words = st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(EMOJI), st.sampled_from(["README.md", "x.io/a"]))
texts = st.lists(words, max_size=80).map(" ".join) | st.text(max_size=600)
# GitHub's rules: owner up to 39 of [A-Za-z0-9-], repository up to 100 of [A-Za-z0-9._-].
owners = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?", fullmatch=True)
names = st.from_regex(r"[A-Za-z0-9._-]{1,100}", fullmatch=True).filter(lambda n: n not in {".", ".."})
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_fits(drafts: dict[str, str], *, link: str | None) -> None:
    assert set(drafts) == {network.key for network in NETWORKS}
    for network in NETWORKS:
        text = drafts[network.key]
        assert network.fits(text), (network.key, network.length(text), text)
        assert text.endswith(HASHTAGS)
        if link:
            assert f"\n{link}\n" in text  # the link whole, on its own line


def assert_cut_cleanly(drafts: dict[str, str], original: str) -> None:
    """The quoted text is the original, or its beginning up to a space, plus an ellipsis: no split grapheme."""
    cleaned = share.clean(original)
    for text in drafts.values():
        quoted = [line[1:-1] for line in text.split("\n") if line.startswith("“") and line.endswith("”")]
        if not quoted:  # cut away entirely
            continue
        (shown,) = quoted
        if shown == cleaned:
            continue
        assert shown.endswith(ELLIPSIS)
        kept = shown[: -len(ELLIPSIS)]
        assert cleaned.startswith(kept)
        clusters = share.graphemes(cleaned)
        assert share.graphemes(kept) == clusters[: len(share.graphemes(kept))]
        rest = cleaned[len(kept) :]
        assert rest[:1] in set(" ,.;:-–—")  # cut at a space (trailing punctuation dropped), never mid-word


@PROPERTY
@given(
    owner=owners,
    name=names,
    title=texts,
    number=st.integers(1, 10**7),
    total=st.integers(1, 10**5),
    in_repo=st.integers(1, 10**4),
    known=st.booleans(),
    exact=st.booleans(),
)
def test_a_merged_pr_draft_fits_every_network(owner, name, title, number, total, in_repo, known, exact) -> None:
    url = f"https://github.com/{owner}/{name}/pull/{number}"
    drafts = share.merged_pr(
        repo=f"{owner}/{name}", title=title, url=url, total=total, in_repo=min(in_repo, total), known=known, exact=exact
    )
    assert_fits(drafts, link=url)
    assert_cut_cleanly(drafts, title)


@PROPERTY
@given(goal=texts, days=st.none() | st.integers(0, 5000), url=st.none() | st.just("https://github.com/o/r/pull/1"))
def test_a_finished_goal_draft_fits_every_network(goal, days, url) -> None:
    drafts = share.goal_done(goal=goal, days=days, url=url)
    assert_fits(drafts, link=url)
    assert_cut_cleanly(drafts, goal)


@PROPERTY
@given(length=st.integers(1, 10**6), cadence=st.sampled_from(["weekly", "daily"]))
def test_a_streak_draft_fits_every_network(length, cadence) -> None:
    assert_fits(share.streak_milestone(length=length, cadence=cadence), link=None)


def test_the_issues_long_title_now_fits_x() -> None:
    # A 250-character title gave a 417-character post, for X's 280.
    title = ("Refactor the connection pool to reuse sockets across redirects " * 4)[:250]
    url = "https://github.com/encode/httpx/pull/3120"
    drafts = share.merged_pr(repo="encode/httpx", title=title, url=url, total=3, in_repo=1)
    x = drafts["x"]
    assert share.x_length(x) <= 280
    assert "“Refactor the connection pool" in x and x.count(ELLIPSIS) == 1
    assert drafts["linkedin"].count(title) == 1  # LinkedIn has room for all of it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("https://github.com/a/" + "b" * 200, 23),  # a link counts 23, however long
        ("README.md", 23),  # X may take it for a link: at least 23
        ("字字", 4),  # CJK weighs 2
        ("👩‍👩‍👧", 2),  # one emoji, however many code points
        ("é", 1),
    ],
)
def test_x_counts_like_twitter_text_or_more(text: str, expected: int) -> None:
    assert share.x_length(text) == expected


def test_clean_drops_controls_and_fences_but_keeps_emoji() -> None:
    assert share.clean("a\u202eb\x00c\n\nd ```x```") == "abc d '''x'''"
    assert share.clean("🏴󠁧󠁢󠁳󠁣󠁴󠁿 👩‍👩‍👧") == "🏴󠁧󠁢󠁳󠁣󠁴󠁿 👩‍👩‍👧"


@PROPERTY
@given(
    prs=st.lists(st.tuples(st.builds(lambda o, n: f"{o}/{n}", owners, names), st.integers(1, 50)), max_size=12),
    goals=st.lists(texts, max_size=8),
    goals_set=st.integers(0, 50),
    checkins=st.integers(0, 100),
    streak=st.integers(0, 500),
    cadence=st.sampled_from(["weekly", "daily"]),
    kudos=st.integers(0, 100),
    next_step=st.none() | texts,
)
def test_a_weekly_recap_fits_every_network(prs, goals, goals_set, checkins, streak, cadence, kudos, next_step) -> None:
    drafts = share.weekly_recap(
        prs=prs,
        goals_finished=goals,
        goals_set=goals_set,
        checkins=checkins,
        streak=streak,
        cadence=cadence,
        kudos=kudos,
        next_step=next_step,
    )
    assert_fits(drafts, link=None)
    if not (prs or goals or checkins):
        assert all("quieter week" in text for text in drafts.values())
