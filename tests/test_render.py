"""What the cogs draw: within Discord's limits, escaped, pinging only whom they mean to."""

from __future__ import annotations

import discord

from bot.services import messages
from cogs._format import join_lines
from cogs.github import render_merged, render_relay
from cogs.goals import render_added

EVIL = "@everyone <@&123> **bold** `code` [link](https://evil.example)"


def embed_size(embed: discord.Embed) -> int:
    return len(embed)


def test_goal_announcement_escapes_text_and_pings_nobody() -> None:
    out = render_added(messages.GoalAdded(number=3, user_id=42, text=EVIL, due="2026-12-01", link="a/b#1"))
    assert out["allowed_mentions"].to_dict() == {"parse": []}
    description = out["embed"].description
    assert "@everyone" not in description  # neutralised (zero-width space) as well as not allowed to ping
    assert "\\*\\*bold\\*\\*" in description


def test_celebration_pings_only_the_member() -> None:
    data = {
        "merged_id": 1,
        "user_id": 42,
        "repo": "encode/httpx",
        "repo_name": "encode/httpx",
        "number": 7,
        "title": EVIL,
        "url": "https://github.com/encode/httpx/pull/7",
        "total": 1,
        "in_repo": 1,
        "milestones": ["prs:1"],
        "goals": [{"number": 2, "text": EVIL}],
    }
    out = render_merged(messages.Merged.decode(data))
    assert out["allowed_mentions"].to_dict() == {"parse": [], "users": [42]}
    description = out["embed"].description
    assert "\\*\\*bold\\*\\*" in description and "\\[link]" in description  # escaped, not rendered
    assert "@everyone" not in out["embed"].title
    assert "first merged pull request" in out["embed"].description
    assert out["view"].children[0].custom_id == "shiplog:share:1"


def relay_item(n: int, title: str = "x" * 250) -> messages.Relay:
    return messages.Relay(
        event="pulls",
        action="opened",
        repo="encode/httpx",
        number=n,
        title=title,
        url=f"https://github.com/encode/httpx/pull/{n}",
        author="someone",
    )


def test_a_burst_of_relays_is_one_message_naming_every_event_that_fits() -> None:
    out = render_relay([relay_item(n, title=f"change {n}") for n in range(1, 21)])
    embed = out["embed"]
    assert embed.title == "20 GitHub events in encode/httpx"
    assert all(f"encode/httpx#{n}]" in embed.description for n in range(1, 21))
    assert "more" not in embed.description


def test_a_huge_burst_is_cut_into_messages_that_fit_and_name_every_event() -> None:
    items = [relay_item(n) for n in range(1, 101)]
    named = []
    while items:
        out = render_relay(items)
        embed = out["embed"]
        assert len(embed.description or "") <= 4096
        assert embed_size(embed) <= 6000
        assert "more" not in (embed.description or "")  # nothing is summed up: the rest comes next
        used = out.get("used", len(items))
        assert 1 <= used <= len(items)
        for item in items[:used]:
            url = f"https://github.com/encode/httpx/pull/{item.number}"
            if f"({url})" in (embed.description or "") or embed.url == url:
                named.append(item.number)
        items = items[used:]
    assert named == list(range(1, 101))


def test_single_relay_is_a_compact_embed() -> None:
    out = render_relay([relay_item(5, title=EVIL)])
    assert "@everyone" not in out["embed"].title
    assert out["embed"].title.startswith("[encode/httpx] PR opened")
    assert len(out["embed"].title) <= 256


def test_join_lines_marks_what_is_left_out() -> None:
    text = join_lines([f"line {i}" for i in range(100)], limit=60)
    assert len(text) <= 60
    assert text.endswith("more")
