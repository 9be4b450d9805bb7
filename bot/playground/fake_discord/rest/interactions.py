"""REST routes of interaction callbacks and of their webhooks (original response, follow-ups)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.fake_discord.constants import ALLOWED_CALLBACKS, FLAG_EPHEMERAL, FLAG_LOADING
from bot.playground.fake_discord.models import PendingInteraction, RecordedRequest
from bot.playground.fake_discord.rest.responses import error_response, field_error, form_error, json_response

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


class InteractionRoutes:
    """``/interactions/{id}/{token}/callback`` and ``/webhooks/{app}/{token}/...``."""

    # ------------------------------------------------------------------ REST handlers: interactions

    def _pending_for_token(self: Fake, app_id: str, token: str) -> PendingInteraction | None:
        if int(app_id) != self.application_id:
            return None
        return self._interactions_by_token.get(token)

    async def _h_callback(self: Fake, rec: RecordedRequest, iid: str, token: str) -> web.Response:
        pi = self._interactions.get(int(iid))
        if pi is None or pi.token != token:
            return error_response(404, 10062, "Unknown interaction")
        if pi.callback is not None:
            return error_response(400, 40060, "Interaction has already been acknowledged.")
        loop = asyncio.get_running_loop()
        if self.interaction_deadline is not None and loop.time() - pi.created > self.interaction_deadline:
            return error_response(404, 10062, "Unknown interaction")
        body = rec.json or {}
        ctype = body.get("type")
        if ctype not in ALLOWED_CALLBACKS[pi.type] or (ctype in (6, 7) and pi.component_message_id is None):
            return form_error(
                {"type": field_error("INTERACTION_RESPONSE_TYPE_INVALID", f"Invalid interaction response type {ctype}")}
            )
        data = body.get("data") or {}
        channel = self._channel(pi.channel_id)
        resource_message: dict[str, Any] | None = None
        if ctype == 4:
            if err := self._validate_message(data, rec.files):
                return err
            msg = self._create_message(channel, self.bot_user, data, rec.files, pi=pi)
            pi.original_id = int(msg["id"])
            resource_message = msg
        elif ctype == 5:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            msg = self._create_message(channel, self.bot_user, {"content": ""}, [], pi=pi, flags=flags)
            pi.original_id = int(msg["id"])
            pi.loading = True
            resource_message = msg
        elif ctype == 6:
            pi.original_id = pi.component_message_id
        elif ctype == 7:
            target = self._messages.get(pi.component_message_id or 0)
            if target is None:
                return error_response(404, 10008, "Unknown Message")
            if err := self._validate_message(data, rec.files, edit=True):
                return err
            self._edit_message(target, data, rec.files)
            pi.original_id = int(target["id"])
            resource_message = target
        elif ctype == 8:
            if err := self._validate_choices(data.get("choices") or []):
                return err
        elif ctype == 9 and not (data.get("custom_id") and data.get("title") and data.get("components")):
            return form_error({"data": field_error("BASE_TYPE_REQUIRED", "Modal needs custom_id/title/components")})
        pi.callback = body
        pi.callback_type = ctype
        if resource_message is not None and ctype in (4, 7) and not resource_message["flags"] & FLAG_EPHEMERAL:
            await self._echo_message_event("MESSAGE_CREATE" if ctype == 4 else "MESSAGE_UPDATE", resource_message)
        self._notify()
        if rec.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        result: dict[str, Any] = {"interaction": {"id": str(pi.id), "type": pi.type}}
        if resource_message is not None:
            result["interaction"].update(
                response_message_id=resource_message["id"],
                response_message_loading=bool(resource_message["flags"] & FLAG_LOADING),
                response_message_ephemeral=bool(resource_message["flags"] & FLAG_EPHEMERAL),
            )
            result["resource"] = {"type": ctype, "message": self._public(resource_message)}
        return json_response(result)

    def _webhook_message(self: Fake, pi: PendingInteraction, mid: str) -> dict[str, Any] | None:
        if mid == "@original":
            if pi.original_id is None:
                return None
            return self._messages.get(pi.original_id)
        message_id = int(mid)
        if message_id != pi.original_id and message_id not in pi.followup_ids:
            return None
        return self._messages.get(message_id)

    async def _h_followup(self: Fake, rec: RecordedRequest, app_id: str, token: str) -> web.Response:
        pi = self._pending_for_token(app_id, token)
        if pi is None or pi.callback is None:
            return error_response(404, 10015, "Unknown Webhook")
        body = rec.json or {}
        if err := self._validate_message(body, rec.files):
            return err
        channel = self._channel(pi.channel_id)
        original = self._messages.get(pi.original_id or 0)
        if pi.loading and original is not None:
            # the first follow-up after a deferred ("thinking...") response replaces it
            self._edit_message(original, {**body, "flags": body.get("flags") or 0}, rec.files)
            original["flags"] = int(original["flags"]) & ~FLAG_LOADING
            original["edited_timestamp"] = None
            pi.loading = False
            msg = original
            if not msg["flags"] & FLAG_EPHEMERAL:
                await self._echo_message_event("MESSAGE_UPDATE", msg)
        else:
            msg = self._create_message(channel, self.bot_user, body, rec.files, pi=pi)
            if not msg["flags"] & FLAG_EPHEMERAL:
                await self._echo_message_event("MESSAGE_CREATE", msg)
        pi.followup_ids.append(int(msg["id"]))
        pi.updates += 1
        self._notify()
        if rec.query.get("wait", "").lower() in ("1", "true"):
            return json_response(self._public(msg))
        return web.Response(status=204)

    async def _h_webhook_get(self: Fake, rec: RecordedRequest, app_id: str, token: str, mid: str) -> web.Response:
        pi = self._pending_for_token(app_id, token)
        if pi is None:
            return error_response(404, 10015, "Unknown Webhook")
        msg = self._webhook_message(pi, mid)
        if msg is None:
            return error_response(404, 10008, "Unknown Message")
        return json_response(self._public(msg))

    async def _h_webhook_edit(self: Fake, rec: RecordedRequest, app_id: str, token: str, mid: str) -> web.Response:
        pi = self._pending_for_token(app_id, token)
        if pi is None:
            return error_response(404, 10015, "Unknown Webhook")
        msg = self._webhook_message(pi, mid)
        if msg is None:
            return error_response(404, 10008, "Unknown Message")
        body = rec.json or {}
        if err := self._validate_message(body, rec.files, edit=True):
            return err
        was_loading = bool(msg["flags"] & FLAG_LOADING)
        self._edit_message(msg, body, rec.files)
        if was_loading:
            msg["flags"] = int(msg["flags"]) & ~FLAG_LOADING
            pi.loading = False
        pi.updates += 1
        if not msg["flags"] & FLAG_EPHEMERAL:
            await self._echo_message_event("MESSAGE_UPDATE", msg)
        self._notify()
        return json_response(self._public(msg))

    async def _h_webhook_delete(self: Fake, rec: RecordedRequest, app_id: str, token: str, mid: str) -> web.Response:
        pi = self._pending_for_token(app_id, token)
        if pi is None:
            return error_response(404, 10015, "Unknown Webhook")
        msg = self._webhook_message(pi, mid)
        if msg is None:
            return error_response(404, 10008, "Unknown Message")
        self._delete_message(int(msg["id"]))
        pi.loading = False
        pi.updates += 1
        await self._send_message_delete(msg)
        return web.Response(status=204)
