"""REST plumbing: the route table, authentication, recording requests and dispatching to the handlers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.fake_discord.constants import API_PREFIX
from bot.playground.fake_discord.models import FakeFile, RecordedRequest
from bot.playground.fake_discord.rest.responses import error_response, json_response

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake

_log = logging.getLogger("bot.playground.fake_discord")


class RestRouting:
    """Serve ``/api/v10``: record each request, apply faults, route it to its handler."""

    # ------------------------------------------------------------------ internals: REST plumbing

    async def _attachment_handler(self: Fake, request: web.Request) -> web.StreamResponse:
        data = self._attachment_data.get(int(request.match_info["attachment_id"]))
        if data is None:
            return web.Response(status=404, text="not found")
        ctype = mimetypes.guess_type(request.match_info["filename"])[0] or "application/octet-stream"
        return web.Response(body=data, content_type=ctype)

    async def _rest_handler(self: Fake, request: web.Request) -> web.StreamResponse:
        full_path = request.path
        path = full_path[len(API_PREFIX) :] if full_path.startswith(API_PREFIX) else full_path
        body: Any = None
        files: list[FakeFile] = []
        try:
            if request.content_type == "multipart/form-data":
                form = await request.post()
                indexed: list[tuple[int, FakeFile]] = []
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        m = re.fullmatch(r"files\[(\d+)\]", key)
                        idx = int(m.group(1)) if m else len(indexed)
                        indexed.append((idx, FakeFile(value.filename, value.file.read(), value.content_type)))
                    elif key == "payload_json":
                        body = json.loads(value)
                files = [f for _, f in sorted(indexed, key=lambda p: p[0])]
            else:
                raw = await request.read()
                if raw:
                    body = json.loads(raw)
        except ValueError:
            return error_response(400, 50109, "The request body contains invalid JSON.")
        rec = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body,
            files=files,
        )
        self.requests.append(rec)
        loop = asyncio.get_running_loop()
        self._inflight += 1
        self._last_activity = loop.time()
        try:
            if self.rest_delay:
                await asyncio.sleep(self.rest_delay)
            response = await self._route(request, rec)
        except Exception:
            _log.exception("fake discord handler crashed on %s %s", rec.method, rec.path)
            response = error_response(500, 0, "500: fake discord handler crashed")
        finally:
            self._inflight -= 1
            self._last_activity = loop.time()
        rec.status = response.status
        if isinstance(response, web.Response) and response.body and response.content_type == "application/json":
            with contextlib.suppress(ValueError, TypeError):
                rec.response = json.loads(response.body)  # type: ignore[arg-type]
        self._notify()
        return response

    async def _route(self: Fake, request: web.Request, rec: RecordedRequest) -> web.StreamResponse:
        for rule in self._faults:
            if rule.matches(rec.method, rec.path):
                rule.remaining -= 1
                rule.hits.append(rec)
                return json_response(rule.body, rule.status, rule.headers)
        if not rec.path.startswith("/") or not request.path.startswith(API_PREFIX):
            self.unhandled.append(rec)
            return error_response(404, 0, "404: Not Found")
        if self.outage:
            return error_response(503, 0, "503: Service Unavailable")
        limited = self._channel_rate(rec)
        if isinstance(limited, web.Response):
            return limited
        path_matched = False
        for method, pattern, handler, needs_auth in self._routes:
            m = pattern.fullmatch(rec.path)
            if m is None:
                continue
            path_matched = True
            if method != rec.method:
                continue
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                return error_response(401, 0, "401: Unauthorized")
            response = await handler(rec, **m.groupdict())
            if limited is not None and isinstance(response, web.Response):
                response.headers.update(limited)
            return response
        self.unhandled.append(rec)
        if path_matched:
            return error_response(405, 0, "405: Method Not Allowed")
        return error_response(404, 0, "404: Not Found")

    def _build_routes(self: Fake) -> list[tuple[str, re.Pattern[str], Callable[..., Any], bool]]:
        table: list[tuple[str, str, Callable[..., Any], bool]] = [
            ("GET", "/gateway", self._h_gateway, False),
            ("GET", "/gateway/bot", self._h_gateway_bot, True),
            ("GET", "/users/@me", self._h_me, True),
            ("GET", "/users/(?P<user_id>\\d+)", self._h_get_user, True),
            ("POST", "/users/@me/channels", self._h_create_dm, True),
            ("GET", "/oauth2/applications/@me", self._h_app_info, True),
            ("GET", "/applications/@me", self._h_app_info, True),
            ("PATCH", "/applications/@me", self._h_app_info, True),
            # application commands
            ("GET", "/applications/(?P<app_id>\\d+)/commands", self._h_list_commands, True),
            ("PUT", "/applications/(?P<app_id>\\d+)/commands", self._h_bulk_commands, True),
            ("POST", "/applications/(?P<app_id>\\d+)/commands", self._h_upsert_command, True),
            ("GET", "/applications/(?P<app_id>\\d+)/commands/(?P<cmd_id>\\d+)", self._h_get_command, True),
            ("PATCH", "/applications/(?P<app_id>\\d+)/commands/(?P<cmd_id>\\d+)", self._h_edit_command, True),
            ("DELETE", "/applications/(?P<app_id>\\d+)/commands/(?P<cmd_id>\\d+)", self._h_delete_command, True),
            ("GET", "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands", self._h_list_commands, True),
            ("PUT", "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands", self._h_bulk_commands, True),
            ("POST", "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands", self._h_upsert_command, True),
            (
                "GET",
                "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands/(?P<cmd_id>\\d+)",
                self._h_get_command,
                True,
            ),
            (
                "PATCH",
                "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands/(?P<cmd_id>\\d+)",
                self._h_edit_command,
                True,
            ),
            (
                "DELETE",
                "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands/(?P<cmd_id>\\d+)",
                self._h_delete_command,
                True,
            ),
            (
                "GET",
                "/applications/(?P<app_id>\\d+)/guilds/(?P<guild_id>\\d+)/commands/permissions",
                self._h_command_permissions,
                True,
            ),
            # interactions / webhooks
            ("POST", "/interactions/(?P<iid>\\d+)/(?P<token>[^/]+)/callback", self._h_callback, False),
            ("POST", "/webhooks/(?P<app_id>\\d+)/(?P<token>[^/]+)", self._h_followup, False),
            (
                "GET",
                "/webhooks/(?P<app_id>\\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\\d+)",
                self._h_webhook_get,
                False,
            ),
            (
                "PATCH",
                "/webhooks/(?P<app_id>\\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\\d+)",
                self._h_webhook_edit,
                False,
            ),
            (
                "DELETE",
                "/webhooks/(?P<app_id>\\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\\d+)",
                self._h_webhook_delete,
                False,
            ),
            # channels / messages
            ("GET", "/channels/(?P<cid>\\d+)", self._h_get_channel, True),
            ("GET", "/channels/(?P<cid>\\d+)/messages", self._h_history, True),
            ("POST", "/channels/(?P<cid>\\d+)/messages", self._h_post_message, True),
            ("GET", "/channels/(?P<cid>\\d+)/messages/(?P<mid>\\d+)", self._h_get_message, True),
            ("PATCH", "/channels/(?P<cid>\\d+)/messages/(?P<mid>\\d+)", self._h_edit_message, True),
            ("DELETE", "/channels/(?P<cid>\\d+)/messages/(?P<mid>\\d+)", self._h_delete_message, True),
            ("POST", "/channels/(?P<cid>\\d+)/typing", self._h_typing, True),
            (
                "PUT",
                "/channels/(?P<cid>\\d+)/messages/(?P<mid>\\d+)/reactions/(?P<emoji>[^/]+)/@me",
                self._h_add_reaction,
                True,
            ),
            (
                "DELETE",
                "/channels/(?P<cid>\\d+)/messages/(?P<mid>\\d+)/reactions/(?P<emoji>[^/]+)/@me",
                self._h_remove_reaction,
                True,
            ),
            # guilds
            ("GET", "/guilds/(?P<gid>\\d+)", self._h_get_guild, True),
            ("GET", "/guilds/(?P<gid>\\d+)/channels", self._h_guild_channels, True),
            ("GET", "/guilds/(?P<gid>\\d+)/roles", self._h_guild_roles, True),
            ("GET", "/guilds/(?P<gid>\\d+)/members", self._h_guild_members, True),
            ("GET", "/guilds/(?P<gid>\\d+)/members/(?P<uid>\\d+)", self._h_get_member, True),
            ("PATCH", "/guilds/(?P<gid>\\d+)/members/(?P<uid>\\d+)", self._h_edit_member, True),
            ("PUT", "/guilds/(?P<gid>\\d+)/members/(?P<uid>\\d+)/roles/(?P<rid>\\d+)", self._h_add_role, True),
            ("DELETE", "/guilds/(?P<gid>\\d+)/members/(?P<uid>\\d+)/roles/(?P<rid>\\d+)", self._h_remove_role, True),
        ]
        return [(m, re.compile(p), h, auth) for m, p, h, auth in table]
