"""REST routes of the gateway, the application, users and DMs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.playground.fake_discord.constants import CHANNEL_DM
from bot.playground.fake_discord.models import FakeChannel, RecordedRequest, snowflake
from bot.playground.fake_discord.rest.responses import error_response, json_response

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


class MiscRoutes:
    """``/gateway/bot``, ``/users/@me``, ``/applications/@me``, ``/users/{id}``, DM channels."""

    # ------------------------------------------------------------------ REST handlers: misc

    async def _h_gateway(self: Fake, rec: RecordedRequest) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _h_gateway_bot(self: Fake, rec: RecordedRequest) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1},
            }
        )

    async def _h_me(self: Fake, rec: RecordedRequest) -> web.Response:
        data = self.bot_user.to_payload()
        data.update(verified=True, mfa_enabled=False, email=None, locale="en-US", bio="")
        return json_response(data)

    async def _h_get_user(self: Fake, rec: RecordedRequest, user_id: str) -> web.Response:
        user = self.users.get(int(user_id))
        if user is None:
            return error_response(404, 10013, "Unknown User")
        return json_response(user.to_payload())

    async def _h_app_info(self: Fake, rec: RecordedRequest) -> web.Response:
        return json_response(
            {
                "id": str(self.application_id),
                "name": self.bot_user.name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "bot": self.bot_user.to_payload(),
                "owner": self.app_owner.to_payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 1 << 23,
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "approximate_guild_count": len(self.guilds),
                "integration_types_config": {"0": {}},
            }
        )

    async def _h_create_dm(self: Fake, rec: RecordedRequest) -> web.Response:
        rid = int((rec.json or {}).get("recipient_id", 0))
        user = self.users.get(rid)
        if user is None or user is self.bot_user:
            return error_response(400, 50033, "Invalid Recipient(s)")
        ch = self.dm_channels.get(rid)
        if ch is None:
            ch = FakeChannel(id=snowflake(), name=None, type=CHANNEL_DM, recipients=[user])
            self.dm_channels[rid] = ch
            self._channel_messages[ch.id] = []
        return json_response(ch.to_payload())
