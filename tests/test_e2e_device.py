"""/github link in one step: GitHub's OAuth device flow, end to end.

The bot (real discord.py client, fake Discord, real SQLite) talks to the playground's loopback
GitHub (`bot/playground/fake_github.py`, its device flow in `fake_device.py`), which approves or
denies a code as a member would on GitHub's page. The bot waits on the test's clock (`Clock.sleep`):
moving the clock forward by GitHub's interval makes the next poll happen at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.db.models import Base, GitHubAccount
from bot.db.session import reading
from bot.playground.clock import Clock
from bot.playground.fake_device import FakeDeviceCode
from bot.playground.fake_github import FakeGitHub
from bot.services.github.device import SLOW_DOWN_STEP, DeviceFlow, DeviceFlowEnded
from tests.conftest import NOW
from tests.harness import World, eventually, world

CLIENT_ID = "Ov23liShiplogTests01"


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url, start=False) as w:
        yield w


@pytest.fixture
async def gh(w: World) -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(now=w.clock) as gh:
        assert w.github is not None
        w.github.route(host="127.0.0.1").pass_through()  # the loopback GitHub, past the harness's respx
        yield gh


async def start(w: World, gh: FakeGitHub, **settings: Any) -> None:
    await w.start_bot(github_api_url=gh.url, github_web_url=gh.url, github_oauth_client_id=CLIENT_ID, **settings)


def the_code(gh: FakeGitHub) -> FakeDeviceCode:
    (code,) = gh.device.codes
    return code


async def poll_once_more(w: World, code: FakeDeviceCode) -> None:
    """Move the clock by GitHub's interval and wait for the bot's next poll."""
    polls = len(code.polls)
    w.clock.advance(timedelta(seconds=code.interval))
    assert await eventually(lambda: len(code.polls) > polls), "the bot did not poll GitHub"


async def linked(w: World) -> list[tuple[int, int | None, str]]:
    async with reading(w.sessionmaker) as session:
        rows = await session.scalars(select(GitHubAccount))
        return [(row.user_id, row.github_id, row.login) for row in rows]


def pinged_nobody(w: World) -> None:
    sent = [r.json for r in w.fake.requests if isinstance(r.json, dict) and r.method in ("POST", "PATCH")]
    replies = [reply for body in sent if "content" in (reply := body.get("data", body))]
    assert replies and all(reply.get("allowed_mentions", {}).get("parse") == [] for reply in replies)
    assert all(not reply.get("allowed_mentions", {}).get("users") for reply in replies)


async def test_a_member_links_in_one_step(w: World, gh: FakeGitHub) -> None:
    await start(w, gh)
    octo = gh.add_user("Octo-Alice", 4242)
    res = await w.invoke(w.alice, "github link")
    assert res.ephemeral
    code = the_code(gh)
    assert (code.client_id, code.scope) == (CLIENT_ID, "read:user")
    assert f"```\n{code.user_code}\n```" in res.content and f"{gh.url}/login/device" in res.content
    (button,) = [c for row in res.components for c in row["components"]]
    assert (button["style"], button["url"], button["label"]) == (5, f"{gh.url}/login/device", "Open GitHub")

    await poll_once_more(w, code)  # nobody typed the code yet
    assert code.polls[-1][1] == "authorization_pending" and "Linked" not in res.content
    gh.device.approve(code.user_code.lower(), octo)  # as typed on GitHub's page
    await poll_once_more(w, code)
    assert await eventually(lambda: "Linked to" in (res.content or ""))
    assert "Octo-Alice" in res.content and res.components == [] and res.ephemeral
    assert await linked(w) == [(w.alice.id, 4242, "Octo-Alice")]  # by numeric id
    assert gh.device.user_requests == [f"Bearer {code.token}"]  # GET /user, once, with the token
    res = await w.invoke(w.bob, "github whois", member=w.alice)
    assert "Octo-Alice" in res.content
    pinged_nobody(w)


async def test_slow_down_adds_five_seconds_to_the_interval(w: World, gh: FakeGitHub) -> None:
    await start(w, gh)
    octo = gh.add_user("octo-alice", 4242)
    await w.invoke(w.alice, "github link")
    code = the_code(gh)
    gh.device.slow_downs = 1
    await poll_once_more(w, code)
    assert code.polls[-1][1] == "slow_down" and code.interval == 5 + SLOW_DOWN_STEP
    gh.device.approve(code.user_code, octo)
    # Polled again only once the longer interval has passed: GitHub would answer slow_down otherwise.
    w.clock.advance(timedelta(seconds=5))
    assert not await eventually(lambda: len(code.polls) > 1, timeout=0.3)
    await poll_once_more(w, code)
    assert [answer for _, answer in code.polls] == ["slow_down", "token"]
    (first, _), (second, _) = code.polls
    assert second - first >= timedelta(seconds=10)
    assert await eventually(lambda: linked(w))


@pytest.mark.parametrize(
    ("ending", "expected"),
    [("deny", "You cancelled the request on GitHub"), ("expire", "The code expired before it was approved")],
)
async def test_a_denied_or_expired_code_links_nothing_and_stops(
    w: World, gh: FakeGitHub, ending: str, expected: str
) -> None:
    await start(w, gh)
    res = await w.invoke(w.alice, "github link")
    code = the_code(gh)
    if ending == "deny":
        gh.device.deny(code.user_code)
    else:  # GitHub's code expires sooner than the bot expected (its clock and GitHub's differ)
        code.expires_at = w.clock()
    await poll_once_more(w, code)
    assert await eventually(lambda: expected in (res.content or ""))
    assert res.components == [] and await linked(w) == []
    w.clock.advance(timedelta(minutes=1))
    assert not await eventually(lambda: len(code.polls) > 1, timeout=0.3)  # polling stopped
    pinged_nobody(w)


@pytest.mark.parametrize(
    ("expires_in", "wait", "ending"),
    [
        # The bot stops first, before Discord forgets the reply (15 minutes) ...
        (900, timedelta(minutes=14), "Nobody entered the code in time"),
        # ... or GitHub's code expires first, and its last poll hears so.
        (120, timedelta(minutes=2), "The code expired before it was approved"),
    ],
)
async def test_a_code_nobody_enters_in_time_links_nothing(
    w: World, gh: FakeGitHub, expires_in: int, wait: timedelta, ending: str
) -> None:
    gh.device.expires_in = expires_in
    await start(w, gh)
    res = await w.invoke(w.alice, "github link")
    code = the_code(gh)
    w.clock.advance(wait - timedelta(seconds=10))
    assert not await eventually(lambda: "nothing was linked" in (res.content or ""), timeout=0.3)
    w.clock.advance(timedelta(seconds=10))
    assert await eventually(lambda: ending in (res.content or ""))
    assert {answer for _, answer in code.polls[:-1]} == {"authorization_pending"} and await linked(w) == []
    # A new code can be asked for at once.
    again = await w.invoke(w.alice, "github link")
    assert len(gh.device.codes) == 2 and gh.device.codes[1].user_code in again.content


async def test_a_second_link_while_waiting_gives_the_same_code(w: World, gh: FakeGitHub) -> None:
    await start(w, gh)
    first = await w.invoke(w.alice, "github link")
    second = await w.invoke(w.alice, "github link")
    code = the_code(gh)  # no second code asked of GitHub
    assert second.ephemeral and second.content.startswith("You already have a code waiting.")
    assert code.user_code in second.content and second.components
    assert code.user_code in first.content


async def test_an_account_another_member_holds_is_refused(w: World, gh: FakeGitHub) -> None:
    await start(w, gh)
    octo = gh.add_user("octo", 4242)
    bot_account = gh.add_user("helper-bot", 77, type="Bot")
    for member, account, refusal in (
        (w.bob, octo, None),
        (w.alice, octo, "already linked"),
        (w.admin, bot_account, "bot account"),
    ):
        res = await w.invoke(member, "github link")
        code = gh.device.codes[-1]
        gh.device.approve(code.user_code, account)
        await poll_once_more(w, code)
        if refusal is None:
            assert await eventually(lambda res=res: "Linked to" in (res.content or ""))
        else:
            assert await eventually(lambda res=res, refusal=refusal: refusal in (res.content or ""))
    assert await linked(w) == [(w.bob.id, 4242, "octo")]
    pinged_nobody(w)  # "already linked to <@bob>" names bob without pinging him


async def test_the_token_is_neither_stored_nor_logged(
    w: World, gh: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await start(w, gh)
    octo = gh.add_user("octo", 4242)
    res = await w.invoke(w.alice, "github link")
    code = the_code(gh)
    gh.device.approve(code.user_code, octo)
    await poll_once_more(w, code)
    assert await eventually(lambda: "Linked to" in (res.content or ""))
    assert code.token is not None
    for record in caplog.records:
        assert code.token not in record.getMessage() and code.device_code not in record.getMessage()
        assert code.token not in repr(record.args) and code.token not in str(record.exc_info)
    async with reading(w.sessionmaker) as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(table.select())).all():
                assert code.token not in repr(row), table.name
    assert code.token not in repr(w.bot.device_flow)


async def test_without_a_client_id_link_needs_a_username(w: World, gh: FakeGitHub) -> None:
    await w.start_bot(github_api_url=gh.url, github_web_url=gh.url)
    res = await w.invoke(w.alice, "github link")
    assert res.ephemeral and "`/github link username:<your login>`" in res.content and "/github verify" in res.content
    assert gh.device.codes == [] and await linked(w) == []
    res = await w.invoke(w.alice, "github link", username="octo")
    assert res.ephemeral and "```\nshiplog-" in res.content  # today's code for the bio
    pinged_nobody(w)


async def test_a_stop_ends_the_wait_and_says_so(w: World, gh: FakeGitHub) -> None:
    await start(w, gh)
    res = await w.invoke(w.alice, "github link")
    bot = w.bot
    assert bot is not None
    # The extension's own module object (discord.py loads it afresh): read the cog's state by name.
    flows = vars(bot.get_cog("GitHub"))["device_links"].flows
    assert len(flows.codes) == 1
    await w.stop_bot()
    assert "Shiplog restarted before you approved" in (res.content or "")
    assert flows.codes == {}


# --- the poll loop alone, in virtual time ----------------------------------------------------------


async def test_the_poll_loop_waits_as_github_says() -> None:
    clock = Clock(NOW)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    async with FakeGitHub(now=clock) as gh, httpx.AsyncClient() as client:
        octo = gh.add_user("octo", 4242)
        flow = DeviceFlow(client, client_id=CLIENT_ID, web_url=gh.url, api_url=gh.url, now=clock, sleep=sleep)
        code = await flow.start()
        gh.device.slow_downs = 2
        gh.device.approve(code.user_code, octo, after=timedelta(seconds=40))
        user = await flow.identify(code)
        assert (user.id, user.login) == (4242, "octo")
        # 5 s, then 5 more at each slow_down (at 5 s and 15 s); pending at 30 s; approved by 45 s.
        assert slept == [5, 10, 15, 15]
        assert "device_code" not in repr(code) and code.device_code not in repr(code)
        assert code.verification_uri == f"{gh.url}/login/device"
        # An address off GITHUB_WEB_URL is never shown: GitHub's own page for codes is.
        gh.device.verification_uri = "https://github.example.net/login/device"
        assert (await flow.start()).verification_uri == f"{gh.url}/login/device"
        gh.device.verification_uri = None

        # A blip at the token endpoint costs a poll, not the flow.
        code = await flow.start()
        gh.device.approve(code.user_code, octo)
        gh.device.failures = 1
        assert (await flow.identify(code)).id == 4242
        assert [answer for _, answer in gh.device.codes[-1].polls] == ["HTTP 502", "token"]

        gh.device.disabled = True
        with pytest.raises(DeviceFlowEnded, match="turned off"):
            await flow.start()


async def test_the_clock_sleep_ends_when_the_clock_is_moved() -> None:
    clock = Clock(NOW)
    nap = asyncio.create_task(clock.sleep(3600))
    await asyncio.sleep(0.05)
    assert not nap.done()
    clock.advance(timedelta(minutes=59))
    await asyncio.sleep(0.05)
    assert not nap.done()
    clock.advance(timedelta(minutes=1))
    await asyncio.wait_for(nap, timeout=5.0)  # real seconds, for a busy machine; the nap was an hour
