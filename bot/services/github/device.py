"""Linking in one step with GitHub's OAuth device flow: the member types a short code on GitHub.

The flow, as GitHub runs RFC 8628 (docs/github.md#linking-in-one-step): ask
`{GITHUB_WEB_URL}/login/device/code` for a device code and a user code; the member types the user
code at the verification address and approves; poll `{GITHUB_WEB_URL}/login/oauth/access_token` at
the interval GitHub gives, 5 s slower after each `slow_down`, until GitHub gives a token or says no;
read `GET {GITHUB_API_URL}/user` once with the token. Only a client id is needed: no secret, no
callback address. The token lives in one local variable of `identify`: never stored, never logged,
never in an exception or a repr.

Time comes from the injected `now` and `sleep`, so tests run the whole wait in their own time.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.errors import UserError
from bot.services.github.api import API_VERSION, GitHubUser, parse_user
from bot.services.github.errors import GitHubError, GitHubUnavailable

log = logging.getLogger(__name__)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
SCOPE = "read:user"  # the least GitHub offers; `GET /user` needs no scope at all
SLOW_DOWN_STEP = 5  # seconds added to the interval at each slow_down (RFC 8628 §3.5)
DEFAULT_INTERVAL = 5  # GitHub's minimum, when an answer names none
# A reply to an interaction can be edited for 15 minutes: the flow ends before, whatever GitHub's
# expires_in (also 15 minutes), so its last word reaches the member.
MAX_WAIT = timedelta(minutes=14)
MAX_FAILED_POLLS = 3  # polls in a row GitHub did not answer before the flow gives up
# Nothing that could end a Markdown link or break out of the reply (as urls.safe_url allows), at most 300.
_PLAIN_URL = re.compile(r"(?:[A-Za-z0-9\-._~!$&+,;=:@/?#]|%[0-9A-Fa-f]{2}){1,300}")

# The codes that end the flow, in GitHub's words, and what the member reads.
ENDINGS = {
    "access_denied": "You cancelled the request on GitHub, so nothing was linked. "
    "Run `/github link` again whenever you like.",
    "expired_token": "The code expired before it was approved, so nothing was linked. "
    "Run `/github link` again for a new one.",
    "incorrect_device_code": "GitHub no longer knows this code, so nothing was linked. "
    "Run `/github link` again for a new one.",
    "device_flow_disabled": "Linking in one step is turned off in this server's GitHub app. "
    "Please tell whoever runs Shiplog (docs/github.md explains the setting). "
    "Meanwhile, `/github link username:<your login>` links you with a code in your bio.",
    "incorrect_client_credentials": "This server's GitHub app isn't set up right (GitHub doesn't know its "
    "client id). Please tell whoever runs Shiplog. Meanwhile, `/github link username:<your login>` works.",
    "unsupported_grant_type": "GitHub refused the way Shiplog asked. Please tell whoever runs Shiplog. "
    "Meanwhile, `/github link username:<your login>` works.",
}
TIMED_OUT = "Nobody entered the code in time, so nothing was linked. Run `/github link` again for a new one."


class DeviceFlowEnded(UserError):
    """The device flow ended without a token; the message says why, for the member."""


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """What the member needs (the address and the user code) and what Shiplog polls with."""

    user_code: str
    verification_uri: str
    expires_at: datetime
    interval: int
    # With the client id, it is what a token is asked for: kept out of reprs and logs.
    device_code: str = field(repr=False)


@dataclass
class DeviceFlow:
    """GitHub's device flow for one OAuth app, over the bot's HTTP client."""

    client: httpx.AsyncClient
    client_id: str
    web_url: str
    api_url: str
    now: Callable[[], datetime]
    sleep: Callable[[float], Awaitable[Any]]

    async def start(self) -> DeviceCode:
        """Ask GitHub for a device code and the user code the member types."""
        data = await self._post(f"{self.web_url}/login/device/code", {"client_id": self.client_id, "scope": SCOPE})
        error = data.get("error")
        if isinstance(error, str):
            log.warning("GitHub refused a device code: %s", error)
            raise DeviceFlowEnded(ENDINGS.get(error, "GitHub refused to start linking; try again in a few minutes."))
        device_code, user_code = data.get("device_code"), data.get("user_code")
        # GitHub's own page for codes, when what it names is not one to show.
        address = self._address(data.get("verification_uri")) or f"{self.web_url}/login/device"
        expires_in, interval = _seconds(data.get("expires_in")), _seconds(data.get("interval"))
        if not (isinstance(device_code, str) and device_code and isinstance(user_code, str)):
            raise GitHubUnavailable()
        if not 0 < len(user_code) <= 20 or expires_in is None:
            log.warning("GitHub sent an unreadable device code (expires_in %.20r)", data.get("expires_in"))
            raise GitHubUnavailable()
        return DeviceCode(
            user_code=user_code,
            verification_uri=address,
            expires_at=self.now() + timedelta(seconds=expires_in),
            interval=max(interval or DEFAULT_INTERVAL, 1),
            device_code=device_code,
        )

    def _address(self, value: Any) -> str | None:
        """The verification address GitHub gave, when it is on GITHUB_WEB_URL and plain enough to show."""
        if isinstance(value, str) and value.startswith(f"{self.web_url}/") and _PLAIN_URL.fullmatch(value):
            return value
        return None

    async def identify(self, code: DeviceCode) -> GitHubUser:
        """Wait for the member's approval, then return who they are on GitHub (the token is then dropped)."""
        token = await self._wait_for_token(code)
        try:
            response = await self.client.get(
                f"{self.api_url}/user",
                headers={
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": API_VERSION,
                    "Authorization": f"Bearer {token}",
                },
            )
        except httpx.TransportError as exc:
            log.warning("GitHub's /user failed after a device-flow approval: %s", type(exc).__name__)
            raise GitHubUnavailable() from None
        finally:
            del token
        if response.status_code != 200:
            log.warning("GitHub answered HTTP %s for /user after a device-flow approval", response.status_code)
            raise GitHubUnavailable()
        try:
            return parse_user(response.json())
        except ValueError:
            raise GitHubUnavailable() from None

    async def _wait_for_token(self, code: DeviceCode) -> str:
        deadline = min(code.expires_at, self.now() + MAX_WAIT)
        interval, failures = code.interval, 0
        while True:
            if self.now() + timedelta(seconds=interval) >= deadline:
                raise DeviceFlowEnded(TIMED_OUT)
            await self.sleep(interval)
            try:
                data = await self._post(
                    f"{self.web_url}/login/oauth/access_token",
                    {"client_id": self.client_id, "device_code": code.device_code, "grant_type": GRANT_TYPE},
                )
            except GitHubUnavailable:
                # A blip (a 502, a timeout) costs one poll, not the member's approval; a lasting outage ends it.
                failures += 1
                if failures >= MAX_FAILED_POLLS:
                    raise
                continue
            failures = 0
            token, error = data.get("access_token"), data.get("error")
            if isinstance(token, str) and token:
                return token
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                # GitHub says the new interval; never less than 5 s more than before.
                interval = max(interval + SLOW_DOWN_STEP, _seconds(data.get("interval")) or 0)
                continue
            log.info("a device flow ended: %.60s", error)
            if isinstance(error, str) and error in ENDINGS:
                raise DeviceFlowEnded(ENDINGS[error])
            raise GitHubUnavailable()

    async def _post(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        """POST a form to GitHub's web endpoints, asking for JSON; an answer that is none is unavailable."""
        try:
            response = await self.client.post(url, data=form, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            log.warning("GitHub's %s failed: %s", url.rpartition("/")[2], type(exc).__name__)
            raise GitHubUnavailable() from None
        if response.status_code == 404:
            raise GitHubError("GitHub doesn't offer linking in one step here; please tell whoever runs Shiplog.")
        if response.status_code >= 500 or response.status_code == 429:
            raise GitHubUnavailable()
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            log.warning("GitHub answered HTTP %s without JSON at %s", response.status_code, url.rpartition("/")[2])
            raise GitHubUnavailable()
        return data


class Flows:
    """The device flows waiting for members, one per (server, member): each one a task tied to its reply.

    A task is started per command (never at load) and ends with its flow; `stop` cancels what is
    left when the bot stops, giving each `grace` seconds to tell its member.
    """

    def __init__(self) -> None:
        # The code each member was given; None while GitHub is being asked for it.
        self.codes: dict[tuple[int, int], DeviceCode | None] = {}
        self._tasks: dict[tuple[int, int], asyncio.Task[None]] = {}

    def reserve(self, key: tuple[int, int]) -> bool:
        """Hold the member's place while their code is asked for; False if they already have a flow."""
        if key in self.codes:
            return False
        self.codes[key] = None
        return True

    def release(self, key: tuple[int, int]) -> None:
        """Give the place back (no flow was started after all)."""
        self.codes.pop(key, None)

    def run(self, key: tuple[int, int], code: DeviceCode, wait: Coroutine[Any, Any, None]) -> None:
        """Run `wait` (which ends the member's flow) as a task of its own."""
        self.codes[key] = code
        task = asyncio.create_task(wait, name=f"shiplog-device-flow-{key[0]}-{key[1]}")
        self._tasks[key] = task
        task.add_done_callback(lambda _: (self.codes.pop(key, None), self._tasks.pop(key, None)))

    async def stop(self, grace: float) -> None:
        """Cancel every flow; their tasks have `grace` seconds to say so."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)


def _seconds(value: Any) -> int | None:
    """A positive whole number of seconds from GitHub's JSON, or None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 24 * 3600:
        return value
    return None
