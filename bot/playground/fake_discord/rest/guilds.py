"""REST routes of guilds: channels, roles, members and their roles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.playground.fake_discord.constants import INTENT_GUILD_MEMBERS, MANAGE_ROLES
from bot.playground.fake_discord.models import FakeGuild, FakeMember, FakeRole, RecordedRequest
from bot.playground.fake_discord.rest.responses import error_response, field_error, form_error, json_response

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


class GuildRoutes:
    """``/guilds/{id}/...``: the guild as the bot reads and changes it."""

    # ------------------------------------------------------------------ REST handlers: guilds

    def _guild_or_404(self: Fake, gid: str) -> FakeGuild | web.Response:
        guild = self.guilds.get(int(gid))
        if guild is None:
            return error_response(404, 10004, "Unknown Guild")
        return guild

    async def _h_get_guild(self: Fake, rec: RecordedRequest, gid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        data = self.guild_payload(guild, full=False)
        if rec.query.get("with_counts", "").lower() in ("1", "true"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return json_response(data)

    async def _h_guild_channels(self: Fake, rec: RecordedRequest, gid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        return json_response([c.to_payload() for c in guild.channels.values()])

    async def _h_guild_roles(self: Fake, rec: RecordedRequest, gid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        return json_response([r.to_payload() for r in guild.roles.values()])

    async def _h_guild_members(self: Fake, rec: RecordedRequest, gid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        limit = min(int(rec.query.get("limit", 1)), 1000)
        after = int(rec.query.get("after", 0))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)[:limit]
        return json_response([m.to_payload() for m in members])

    async def _h_get_member(self: Fake, rec: RecordedRequest, gid: str, uid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        member = guild.members.get(int(uid))
        if member is None:
            return error_response(404, 10007, "Unknown Member")
        return json_response(member.to_payload())

    def _can_manage_role(self: Fake, guild: FakeGuild, role: FakeRole) -> bool:
        perms = self.permissions_for(self.bot_user, guild=guild)
        if not perms & MANAGE_ROLES:
            return False
        bot_top = max(guild.roles[r].position for r in guild.members[self.bot_user.id].role_ids)
        return role.position < bot_top and not role.managed and role.id != guild.id

    async def _member_updated(self: Fake, guild: FakeGuild, member: FakeMember) -> None:
        data = self.member_payload(member)
        for session in list(self._sessions.values()):
            if session.intents & INTENT_GUILD_MEMBERS:
                await self._dispatch_to(session, "GUILD_MEMBER_UPDATE", dict(data))

    async def _h_edit_member(self: Fake, rec: RecordedRequest, gid: str, uid: str) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        member = guild.members.get(int(uid))
        if member is None:
            return error_response(404, 10007, "Unknown Member")
        body = rec.json or {}
        if "roles" in body:
            new_ids = [int(r) for r in body["roles"] or []]
            for rid in set(new_ids) ^ set(member.role_ids):
                role = guild.roles.get(rid)
                if role is None:
                    return form_error({"roles": field_error("UNKNOWN_ROLE", f"Unknown role {rid}")})
                if not self._can_manage_role(guild, role):
                    return error_response(403, 50013, "Missing Permissions")
            member.role_ids = new_ids
        if "nick" in body:
            member.nick = body["nick"]
        await self._member_updated(guild, member)
        return json_response(member.to_payload())

    async def _h_add_role(self: Fake, rec: RecordedRequest, gid: str, uid: str, rid: str) -> web.Response:
        return await self._change_role(gid, uid, rid, add=True)

    async def _h_remove_role(self: Fake, rec: RecordedRequest, gid: str, uid: str, rid: str) -> web.Response:
        return await self._change_role(gid, uid, rid, add=False)

    async def _change_role(self: Fake, gid: str, uid: str, rid: str, *, add: bool) -> web.Response:
        guild = self._guild_or_404(gid)
        if isinstance(guild, web.Response):
            return guild
        member = guild.members.get(int(uid))
        if member is None:
            return error_response(404, 10007, "Unknown Member")
        role = guild.roles.get(int(rid))
        if role is None:
            return error_response(404, 10011, "Unknown Role")
        if not self._can_manage_role(guild, role):
            return error_response(403, 50013, "Missing Permissions")
        if add and role.id not in member.role_ids:
            member.role_ids.append(role.id)
        elif not add and role.id in member.role_ids:
            member.role_ids.remove(role.id)
        await self._member_updated(guild, member)
        return web.Response(status=204)
