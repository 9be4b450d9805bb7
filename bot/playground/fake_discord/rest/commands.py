"""REST routes of application commands (global and guild): list, create, bulk overwrite, edit, delete."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.fake_discord.models import RecordedRequest, snowflake
from bot.playground.fake_discord.rest.responses import error_response, field_error, form_error, json_response

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


class CommandRoutes:
    """``/applications/{id}/commands`` and ``/applications/{id}/guilds/{id}/commands``."""

    # ------------------------------------------------------------------ REST handlers: commands

    def _check_app(self: Fake, app_id: str) -> web.Response | None:
        if int(app_id) != self.application_id:
            return error_response(403, 50001, "Missing Access")
        return None

    def _store_command(
        self: Fake, scope: int | None, cmd: Mapping[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        ctype = cmd.get("type", 1)
        obj: dict[str, Any] = {
            "id": existing["id"] if existing else str(snowflake()),
            "application_id": str(self.application_id),
            "version": str(snowflake()),
            "type": ctype,
            "name": cmd["name"],
            "name_localizations": cmd.get("name_localizations"),
            "description": cmd.get("description", ""),
            "description_localizations": cmd.get("description_localizations"),
            "options": copy.deepcopy(cmd.get("options") or []),
            "default_member_permissions": cmd.get("default_member_permissions"),
            "dm_permission": cmd.get("dm_permission", True),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types", [0]),
            "nsfw": cmd.get("nsfw", False),
        }
        if scope is not None:
            obj["guild_id"] = str(scope)
        return obj

    async def _h_list_commands(
        self: Fake, rec: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> web.Response:
        if err := self._check_app(app_id):
            return err
        scope = int(guild_id) if guild_id else None
        return json_response(list(self._commands.get(scope, {}).values()))

    async def _h_bulk_commands(
        self: Fake, rec: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> web.Response:
        if err := self._check_app(app_id):
            return err
        scope = int(guild_id) if guild_id else None
        if scope is not None and scope not in self.guilds:
            return error_response(403, 50001, "Missing Access")
        payload = rec.json or []
        if len([c for c in payload if c.get("type", 1) == 1]) > 100:
            return form_error({"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Max 100 commands"}]})
        errors = {str(i): e for i, c in enumerate(payload) if (e := self._validate_command(c))}
        keys = [(c.get("type", 1), c.get("name")) for c in payload]
        for i, key in enumerate(keys):
            if keys.index(key) != i:
                errors.setdefault(str(i), {})["name"] = field_error(
                    "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Application command names must be unique: {key[1]}"
                )
        if errors:
            return form_error(errors)
        old = self._commands.get(scope, {})
        new: dict[tuple[int, str], dict[str, Any]] = {}
        for cmd in payload:
            key = (cmd.get("type", 1), cmd["name"])
            new[key] = self._store_command(scope, cmd, old.get(key))
        self._commands[scope] = new
        return json_response(list(new.values()))

    async def _h_upsert_command(
        self: Fake, rec: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> web.Response:
        if err := self._check_app(app_id):
            return err
        scope = int(guild_id) if guild_id else None
        cmd = rec.json or {}
        if errors := self._validate_command(cmd):
            return form_error(errors)
        store = self._commands.setdefault(scope, {})
        key = (cmd.get("type", 1), cmd["name"])
        created = key not in store
        store[key] = self._store_command(scope, cmd, store.get(key))
        return json_response(store[key], 201 if created else 200)

    def _command_by_id(self: Fake, scope: int | None, cmd_id: str) -> tuple[tuple[int, str], dict[str, Any]] | None:
        for key, cmd in self._commands.get(scope, {}).items():
            if cmd["id"] == cmd_id:
                return key, cmd
        return None

    async def _h_get_command(
        self: Fake, rec: RecordedRequest, app_id: str, cmd_id: str, guild_id: str | None = None
    ) -> web.Response:
        found = self._command_by_id(int(guild_id) if guild_id else None, cmd_id)
        if found is None:
            return error_response(404, 10063, "Unknown application command")
        return json_response(found[1])

    async def _h_edit_command(
        self: Fake, rec: RecordedRequest, app_id: str, cmd_id: str, guild_id: str | None = None
    ) -> web.Response:
        scope = int(guild_id) if guild_id else None
        found = self._command_by_id(scope, cmd_id)
        if found is None:
            return error_response(404, 10063, "Unknown application command")
        key, cmd = found
        merged = {**cmd, **(rec.json or {})}
        if errors := self._validate_command(merged):
            return form_error(errors)
        store = self._commands[scope]
        del store[key]
        new_key = (merged.get("type", 1), merged["name"])
        store[new_key] = self._store_command(scope, merged, cmd)
        return json_response(store[new_key])

    async def _h_delete_command(
        self: Fake, rec: RecordedRequest, app_id: str, cmd_id: str, guild_id: str | None = None
    ) -> web.Response:
        scope = int(guild_id) if guild_id else None
        found = self._command_by_id(scope, cmd_id)
        if found is None:
            return error_response(404, 10063, "Unknown application command")
        del self._commands[scope][found[0]]
        return web.Response(status=204)

    async def _h_command_permissions(self: Fake, rec: RecordedRequest, app_id: str, guild_id: str) -> web.Response:
        return json_response([])
