"""/help, driven as a member and as an admin: every command they may use, and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from discord import app_commands

from cogs.help import usage
from tests.harness import World, world


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        yield w


def leaves(w: World, *, admin: bool) -> list[app_commands.Command]:
    """The bot's registered slash commands, split by whether Discord hides them from members."""
    assert w.bot is not None
    return [
        c
        for c in w.bot.tree.walk_commands()
        if isinstance(c, app_commands.Command) and ((c.root_parent or c).default_permissions is not None) == admin
    ]


def size(embeds: list[dict]) -> int:
    return sum(
        len(e.get("title", "")) + len(e.get("description", "")) + len(e.get("footer", {}).get("text", ""))
        for e in embeds
    )


async def test_a_member_sees_every_command_they_can_use_and_no_admin_one(w: World) -> None:
    res = await w.invoke(w.alice, "help")
    assert res.ephemeral
    (embed,) = res.embeds
    text = embed["description"]
    assert "`/goal add text [due] [link]` Set a new public goal." in text.splitlines()
    assert "**/goal: Set, list and finish your public goals.**" in text
    assert "`/help` List the commands you can use, one line each." in text
    member_side = leaves(w, admin=False)
    assert len(member_side) > 20
    for command in member_side:  # built from the tree: a new command shows up without touching /help
        assert f"`{usage(command)}` {command.description}" in text, command.qualified_name
    for command in leaves(w, admin=True):
        assert f"/{command.qualified_name}" not in text
    assert "/settings" not in text and "/github-admin" not in text
    assert "… and" not in text  # nothing cut


async def test_an_admin_also_sees_the_admin_commands_apart(w: World) -> None:
    res = await w.invoke(w.admin, "help")
    assert res.ephemeral
    everyone, managers = res.embeds
    assert managers["title"] == "For server managers"
    admin_side = leaves(w, admin=True)
    assert {c.root_parent.name for c in admin_side if c.root_parent} >= {"settings", "github-admin"}
    for command in admin_side:
        assert f"`{usage(command)}` {command.description}" in managers["description"], command.qualified_name
        assert f"/{command.qualified_name}" not in everyone["description"]
    assert "`/github-admin subscribe repo channel [events] [labels] [include_bots]`" in managers["description"]
    assert "… and" not in managers["description"]
    assert size(res.embeds) <= 6000  # Discord's limit for the embeds of one message
