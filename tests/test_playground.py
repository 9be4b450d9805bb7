"""`shiplog playground`: the real bot on the Discord stand-in, driven through the page's endpoints and in a browser."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.playground.run import running
from bot.playground.world import SWEEP_STEP, Playground
from tests.browser import DESKTOP, PHONE, chromium, screenshot_path, severe_violations, skip_without_chromium
from tests.harness import eventually

ROOT = Path(__file__).resolve().parent.parent


class Page:
    """The page's JSON endpoints, called as the page calls them."""

    def __init__(self, playground: Playground, session: aiohttp.ClientSession) -> None:
        self.playground = playground
        self.session = session
        self.base = f"http://127.0.0.1:{playground.port}"

    def id_of(self, name: str) -> str:
        return str(next(m.id for m in self.playground.members.values() if m.name == name))  # in the server or not

    def channel_id(self, name: str) -> str:
        return str(self.playground.guild.channel_named(name).id)

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.session.get(self.base + path, params=params) as response:
            return response.status, await response.json()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(self.base + path, json=body) as response:
            return response.status, await response.json()

    async def invoke(self, who: str, channel: str, command: str, **options: Any) -> tuple[int, Any]:
        body = {"as": self.id_of(who), "channel": self.channel_id(channel), "command": command, "options": options}
        return await self.post("/api/invoke", body)

    async def messages(self, who: str, channel: str) -> list[dict[str, Any]]:
        status, messages = await self.get(
            "/api/messages", **{"as": self.id_of(who), "channel": self.channel_id(channel)}
        )
        assert status == 200, messages
        return messages

    async def wait_for(self, who: str, channel: str, text: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until `who` sees a message in `channel` whose content or embeds hold `text`; return it."""

        async def found() -> dict[str, Any] | None:
            for message in await self.messages(who, channel):
                if text in repr((message["content"], message["embeds"])):
                    return message
            return None

        message = await eventually(found, timeout=timeout)
        assert message, f"{who} sees no {text!r} in #{channel}: {await self.messages(who, channel)}"
        return message

    async def wait_for_attachment(self, who: str, channel: str, timeout: float = 10.0) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next((m for m in await self.messages(who, channel) if m.get("attachments")), None)

        message = await eventually(found, timeout=timeout)
        assert message, f"{who} sees no attachment in #{channel}: {await self.messages(who, channel)}"
        return message


# The playground's clock in the tests: a Wednesday noon, days from a weekly run (Mondays 09:00 UTC) and
# from a week's end, whatever the real time is. `next_run` then always begins a new week.
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def page(db_url: str) -> AsyncIterator[Page]:
    async with running(db_url, 0, start=START) as playground, aiohttp.ClientSession() as session:
        yield Page(playground, session)


async def test_the_server_is_set_up_by_its_admin_with_the_bots_own_commands(page: Page) -> None:
    status, people = await page.get("/api/people")
    assert status == 200
    assert [(p["name"], p["admin"]) for p in people] == [
        ("ada", True),
        ("alice", False),
        ("bob", False),
        ("carol", False),
    ]
    status, state = await page.get("/api/state", **{"as": page.id_of("alice")})
    assert [c["name"] for c in state["channels"]] == [
        "general",
        "goals",
        "accountability",
        "celebrations",
        "digest",
        "github",
    ]
    assert "/github-admin link-member member:@alice username:Codertocat" in state["setup"]
    # A member is offered the commands they may use; /settings is the admin's.
    _, alices = await page.get("/api/commands", **{"as": page.id_of("alice")})
    _, adas = await page.get("/api/commands", **{"as": page.id_of("ada")})
    assert "goal" in [c["name"] for c in alices] and "settings" not in [c["name"] for c in alices]
    assert "settings" in [c["name"] for c in adas]


async def test_a_member_sets_a_goal_and_their_merged_pr_is_celebrated(page: Page) -> None:
    status, answer = await page.invoke(
        "alice", "general", "goal add", text="Get PR 2 merged", link="https://github.com/octo-org/Hello-World/pull/2"
    )
    assert status == 200 and answer["ephemeral"], answer
    # The private answer is alice's alone; the announcement is everyone's.
    mine = await page.wait_for("alice", "general", "is set: Get PR 2 merged")
    assert mine["flags"] & 64 and mine["interaction"]["name"] == "goal add"
    assert not [m for m in await page.messages("bob", "general") if m["flags"] & 64]
    announcement = await page.wait_for("bob", "goals", "Get PR 2 merged")
    assert announcement["content"] == f"<@{page.id_of('alice')}> set a new goal."

    status, answer = await page.post("/api/github", {"kind": "merged_pr"})
    assert status == 200, answer
    celebration = await page.wait_for("bob", "celebrations", "Congratulations")
    assert celebration["content"] == f"🎉 Congratulations <@{page.id_of('alice')}>!"
    assert "first merged pull request" in celebration["embeds"][0]["description"]
    assert "Get PR 2 merged" in celebration["embeds"][0]["description"]  # the linked goal finished itself
    # The share button answers alice privately.
    share = celebration["components"][0]["components"][0]["custom_id"]
    status, _ = await page.post(
        "/api/click", {"as": page.id_of("alice"), "message": celebration["id"], "custom_id": share}
    )
    assert status == 200
    shared = await page.wait_for("alice", "celebrations", "#BuildInPublic")
    assert shared["flags"] & 64
    _, state = await page.get("/api/state", **{"as": page.id_of("alice")})
    assert "HTTP 202" in state["events"][-1]["text"]  # the delivery went through the real intake


async def test_an_issue_burst_is_relayed_as_one_summary(page: Page) -> None:
    status, _ = await page.post("/api/github", {"kind": "issue_burst"})
    assert status == 200
    post = await page.wait_for("carol", "github", "GitHub events in octo-org/hello-world")
    assert "Typo in the installation guide" in repr(post["embeds"])


async def test_every_sample_is_a_new_item_so_each_merge_and_issue_is_relayed(page: Page) -> None:
    """A sample keeping the fixture's pull_request.id was taken for the same PR: only the first was relayed."""
    for _ in range(3):
        status, answer = await page.post("/api/github", {"kind": "merged_pr"})
        assert status == 200, answer
        await page.post("/api/github", {"kind": "issue_burst"})
    for part in (1, 2, 3):
        await page.wait_for("carol", "github", f"install steps (part {part})")
    relayed = repr([(m["content"], m["embeds"]) for m in await page.messages("carol", "github")])
    assert relayed.count("Typo in the installation guide") == 3, relayed
    # Issues and pull requests share the repository's numbers, as on GitHub: none is numbered twice.
    numbers = re.findall(
        r"octo-org/Hello-World#(\d+)", repr((await page.get("/api/state", **{"as": page.id_of("bob")}))[1])
    )
    assert len(numbers) == len(set(numbers)) == 3, numbers


async def test_a_member_opens_their_public_page_and_the_address_it_gives_shows_it(page: Page) -> None:
    await page.invoke("bob", "general", "goal add", text="Ship the docs site")
    status, answer = await page.invoke("bob", "general", "me page", enabled=True)
    assert status == 200, answer
    ready = await page.wait_for("bob", "general", "Your public page is ready")
    url = re.search(r"https?://\S+", ready["content"])[0]
    assert url.startswith(f"{page.base}/u/"), url  # the playground's own address: its PUBLIC_URL
    async with page.session.get(url) as response:
        assert response.status == 200, await response.text()
        html = await response.text()
    assert "<h1>bob</h1>" in html and "Ship the docs site" in html


async def test_the_servers_community_page_is_published_and_its_address_given(page: Page) -> None:
    _, state = await page.get("/api/state", **{"as": page.id_of("bob")})
    assert "/settings pages enabled:True community:True" in state["setup"]
    url = state["community"]
    assert url == page.playground.community_url and url.startswith(f"{page.base}/c/"), url
    async with page.session.get(url) as response:
        assert response.status == 200, await response.text()
        html = await response.text()
    assert "our community ships</title>" in html and 'class="chart"' in html


async def test_a_member_links_github_with_the_code_in_a_pretend_bio(page: Page) -> None:
    _, people = await page.get("/api/people")
    login = next(p["github"]["login"] for p in people if p["name"] == "carol")
    await page.invoke("carol", "general", "github link", username=login)
    challenge = await page.wait_for("carol", "general", "shiplog-")
    code = re.search(r"shiplog-[0-9a-f]+", challenge["content"])[0]
    status, answer = await page.invoke("carol", "general", "github verify")
    assert status == 200, answer
    await page.wait_for("carol", "general", f"I couldn't find `{code}` in the bio")  # not there yet
    status, answer = await page.post("/api/bio", {"as": page.id_of("carol"), "bio": f"Docs person. {code}"})
    assert status == 200 and answer["person"]["github"] == {"login": login, "bio": f"Docs person. {code}"}
    status, answer = await page.invoke("carol", "general", "github verify")
    assert status == 200, answer
    await page.wait_for("carol", "general", f"Linked to [{login}]")
    status, answer = await page.invoke("bob", "general", "github whois", member=page.id_of("carol"))
    assert status == 200, answer
    await page.wait_for("bob", "general", f"is [{login}]")


async def test_a_member_links_github_in_one_step_on_the_pretend_github(page: Page) -> None:
    _, people = await page.get("/api/people")
    login = next(p["github"]["login"] for p in people if p["name"] == "carol")
    status, answer = await page.invoke("carol", "general", "github link")
    assert status == 200, answer
    await page.wait_for("carol", "general", "Link your GitHub account in one step")
    (code,) = page.playground.github.device.codes
    assert code.user is not None and code.user.login == login  # the pretend member approves it shortly
    page.playground.clock.advance(timedelta(seconds=code.interval))  # the bot's next poll, now
    await page.wait_for("carol", "general", f"Linked to [{login}]")
    async with page.session.get(f"{page.playground.github.url}/login/device") as response:
        assert response.status == 200 and "pretend GitHub" in await response.text()


async def test_an_upstream_merge_is_found_by_the_radar(page: Page) -> None:
    status, _ = await page.post("/api/github", {"kind": "upstream_merge"})
    assert status == 200
    post = await page.wait_for("alice", "celebrations", "Clarify an error message")
    assert "python/cpython" in repr(post["embeds"])


async def test_autocomplete_offers_the_members_own_goals(page: Page) -> None:
    await page.invoke("alice", "goals", "goal add", text="Write the changelog")
    status, choices = await page.post(
        "/api/autocomplete",
        {
            "as": page.id_of("alice"),
            "channel": page.channel_id("goals"),
            "command": "goal done",
            "option": "goal",
            "options": {"goal": "change"},
        },
    )
    assert status == 200
    assert [c["value"] for c in choices] == [1] and "Write the changelog" in choices[0]["name"]


async def test_the_clock_brings_the_weekly_ping_and_digest(page: Page) -> None:
    await page.invoke("bob", "accountability", "goal add", text="Review two PRs")
    status, answer = await page.post("/api/clock", {"next_run": True})
    assert status == 200 and len(answer["runs"]) == 1, answer
    ping = await page.wait_for("bob", "accountability", "Weekly check-in")
    assert f"<@{page.id_of('bob')}>" in ping["content"]
    await page.wait_for("bob", "digest", "Weekly digest")
    # A day later nothing more runs; a week later the next one does, once.
    assert (await page.post("/api/clock", {"hours": 24}))[1]["runs"] == []
    assert len((await page.post("/api/clock", {"hours": 24 * 7}))[1]["runs"]) == 1


async def test_a_streak_at_risk_reaches_the_members_dms_as_the_clock_moves(page: Page) -> None:
    await page.invoke("carol", "accountability", "checkin", note="fixed a typo upstream")
    await page.invoke("carol", "accountability", "me streak-dms", enabled=True)
    _, state = await page.get("/api/state", **{"as": page.id_of("carol")})
    assert state["dm"] is None
    await page.post("/api/clock", {"next_run": True})  # a new week: carol hasn't checked in yet
    await page.post("/api/clock", {"hours": 24 * 6})  # its last day

    async def carols_dm() -> dict | None:
        _, state = await page.get("/api/state", **{"as": page.id_of("carol")})
        return state if state["dm"] and state["dm"]["count"] == 1 else None

    state = await eventually(carols_dm)
    assert state, "no DM reached carol"
    status, (dm,) = await page.get("/api/messages", **{"as": page.id_of("carol"), "channel": state["dm"]["id"]})
    assert status == 200 and "1-week streak in **Open Source Builders** is at risk" in dm["content"]
    # Nobody else reads carol's DMs.
    status, answer = await page.get("/api/messages", **{"as": page.id_of("bob"), "channel": state["dm"]["id"]})
    assert status == 400 and "someone else's DMs" in answer["error"]


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/api/invoke", {"as": "1", "channel": "1", "command": "goal add"}, "Pick who you are first"),
        ("/api/github", {"kind": "force_push"}, "no sample GitHub event"),
        ("/api/clock", {"hours": -5}, "Move the clock forward"),
        ("/api/clock", {"hours": "soon"}, "Move the clock forward"),
        ("/api/click", {"as": "alice", "message": "12345", "custom_id": "x"}, "That message is gone"),
    ],
)
async def test_bad_requests_are_refused_politely(page: Page, path: str, body: dict, expected: str) -> None:
    if body.get("as") == "alice":
        body["as"] = page.id_of("alice")
    status, answer = await page.post(path, body)
    assert status == 400
    assert expected in answer["error"]


async def test_junk_in_an_option_or_a_field_is_a_polite_400_never_a_500(page: Page) -> None:
    ada, bob, general = page.id_of("ada"), page.id_of("bob"), page.channel_id("general")
    cases = [
        ("settings member-left", {"member": "notanid"}),
        ("settings member-left", {"member": "123456789"}),  # a number, but nobody's
        ("settings member-left", {"member": {"id": "x"}}),
        ("settings channel", {"purpose": "goals", "channel": "notanid"}),
        ("settings channel", {"purpose": "goals", "channel": ["x"]}),
        ("settings ping", {"role": "notanid"}),
        ("settings ping", {"cap": "many"}),
        ("settings ping", {"cap": 1.5}),
        ("goal done", {"goal": "first"}),
    ]
    for command, options in cases:
        status, answer = await page.post(
            "/api/invoke", {"as": ada, "channel": general, "command": command, "options": options}
        )
        assert status == 400 and answer["error"].startswith("Discord would not send that"), (command, options, answer)
    bodies = [
        ("/api/invoke", {"as": ["x"], "channel": general, "command": "goal add"}),
        ("/api/invoke", {"as": bob, "channel": {"id": 1}, "command": "goal add"}),
        ("/api/invoke", {"as": bob, "channel": general, "command": ["goal add"]}),
        ("/api/invoke", {"as": bob, "channel": general, "command": "no such command"}),
        ("/api/invoke", {"as": bob, "channel": general, "command": "goal add", "options": {"nope": 1}}),
        ("/api/autocomplete", {"as": bob, "channel": general, "command": "goal done", "option": "nope"}),
        ("/api/autocomplete", {"as": bob, "channel": general, "command": "nope", "option": "goal"}),
        ("/api/click", {"as": bob, "message": "notanid", "custom_id": "x"}),
        ("/api/click", {"as": {}, "message": "1", "custom_id": "x"}),
        ("/api/say", {"as": bob, "channel": None, "text": "hi"}),
        ("/api/clock", {"hours": None}),
        ("/api/github", {"kind": ["merged_pr"]}),
        ("/api/membership", {"member": "notanid", "action": "leave"}),
        ("/api/membership", {"member": bob, "action": "vanish"}),
        ("/api/membership", {"member": ada, "action": "leave"}),
    ]
    for path, body in bodies:
        status, answer = await page.post(path, body)
        assert status == 400 and answer["ok"] is False and answer["error"], (path, body, answer)
    for path, params in [
        ("/api/state", {"as": "x"}),
        ("/api/commands", {"as": ""}),
        ("/api/messages", {"as": bob, "channel": "x"}),
    ]:
        status, answer = await page.get(path, **params)
        assert status == 400 and answer["error"], (path, params, answer)
    assert await page.messages("bob", "general") == []


async def test_every_json_endpoint_refuses_a_body_too_deep_too_big_or_of_the_wrong_types_with_a_400(
    page: Page,
) -> None:
    """The playground's JSON intake is one gate (`_body`): no endpoint gets past it with a body it would choke on."""
    bob, general = page.id_of("bob"), page.channel_id("general")
    deep = "[" * 100_000 + "]" * 100_000  # deeper than Python's JSON parser can go
    nested = {"as": bob, "channel": general, "command": "goal add", "options": {"text": [[[["too deep"]]]]}}
    # Every POST endpoint the page has, read from the router: a new one is covered without a word here.
    paths = sorted(
        route.resource.canonical
        for route in page.playground.running_bot.web.app.router.routes()
        if route.method == "POST" and route.resource is not None and route.resource.canonical.startswith("/api/")
    )
    assert {"/api/invoke", "/api/say", "/api/bio", "/api/clock"} <= set(paths), paths
    for path in paths:
        for raw in [
            deep,
            '{"as": ' + deep + "}",
            json.dumps(nested),
            json.dumps({"as": bob, "text": "x" * 70_000}),  # past the 64 KiB a page ever sends
            '{"hours": NaN}',
            '{"hours": Infinity}',
        ]:
            async with page.session.post(
                page.base + path, data=raw, headers={"Content-Type": "application/json"}
            ) as response:
                answer = await response.json()
                assert response.status == 400 and answer["ok"] is False and answer["error"], (path, raw[:40], answer)
    for path, body in [
        ("/api/say", {"as": bob, "channel": general, "text": {"not": "text"}}),
        ("/api/say", {"as": bob, "channel": general, "text": ["hi"]}),
        ("/api/bio", {"as": bob, "bio": ["shiplog-1234"]}),
        ("/api/bio", {"as": bob, "bio": "x" * 161}),
        ("/api/clock", {"next_run": "no"}),
        ("/api/clock", {"next_run": 1}),
    ]:
        status, answer = await page.post(path, body)
        assert status == 400 and answer["error"], (path, body, answer)
    assert await page.messages("bob", "general") == []
    _, state = await page.get("/api/state", **{"as": bob})
    assert state["events"] == []  # nothing was sent to GitHub's intake either


async def test_a_member_leaves_and_rejoins_and_the_admin_tells_shiplog(page: Page) -> None:
    """The playground's bot has no members intent: the admin says who left with /settings member-left."""
    await page.invoke("bob", "accountability", "goal add", text="Review two PRs")
    await page.invoke("alice", "accountability", "goal add", text="Write the changelog")
    bob = page.id_of("bob")
    status, answer = await page.post("/api/membership", {"member": bob, "action": "leave"})
    assert status == 200 and answer["person"]["here"] is False
    _, people = await page.get("/api/people")
    assert [p["name"] for p in people if not p["here"]] == ["bob"]
    status, answer = await page.invoke("bob", "general", "goal list")  # who left can do nothing here
    assert status == 400 and "bob has left the server" in answer["error"]
    status, answer = await page.invoke("ada", "general", "settings member-left", member=bob)  # the id, pasted
    assert status == 200, answer
    await page.wait_for("ada", "general", "no longer mention bob")
    status, answer = await page.post("/api/clock", {"next_run": True})
    ping = await page.wait_for("alice", "accountability", "Weekly check-in")
    assert f"<@{page.id_of('alice')}>" in ping["content"] and f"<@{bob}>" not in ping["content"]

    status, answer = await page.post("/api/membership", {"member": bob, "action": "rejoin"})
    assert status == 200 and answer["person"]["here"] is True
    status, _ = await page.invoke("ada", "general", "settings member-left", member=bob, left=False)
    assert status == 200
    await page.wait_for("ada", "general", "Welcome back to bob")
    status, answer = await page.invoke("bob", "general", "goal list")
    assert status == 200, answer


async def test_a_streak_dm_is_delivered_on_the_way_at_the_time_it_fell_due(page: Page) -> None:
    await page.invoke("bob", "accountability", "checkin", note="reviewed a PR")
    await page.invoke("bob", "accountability", "me streak-dms", enabled=True)
    await page.post("/api/clock", {"next_run": True})
    for _ in range(5):
        await page.post("/api/clock", {"hours": 24})
    _, state = await page.get("/api/state", **{"as": page.id_of("bob")})
    assert state["dm"] is None  # the week has more than a day to go: no warning yet
    status, answer = await page.post("/api/clock", {"next_run": True})  # through the week's last day
    assert status == 200 and len(answer["runs"]) == 1
    _, state = await page.get("/api/state", **{"as": page.id_of("bob")})
    status, (dm,) = await page.get("/api/messages", **{"as": page.id_of("bob"), "channel": state["dm"]["id"]})
    assert "is at risk" in dm["content"]
    sent = datetime.fromisoformat(dm["timestamp"])
    ends = datetime.fromtimestamp(int(re.search(r"<t:(\d+)", dm["content"])[1]), UTC)
    # Sent as the last day began (stamped with the playground's clock when posted), not at the end of
    # the jump after the streak had broken. Sweeps are SWEEP_STEP apart (a minute more when a weekly
    # run falls between two), and on a loaded machine a post can slip to the next sweep's step (CI saw
    # 3 h 1 min): so within two steps of the window opening, and hours before the end of the jump.
    assert timedelta(days=1) - 2 * SWEEP_STEP < ends - sent <= timedelta(days=1), (sent, ends, dm["content"])
    assert sent < datetime.fromisoformat(answer["clock"]) - timedelta(hours=1)


async def test_messages_are_stamped_with_the_playgrounds_clock(page: Page) -> None:
    await page.invoke("bob", "accountability", "goal add", text="Review two PRs")
    _, answer = await page.post("/api/clock", {"next_run": True})
    ping = await page.wait_for("bob", "accountability", "Weekly check-in")
    run = datetime.fromisoformat(answer["runs"][0])
    # The playground's clock starts at START, days away from the real time (and from SHIPLOG_TEST_NOW's):
    # a stamp in this window is the playground's.
    assert START + timedelta(days=4) < run
    assert (
        run
        <= datetime.fromisoformat(ping["timestamp"])
        <= datetime.fromisoformat(answer["clock"]) + timedelta(seconds=30)
    )


async def test_the_streak_picture_is_an_image_the_page_can_draw(page: Page) -> None:
    await page.invoke("carol", "general", "checkin", note="first one")
    status, answer = await page.invoke("carol", "general", "streak")
    assert status == 200, answer
    message = await page.wait_for_attachment("carol", "general")
    (attachment,) = message["attachments"]
    assert attachment["content_type"] == "image/png", attachment
    async with page.session.get(attachment["url"]) as response:
        assert response.status == 200 and (await response.read()).startswith(b"\x89PNG")


async def test_what_discords_client_would_refuse_is_refused_and_changes_nothing(page: Page) -> None:
    status, answer = await page.invoke("bob", "general", "settings cadence", cadence="daily")
    assert status == 400 and answer["error"] == "You don't have permission to use this command."
    status, answer = await page.invoke("bob", "general", "goal add")
    assert status == 400 and "required option 'text' missing" in answer["error"]
    async with page.session.post(page.base + "/api/say", data="text=hi") as response:
        assert response.status == 400 and "Send JSON" in (await response.json())["error"]
    async with page.session.post(
        page.base + "/api/say", data="{nope", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
    assert await page.messages("bob", "general") == []
    async with page.session.get(page.base + "/static/..%2Fworld.py") as response:
        assert response.status == 404
    async with page.session.get(page.base + "/api/people", headers={"Host": "evil.example:80"}) as response:
        assert response.status == 403  # a rebound DNS name does not reach the playground


async def test_the_page_and_a_plain_message(page: Page) -> None:
    async with page.session.get(page.base + "/") as response:
        assert response.status == 200 and "Shiplog playground" in await response.text()
    status, _ = await page.post(
        "/api/say", {"as": page.id_of("carol"), "channel": page.channel_id("general"), "text": "hi!"}
    )
    assert status == 200
    (message,) = await page.messages("alice", "general")
    assert message["content"] == "hi!" and message["author"]["username"] == "carol"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_shiplog_playground_starts_with_no_token_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "DATABASE_URL", "DEV_GUILD_ID"}}
    env["PYTHONPATH"] = str(ROOT)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "playground",
        "--port",
        str(port),
        "--no-browser",
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert f"open http://127.0.0.1:{port}/" in line.decode(), line
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/api/people") as response:
            assert response.status == 200 and len(await response.json()) == 4
        print(f"playground ready after {time.monotonic() - started:.1f} s")  # shown with -s
        # A second one on the same port says why it cannot start, without a traceback.
        second = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "playground",
            "--port",
            str(port),
            "--no-browser",
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _, second_err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}: it is in use by another program" in second_err.decode()
        assert "Traceback" not in second_err.decode()
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 30)
    stderr = (await process.stderr.read()).decode()
    assert code == 0, stderr
    assert "Traceback" not in stderr and "voice will NOT be supported" not in stderr
    # Nothing written where it ran (no ./data): its database was a temporary file.
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []


async def test_sigterm_stops_shiplog_playground_and_deletes_its_temporary_database(tmp_path: Path) -> None:
    port = _free_port()
    temp = tmp_path / "tmp"  # where the playground's tempfile.TemporaryDirectory goes (TMPDIR)
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "DATABASE_URL", "DEV_GUILD_ID"}}
    env |= {"PYTHONPATH": str(ROOT), "TMPDIR": str(temp)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "playground",
        "--port",
        str(port),
        "--no-browser",
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert f"open http://127.0.0.1:{port}/" in line.decode(), line
        (folder,) = await asyncio.to_thread(lambda: list(temp.iterdir()))
        assert (folder / "playground.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    stderr = (await process.stderr.read()).decode()
    assert code == 0 and "Traceback" not in stderr, stderr
    assert await asyncio.to_thread(lambda: list(temp.iterdir())) == []  # the database went with it


@skip_without_chromium()
async def test_in_a_browser_a_member_sets_a_goal_and_sees_their_merge_celebrated(page: Page, tmp_path: Path) -> None:
    async with chromium() as browser:
        tab = await browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        await tab.goto(page.base + "/")
        await tab.click(".person[data-name=alice]")
        await tab.click(".channel[data-name=goals]")
        # Type the command as a member would: "/" opens the command list, Enter picks the first match.
        await tab.locator("#composer").press_sequentially("/goal ad")
        await tab.wait_for_selector(".popup-item[data-name='goal add']")
        await tab.keyboard.press("Enter")
        await tab.fill("[data-option=text]", "Get my README fix merged")
        await tab.fill("[data-option=link]", "https://github.com/octo-org/Hello-World/pull/2")
        await tab.keyboard.press("Enter")
        await tab.get_by_text("set a new goal").wait_for()
        await tab.get_by_text("Only you can see this").wait_for()
        # The announcement is drawn the way Discord draws it: the mention as a name, the goal in an embed.
        announcement = tab.locator(".message", has_text="set a new goal")
        assert await announcement.locator(".mention").inner_text() == "@alice"
        assert "Get my README fix merged" in await announcement.locator(".embed").inner_text()

        await tab.click("button[data-github=merged_pr]")
        await tab.wait_for_selector(".channel[data-name=celebrations].unread")
        await tab.click(".channel[data-name=celebrations]")
        celebration = tab.locator(".message", has_text="Congratulations")
        await celebration.wait_for()
        assert await celebration.locator(".mention").first.inner_text() == "@alice"
        assert "first merged pull request" in await celebration.locator(".embed").inner_text()
        # The README's picture: the celebration, before the share drafts fill the channel. In a temporary
        # folder: `python -m tests.browser screenshots` renews docs/playground.png.
        screenshot = screenshot_path("playground.png", tmp_path)
        await tab.screenshot(path=str(screenshot))
        assert screenshot.read_bytes().startswith(b"\x89PNG")
        await celebration.locator("button.component").click()
        shared = tab.locator(".message.ephemeral", has_text="#BuildInPublic")
        await shared.wait_for()
        assert "Only you can see this" in await shared.inner_text()
        assert errors == []


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


@skip_without_chromium()
async def test_in_a_browser_the_page_fits_a_phone_and_a_desktop(page: Page, tmp_path: Path) -> None:
    long_goal = "Write the long-awaited migration guide for every plugin author in the ecosystem, with examples"
    await page.invoke("alice", "general", "goal add", text=long_goal)
    async with chromium() as browser:
        for size, name in [(PHONE, "phone"), (DESKTOP, "desktop")]:
            tab = await browser.new_page(viewport=size)
            await tab.goto(page.base + "/")
            await tab.click(".person[data-name=alice]")
            await tab.wait_for_selector(".person.selected[data-name=alice]")
            messages = await tab.locator("#messages").bounding_box()
            composer = await tab.locator("#composer-form").bounding_box()
            panel = await tab.locator(".panel").bounding_box()
            chat = await tab.locator(".chat").bounding_box()
            assert messages and messages["height"] > 200 and messages["width"] > 300, (name, messages)
            assert not _overlap(composer, panel), (name, composer, panel)
            assert composer["x"] >= chat["x"] and composer["x"] + composer["width"] <= chat["x"] + chat["width"] + 1
            # The goal's choices stay inside the chat column.
            await tab.locator("#composer").press_sequentially("/goal don")
            await tab.wait_for_selector(".popup-item[data-name='goal done']")
            await tab.keyboard.press("Enter")
            await tab.locator("[data-option=goal]").press_sequentially("migration")
            await tab.locator(".choice", has_text="migration guide").wait_for()
            # Each key asks again and redraws the list: measure the one left once the answers are in.
            choices = tab.locator(".choices")
            box = await eventually(choices.bounding_box)
            assert box, name
            assert chat["x"] <= box["x"] and box["x"] + box["width"] <= chat["x"] + chat["width"] + 1, (name, box, chat)
            # SHIPLOG_SHOTS=/some/folder keeps the two pictures, to look at them.
            shot = Path(os.environ.get("SHIPLOG_SHOTS", tmp_path)) / f"{name}.png"
            await tab.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes().startswith(b"\x89PNG")
            await tab.close()


@skip_without_chromium()
async def test_in_a_browser_a_member_leaves_the_admin_tells_shiplog_and_notices_clear(page: Page) -> None:
    await page.invoke("carol", "general", "checkin", note="first one")
    await page.invoke("bob", "goals", "goal add", text="Review two PRs")
    async with chromium() as browser:
        tab = await browser.new_page(viewport=DESKTOP)
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        await tab.goto(page.base + "/")
        await tab.click(".person[data-name=carol]")
        await tab.wait_for_selector(".person.selected[data-name=carol]")
        # The streak picture is drawn inline, not offered as a download.
        await tab.locator("#composer").press_sequentially("/streak")
        await tab.wait_for_selector(".popup-item[data-name='streak']")
        await tab.keyboard.press("Enter")
        await tab.keyboard.press("Enter")
        await tab.locator("img[src*='streak.png']").wait_for()

        # A notice goes when you switch channel, and when you switch person.
        await tab.click("button[data-github=upstream_merge]")
        notice = tab.locator("#notice")
        await tab.get_by_text("Merged on GitHub").wait_for()
        await tab.click(".channel[data-name=goals]")
        assert await notice.is_hidden()
        await tab.click("button[data-github=upstream_merge]")
        await tab.get_by_text("Merged on GitHub").wait_for()
        await tab.click(".person[data-name=ada]")
        await tab.wait_for_selector(".person.selected[data-name=ada]")
        assert await notice.is_hidden()

        # bob leaves; the admin picks him (no longer a member) for /settings member-left.
        await tab.click(".person[data-name=bob] button.membership")
        await tab.wait_for_selector(".person.gone[data-name=bob]")
        assert "left the server" in await tab.locator(".person[data-name=bob]").inner_text()
        await tab.locator("#composer").press_sequentially("/settings member-l")
        await tab.wait_for_selector(".popup-item[data-name='settings member-left']")
        await tab.keyboard.press("Enter")
        await tab.select_option("[data-option=member]", label="bob (left)")
        await tab.click("#send")
        await tab.get_by_text("no longer mention bob").wait_for()
        await tab.click(".person[data-name=bob] button.membership")
        await tab.wait_for_selector(".person:not(.gone)[data-name=bob]")
        await tab.click(".person[data-name=bob]")
        await tab.wait_for_selector(".person.selected[data-name=bob]")
        assert errors == []


@skip_without_chromium()
async def test_in_a_browser_axe_finds_nothing_serious_in_any_state_a_member_reaches(page: Page) -> None:
    """axe-core's serious and critical findings are 0 at a desktop's and a phone's size, from the first load on."""
    found: list[str] = []
    async with chromium() as browser:
        for size, name in [(DESKTOP, "desktop"), (PHONE, "phone")]:
            tab = await browser.new_page(viewport=size)

            async def look(state: str, tab: Any = tab, name: str = name) -> None:
                found.extend(f"{name}, {state}: {line}" for line in await severe_violations(tab))

            await tab.goto(page.base + "/")
            await tab.wait_for_selector(".person.selected")
            await look("first load")
            await tab.click(".person[data-name=carol]")
            await tab.wait_for_selector(".person.selected[data-name=carol]")
            await tab.click(".channel[data-name=goals]")
            await tab.locator("#composer").press_sequentially("/goal ad")
            await tab.wait_for_selector(".popup-item[data-name='goal add']")
            await look("the command list")
            await tab.keyboard.press("Enter")
            await tab.wait_for_selector("[data-option=text]")
            await look("a command's options")
            await tab.fill("[data-option=text]", f"Ship the {name} docs")
            await tab.keyboard.press("Enter")
            await tab.get_by_text(f"Ship the {name} docs").last.wait_for()
            await look("a command run")
            await tab.click("button[data-github=merged_pr]")
            await tab.wait_for_selector(".channel[data-name=celebrations].unread")
            await tab.click(".channel[data-name=celebrations]")
            await tab.locator(".message", has_text="Congratulations").last.wait_for()
            await look("a merge celebrated")
            await tab.click(".channel[data-name=github]")
            await tab.locator(".message", has_text="PR merged").last.wait_for()
            await look("a relay")
            await tab.click(".channel[data-name=general]")
            await tab.locator("#composer").press_sequentially("/me pag")
            await tab.wait_for_selector(".popup-item[data-name='me page']")
            await tab.keyboard.press("Enter")
            await tab.select_option("[data-option=enabled]", label="True")
            await tab.click("#send")
            await tab.get_by_text("Your public page is ready").last.wait_for()
            await look("a public page opened")
            assert found == [], "\n".join(found)
            await tab.fill("#bio", "Docs person")
            await tab.click("#bio-form button")
            await tab.get_by_text("Bio saved").wait_for()
            await look("a bio saved")
            await tab.click("button[data-next-run]")
            await tab.get_by_text("The weekly run fired").wait_for()
            await tab.click(".channel[data-name=accountability]")
            await tab.locator(".message", has_text="Weekly check-in").last.wait_for()
            await look("the weekly ping")
            await tab.click(".person[data-name=bob] button.membership")
            await tab.wait_for_selector(".person.gone[data-name=bob]")
            await look("a member who left")
            await tab.click(".person[data-name=bob] button.membership")
            await tab.wait_for_selector(".person:not(.gone)[data-name=bob]")
            await tab.close()
    assert found == [], "\n".join(found)


@skip_without_chromium()
async def test_in_a_browser_tab_reaches_everything_clickable_and_enter_uses_it(page: Page) -> None:
    await page.invoke("alice", "goals", "goal add", text="Write the changelog")
    async with chromium() as browser:
        tab = await browser.new_page(viewport=DESKTOP)
        await tab.goto(page.base + "/")
        await tab.click(".person[data-name=alice]")
        await tab.wait_for_selector(".person.selected[data-name=alice]")
        await tab.locator("#messages").focus()  # a place to start from: the chat, then Tab on to the end

        async def tab_to(key: str) -> None:
            """Press Tab (at most 80 times, wrapping round the page) until the element named `key` has the focus."""
            for _ in range(80):
                if await tab.evaluate("() => document.activeElement?.dataset?.focus") == key:
                    return
                await tab.keyboard.press("Tab")
            raise AssertionError(f"Tab never reaches {key}")

        # Every channel and person row, and every panel button, is in the Tab order.
        reached: set[str] = set()
        for _ in range(80):
            await tab.keyboard.press("Tab")
            reached.add(
                await tab.evaluate(
                    "() => { const e = document.activeElement;"
                    " return e.dataset.focus || e.dataset.github || e.dataset.hours || e.id || e.tagName; }"
                )
            )
        wanted = {f"channel:{c}" for c in ("general", "goals", "accountability", "celebrations", "digest", "github")}
        wanted |= {f"person:{p}" for p in ("ada", "alice", "bob", "carol")}
        wanted |= {"membership:alice", "membership:bob", "membership:carol", "merged_pr", "issue_burst", "bio", "24"}
        assert wanted <= reached, wanted - reached

        await tab_to("channel:goals")
        await tab.keyboard.press("Enter")
        await tab.wait_for_selector(".channel.selected[data-name=goals]")
        assert await tab.locator("#chat-title").inner_text() == "goals"
        # An autocompleted option's choices: Tab reaches them, Enter picks one, Enter again sends.
        await tab.locator("#composer").press_sequentially("/goal don")
        await tab.wait_for_selector(".popup-item[data-name='goal done']")
        await tab.keyboard.press("Enter")
        await tab.locator("[data-option=goal]").press_sequentially("change")
        await tab.locator(".choice", has_text="Write the changelog").wait_for()
        await tab.keyboard.press("Tab")
        assert "Write the changelog" in await tab.evaluate("() => document.activeElement.textContent")
        await tab.keyboard.press("Enter")
        assert "Write the changelog" in await tab.locator("[data-option=goal]").input_value()
        assert await tab.evaluate("() => document.activeElement.dataset.option") == "goal"
        await tab.keyboard.press("Enter")

        async def done() -> bool:
            return any(
                (m.get("interaction") or {}).get("name") == "goal done" for m in await page.messages("alice", "goals")
            )

        assert await eventually(done), await page.messages("alice", "goals")
        # Sending ends by handing the focus back to the composer: wait for it, or it could take the
        # focus from the person row the keyboard moves to next.
        await tab.wait_for_function(
            "() => document.activeElement?.id === 'composer' && !document.querySelector('#send').disabled"
        )
        await tab_to("person:bob")
        await tab.keyboard.press("Enter")
        await tab.wait_for_selector(".person.selected[data-name=bob]")
        assert await tab.locator("#me-name").inner_text() == "bob"
        # The page redraws its lists every second: once the row has been drawn anew, the focus is on the new one.
        drawn = await tab.query_selector(".person[data-name=bob]")
        await tab.wait_for_function("(row) => !row.isConnected", arg=drawn)
        assert await tab.evaluate("() => document.activeElement?.dataset?.focus") == "person:bob"
