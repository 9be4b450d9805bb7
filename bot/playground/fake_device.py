"""The fake GitHub's OAuth device flow, and `GET /user` for the tokens it gives.

It answers as GitHub does (docs/github.md#linking-in-one-step): `POST /login/device/code` gives a
device code, a user code like `WDJB-MJHT`, the verification address, `expires_in` and `interval`;
`POST /login/oauth/access_token` answers with HTTP 200 and an `error` (`authorization_pending`,
`slow_down` when polled sooner than the interval, which then grows by 5 s, `expired_token`,
`access_denied`, `incorrect_device_code`, `unsupported_grant_type`, `device_flow_disabled`) until the code
is approved, then once with an `access_token`. A test (or the playground) approves or denies a code
as a member would on GitHub's page: `approve(user_code, user)`, optionally `after` a delay.

Everything is recorded: `codes` (each with its `polls`), `user_requests` (the tokens `GET /user` saw).
"""

from __future__ import annotations

import itertools
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.playground.fake_github import FakeUser

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
_USER_CODE_LETTERS = "".join(c for c in string.ascii_uppercase if c not in "AEIOU")  # no words by chance


@dataclass
class FakeDeviceCode:
    """One device code, from its request to its token."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: datetime
    interval: int
    user: FakeUser | None = None  # who approved it
    approved_at: datetime | None = None  # approval counts from then (the playground approves a little later)
    denied: bool = False
    token: str | None = None  # given once
    polls: list[tuple[datetime, str]] = field(default_factory=list)  # (when, what was answered)


class FakeDeviceFlow:
    """GitHub's device-flow endpoints, on the fake's server; `now` is the fake's clock."""

    def __init__(self, now: Callable[[], datetime], *, expires_in: int = 900, interval: int = 5) -> None:
        self.now = now
        self.expires_in = expires_in
        self.interval = interval
        self.disabled = False  # the app's "Enable Device Flow" left unticked
        self.slow_downs = 0  # answer this many next polls with slow_down, however late they come
        self.failures = 0  # answer this many next polls with a 502 (GitHub's blips)
        self.verification_uri: str | None = None  # the address to name instead of its own page
        self.codes: list[FakeDeviceCode] = []
        self.tokens: dict[str, FakeUser | None] = {}  # access token -> who approved
        self.user_requests: list[str] = []  # the Authorization header of each GET /user
        self._serial = itertools.count(1)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/login/device/code", self._device_code)
        app.router.add_post("/login/oauth/access_token", self._access_token)
        app.router.add_get("/user", self._user)
        app.router.add_get("/login/device", self._page)

    # --- what a member does on GitHub's page --------------------------------------------------

    def find(self, user_code: str) -> FakeDeviceCode:
        """The code a member typed (case and the hyphen as GitHub's page accepts them)."""
        typed = user_code.upper().replace("-", "").strip()
        for code in self.codes:
            if code.user_code.replace("-", "") == typed:
                return code
        raise KeyError(user_code)

    def approve(self, user_code: str, user: FakeUser, *, after: timedelta = timedelta()) -> FakeDeviceCode:
        """`user` types the code and clicks Authorize (from `after` on)."""
        code = self.find(user_code)
        code.user, code.approved_at = user, self.now() + after
        return code

    def deny(self, user_code: str) -> FakeDeviceCode:
        """The member clicks Cancel."""
        code = self.find(user_code)
        code.denied = True
        return code

    # --- handlers -----------------------------------------------------------------------------

    async def _device_code(self, request: web.Request) -> web.Response:
        form = await request.post()
        client_id = str(form.get("client_id") or "")
        if not client_id:
            return web.json_response({"error": "incorrect_client_credentials"})
        if self.disabled:
            return web.json_response({"error": "device_flow_disabled"})
        letters = "".join(secrets.choice(_USER_CODE_LETTERS) for _ in range(8))
        code = FakeDeviceCode(
            device_code=f"device-{next(self._serial)}-{secrets.token_hex(16)}",
            user_code=f"{letters[:4]}-{letters[4:]}",
            client_id=client_id,
            scope=str(form.get("scope") or ""),
            expires_at=self.now() + timedelta(seconds=self.expires_in),
            interval=self.interval,
        )
        self.codes.append(code)
        base = f"{request.scheme}://{request.host}"
        return web.json_response(
            {
                "device_code": code.device_code,
                "user_code": code.user_code,
                "verification_uri": self.verification_uri or f"{base}/login/device",
                "expires_in": self.expires_in,
                "interval": self.interval,
            }
        )

    async def _access_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != GRANT_TYPE:
            return web.json_response({"error": "unsupported_grant_type"})
        code = next((c for c in self.codes if c.device_code == form.get("device_code")), None)
        if code is None or code.client_id != form.get("client_id") or code.token is not None:
            return web.json_response({"error": "incorrect_device_code"})
        now = self.now()
        if self.failures:
            self.failures -= 1
            code.polls.append((now, "HTTP 502"))
            return web.Response(status=502, text="Bad Gateway")
        answer = self._answer(code, now)
        code.polls.append((now, answer))
        if answer == "token":
            code.token = f"gho_{secrets.token_hex(18)}"
            self.tokens[code.token] = code.user
            return web.json_response({"access_token": code.token, "token_type": "bearer", "scope": code.scope})
        body: dict[str, object] = {"error": answer, "error_description": answer.replace("_", " ")}
        if answer == "slow_down":
            body["interval"] = code.interval
        return web.json_response(body)

    def _answer(self, code: FakeDeviceCode, now: datetime) -> str:
        if now >= code.expires_at:
            return "expired_token"
        if code.denied:
            return "access_denied"
        last = code.polls[-1][0] if code.polls else None
        if self.slow_downs or (last is not None and (now - last).total_seconds() < code.interval):
            self.slow_downs = max(self.slow_downs - 1, 0)
            code.interval += 5
            return "slow_down"
        if code.approved_at is not None and now >= code.approved_at:
            return "token"
        return "authorization_pending"

    async def _page(self, request: web.Request) -> web.Response:
        """Where the reply's button leads: GitHub's page to type the code, pretended."""
        return web.Response(
            text="This is the pretend GitHub. In the playground, your code is approved for you a few seconds "
            "after /github link shows it: go back to the playground.\n",
            content_type="text/plain",
        )

    async def _user(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        self.user_requests.append(auth)
        user = self.tokens.get(auth.removeprefix("Bearer ").removeprefix("token ").strip())
        if user is None:
            return web.json_response({"message": "Requires authentication"}, status=401)
        return web.json_response(user.json() | {"bio": user.bio})
