"""What the fake's sections use of each other: the state and methods of :class:`FakeDiscord`.

Each section (builders, gateway, messages, REST routes, ...) is a mixin of ``FakeDiscord``; its methods
take ``self: Fake`` so mypy checks them against this protocol, and checks ``FakeDiscord`` against it too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import discord
from aiohttp import web

from bot.playground.fake_discord.constants import CHANNEL_TEXT
from bot.playground.fake_discord.models import (
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    FaultRule,
    GatewayConnection,
    GatewaySession,
    InteractionResult,
    PendingInteraction,
    RecordedRequest,
)


class Fake(Protocol):
    """A running fake Discord, as its sections see it."""

    _acks: set[asyncio.Task[None]]
    _attachment_data: dict[int, bytes]
    _changed: asyncio.Event
    _channel_messages: dict[int, list[int]]
    _channel_windows: dict[str, tuple[float, int]]
    _commands: dict[int | None, dict[tuple[int, str], dict[str, Any]]]
    _connect_generation: int
    _conns: set[GatewayConnection]
    _faults: list[FaultRule]
    _inflight: int
    _interactions: dict[int, PendingInteraction]
    _interactions_by_token: dict[str, PendingInteraction]
    _last_activity: float
    _last_clocked_id: int
    _messages: dict[int, dict[str, Any]]
    _routes: list[tuple[str, re.Pattern[str], Callable[..., Any], bool]]
    _sessions: dict[str, GatewaySession]
    _watched: list[discord.Client]
    app_owner: FakeUser
    application_id: int
    bot_permissions: int
    bot_user: FakeUser
    channel_rate_limit: tuple[int, float] | None
    clock: Callable[[], datetime] | None
    command_overrides: set[tuple[int, str]]
    deleted_messages: list[dict[str, Any]]
    departed_guilds: dict[int, FakeGuild]
    dm_channels: dict[int, FakeChannel]
    gateway_connections: list[GatewayConnection]
    gateway_errors: list[str]
    gateway_hold: asyncio.Event | None
    guilds: dict[int, FakeGuild]
    heartbeat_ack_delay: float
    heartbeat_interval: float
    identify_count: int
    interaction_deadline: float | None
    outage: bool
    presence: dict[str, Any] | None
    privileged_intents: set[str]
    rate_limited: int
    recommended_shards: int
    requests: list[RecordedRequest]
    rest_delay: float
    resume_count: int
    token: str
    unhandled: list[RecordedRequest]
    users: dict[int, FakeUser]

    @property
    def base_url(self) -> str: ...

    @property
    def gateway_url(self) -> str: ...

    @property
    def resume_gateway_url(self) -> str: ...

    def add_user(
        self, name: str, *, bot: bool = False, global_name: str | None = None, dms_open: bool = True
    ) -> FakeUser: ...

    def add_role(
        self,
        guild: FakeGuild | int,
        name: str,
        *,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
        above_bot: bool = False,
        permissions: int | discord.Permissions = 0,
        **perms: bool,
    ) -> FakeRole: ...

    def add_member(
        self,
        guild: FakeGuild | int,
        name: str | None = None,
        *,
        user: FakeUser | None = None,
        roles: Iterable[FakeRole | int] = (),
        nick: str | None = None,
        owner: bool = False,
        bot: bool = False,
        dms_open: bool = True,
        global_name: str | None = None,
        **perms: bool,
    ) -> FakeMember: ...

    def add_text_channel(
        self,
        guild: FakeGuild | int,
        name: str,
        *,
        topic: str | None = None,
        category: FakeChannel | int | None = None,
        overwrites: Mapping[Any, discord.PermissionOverwrite] | None = None,
        bot_can_send: bool = True,
        news: bool = False,
        nsfw: bool = False,
    ) -> FakeChannel: ...

    def add_channel(
        self,
        guild: FakeGuild | int,
        name: str,
        *,
        type: int = CHANNEL_TEXT,
        topic: str | None = None,
        category: FakeChannel | int | None = None,
        overwrites: Mapping[Any, discord.PermissionOverwrite] | None = None,
        bot_can_send: bool = True,
        nsfw: bool = False,
    ) -> FakeChannel: ...

    def set_overwrite(
        self, channel: FakeChannel | int, target: Any, overwrite: discord.PermissionOverwrite | None
    ) -> None: ...

    def permissions_for(
        self,
        member: FakeMember | FakeUser | int,
        channel: FakeChannel | int | None = None,
        *,
        guild: FakeGuild | int | None = None,
    ) -> int: ...

    def get_message(self, message_id: int | str) -> dict[str, Any] | None: ...

    def messages_in(self, channel: FakeChannel | int, *, include_interactions: bool = True) -> list[dict[str, Any]]: ...

    def dm_channel(self, user: FakeUser | FakeMember | int) -> FakeChannel | None: ...

    def files_of(self, message: Mapping[str, Any]) -> list[FakeFile]: ...

    def member_payload(self, member: FakeMember, *, with_guild_id: bool = True) -> dict[str, Any]: ...

    def guild_payload(
        self, guild: FakeGuild | int, *, full: bool = True, intents: int | None = None
    ) -> dict[str, Any]: ...

    @staticmethod
    def _default_error_body(status: int, *, retry_after: float = 0.05, is_global: bool = False) -> Any: ...

    @property
    def connected(self) -> bool: ...

    async def dispatch(
        self, event: str, data: Mapping[str, Any], *, sync: bool = True, intent: int | None = None
    ) -> None: ...

    async def sync(self, timeout: float = 5.0) -> None: ...

    async def member_join(self, guild: FakeGuild | int, name: str | None = None, **kwargs: Any) -> FakeMember: ...

    def _now(self) -> datetime: ...

    def _guild(self, guild: FakeGuild | int | None) -> FakeGuild: ...

    def _member(self, guild: FakeGuild, member: FakeMember | FakeUser | int) -> FakeMember: ...

    def _user(self, user: FakeUser | FakeMember | int) -> FakeUser: ...

    def _channel(self, channel: FakeChannel | int | None) -> FakeChannel: ...

    def _find_channel(self, channel_id: int) -> FakeChannel | None: ...

    def _bot_role(self, guild: FakeGuild) -> FakeRole: ...

    def _invocation_channel(self, guild: FakeGuild, channel: FakeChannel | int | None) -> FakeChannel: ...

    def _stored_message(self, message: Any) -> dict[str, Any]: ...

    def _find_command(self, guild: FakeGuild, name: str, ctype: int) -> tuple[dict[str, Any], int | None]: ...

    @staticmethod
    def _command_leaf(cmd: dict[str, Any], parts: list[str]) -> dict[str, Any]: ...

    def _check_can_use(
        self, guild: FakeGuild, member: FakeMember, channel: FakeChannel, cmd: dict[str, Any], name: str
    ) -> None: ...

    def _build_options(
        self,
        guild: FakeGuild,
        channel: FakeChannel,
        cmd: dict[str, Any],
        parts: list[str],
        values: dict[str, Any],
        *,
        focused: str | None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]: ...

    def _option_value(
        self,
        guild: FakeGuild,
        channel: FakeChannel,
        label: str,
        odef: Mapping[str, Any],
        value: Any,
        resolved: dict[str, Any],
    ) -> Any: ...

    def _checked_option_value(
        self,
        guild: FakeGuild,
        channel: FakeChannel,
        label: str,
        odef: Mapping[str, Any],
        value: Any,
        resolved: dict[str, Any],
    ) -> Any: ...

    def _member_in(self, guild: FakeGuild) -> FakeMember: ...

    def _resolve_user(self, guild: FakeGuild, channel: FakeChannel, value: Any, resolved: dict[str, Any]) -> str: ...

    def _select_values(
        self, guild: FakeGuild, channel: FakeChannel, comp: Mapping[str, Any], values: Sequence[Any]
    ) -> dict[str, Any]: ...

    def _fill_modal(
        self, components: list[dict[str, Any]], values: Mapping[str, Any], unknown: set[str]
    ) -> list[dict[str, Any]]: ...

    async def _send_interaction(
        self,
        itype: int,
        guild: FakeGuild,
        member: FakeMember,
        channel: FakeChannel,
        data: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
        component_message_id: int | None = None,
        locale: str = "en-US",
    ) -> PendingInteraction: ...

    async def _await_result(
        self, pi: PendingInteraction, *, timeout: float, settle: float, expect_response: bool
    ) -> InteractionResult: ...

    async def _settle(self, quiet: float, hard_deadline: float) -> None: ...

    async def _wait_until(self, predicate: Callable[[], bool], deadline: float) -> bool: ...

    def _notify(self) -> None: ...

    @staticmethod
    def _public(msg: Mapping[str, Any]) -> dict[str, Any]: ...

    def _export(self, msg: Mapping[str, Any]) -> dict[str, Any]: ...

    def _make_attachment(self, channel_id: int, file: FakeFile, description: str | None = None) -> dict[str, Any]: ...

    def _build_attachments(
        self, channel_id: int, body: Mapping[str, Any], files: list[FakeFile], existing: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]] | None: ...

    def _validate_message(
        self, body: Mapping[str, Any], files: list[FakeFile], *, edit: bool = False
    ) -> web.Response | None: ...

    @staticmethod
    def _validate_components(components: list[dict[str, Any]], flags: int) -> dict[str, Any]: ...

    def _compute_mentions(
        self, content: str, allowed: Mapping[str, Any] | None, guild: FakeGuild | None
    ) -> tuple[list[dict[str, Any]], list[str], bool]: ...

    def _create_message(
        self,
        channel: FakeChannel,
        author: FakeUser,
        body: Mapping[str, Any],
        files: list[FakeFile],
        *,
        pi: PendingInteraction | None = None,
        flags: int | None = None,
        store_in_channel: bool = True,
    ) -> dict[str, Any]: ...

    @staticmethod
    def _normalize_embed(embed: Mapping[str, Any]) -> dict[str, Any]: ...

    def _edit_message(self, msg: dict[str, Any], body: Mapping[str, Any], files: list[FakeFile]) -> None: ...

    def _delete_message(self, mid: int) -> dict[str, Any] | None: ...

    async def _echo_message_event(self, event: str, msg: Mapping[str, Any], *, sync: bool = False) -> None: ...

    @staticmethod
    def shard_of(guild_id: int, shard_count: int) -> int: ...

    def _for_session(self, session: GatewaySession, event: str, data: Mapping[str, Any]) -> bool: ...

    async def _dispatch_to(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None: ...

    async def _ack_heartbeat(self, conn: GatewayConnection) -> None: ...

    async def _on_gateway_payload(self, conn: GatewayConnection, payload: Mapping[str, Any]) -> None: ...

    async def _on_identify(self, conn: GatewayConnection, d: Mapping[str, Any]) -> None: ...

    async def _on_resume(self, conn: GatewayConnection, d: Mapping[str, Any]) -> None: ...

    async def _on_request_members(self, conn: GatewayConnection, d: Mapping[str, Any]) -> None: ...

    async def _route(self, request: web.Request, rec: RecordedRequest) -> web.StreamResponse: ...

    def _channel_rate(self, rec: RecordedRequest) -> web.Response | dict[str, str] | None: ...

    async def _h_gateway(self, rec: RecordedRequest) -> web.Response: ...

    async def _h_gateway_bot(self, rec: RecordedRequest) -> web.Response: ...

    async def _h_me(self, rec: RecordedRequest) -> web.Response: ...

    async def _h_get_user(self, rec: RecordedRequest, user_id: str) -> web.Response: ...

    async def _h_app_info(self, rec: RecordedRequest) -> web.Response: ...

    async def _h_create_dm(self, rec: RecordedRequest) -> web.Response: ...

    def _check_app(self, app_id: str) -> web.Response | None: ...

    def _validate_command(self, cmd: Mapping[str, Any]) -> dict[str, Any]: ...

    def _store_command(
        self, scope: int | None, cmd: Mapping[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]: ...

    async def _h_list_commands(
        self, rec: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> web.Response: ...

    async def _h_bulk_commands(
        self, rec: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> web.Response: ...

    async def _h_upsert_command(
        self, rec: RecordedRequest, app_id: str, guild_id: str | None = None
    ) -> web.Response: ...

    def _command_by_id(self, scope: int | None, cmd_id: str) -> tuple[tuple[int, str], dict[str, Any]] | None: ...

    async def _h_get_command(
        self, rec: RecordedRequest, app_id: str, cmd_id: str, guild_id: str | None = None
    ) -> web.Response: ...

    async def _h_edit_command(
        self, rec: RecordedRequest, app_id: str, cmd_id: str, guild_id: str | None = None
    ) -> web.Response: ...

    async def _h_delete_command(
        self, rec: RecordedRequest, app_id: str, cmd_id: str, guild_id: str | None = None
    ) -> web.Response: ...

    async def _h_command_permissions(self, rec: RecordedRequest, app_id: str, guild_id: str) -> web.Response: ...

    def _pending_for_token(self, app_id: str, token: str) -> PendingInteraction | None: ...

    async def _h_callback(self, rec: RecordedRequest, iid: str, token: str) -> web.Response: ...

    @staticmethod
    def _validate_choices(choices: list[dict[str, Any]]) -> web.Response | None: ...

    def _webhook_message(self, pi: PendingInteraction, mid: str) -> dict[str, Any] | None: ...

    async def _h_followup(self, rec: RecordedRequest, app_id: str, token: str) -> web.Response: ...

    async def _h_webhook_get(self, rec: RecordedRequest, app_id: str, token: str, mid: str) -> web.Response: ...

    async def _h_webhook_edit(self, rec: RecordedRequest, app_id: str, token: str, mid: str) -> web.Response: ...

    async def _h_webhook_delete(self, rec: RecordedRequest, app_id: str, token: str, mid: str) -> web.Response: ...

    def _channel_or_404(self, cid: str) -> FakeChannel | web.Response: ...

    def _message_or_404(self, ch: FakeChannel, mid: str) -> dict[str, Any] | web.Response: ...

    async def _h_get_channel(self, rec: RecordedRequest, cid: str) -> web.Response: ...

    async def _h_history(self, rec: RecordedRequest, cid: str) -> web.Response: ...

    async def _h_post_message(self, rec: RecordedRequest, cid: str) -> web.Response: ...

    async def _h_get_message(self, rec: RecordedRequest, cid: str, mid: str) -> web.Response: ...

    async def _h_edit_message(self, rec: RecordedRequest, cid: str, mid: str) -> web.Response: ...

    async def _h_delete_message(self, rec: RecordedRequest, cid: str, mid: str) -> web.Response: ...

    async def _send_message_delete(self, msg: Mapping[str, Any]) -> None: ...

    async def _h_typing(self, rec: RecordedRequest, cid: str) -> web.Response: ...

    async def _h_add_reaction(self, rec: RecordedRequest, cid: str, mid: str, emoji: str) -> web.Response: ...

    async def _h_remove_reaction(self, rec: RecordedRequest, cid: str, mid: str, emoji: str) -> web.Response: ...

    def _guild_or_404(self, gid: str) -> FakeGuild | web.Response: ...

    async def _h_get_guild(self, rec: RecordedRequest, gid: str) -> web.Response: ...

    async def _h_guild_channels(self, rec: RecordedRequest, gid: str) -> web.Response: ...

    async def _h_guild_roles(self, rec: RecordedRequest, gid: str) -> web.Response: ...

    async def _h_guild_members(self, rec: RecordedRequest, gid: str) -> web.Response: ...

    async def _h_get_member(self, rec: RecordedRequest, gid: str, uid: str) -> web.Response: ...

    def _can_manage_role(self, guild: FakeGuild, role: FakeRole) -> bool: ...

    async def _member_updated(self, guild: FakeGuild, member: FakeMember) -> None: ...

    async def _h_edit_member(self, rec: RecordedRequest, gid: str, uid: str) -> web.Response: ...

    async def _h_add_role(self, rec: RecordedRequest, gid: str, uid: str, rid: str) -> web.Response: ...

    async def _h_remove_role(self, rec: RecordedRequest, gid: str, uid: str, rid: str) -> web.Response: ...

    async def _change_role(self, gid: str, uid: str, rid: str, *, add: bool) -> web.Response: ...
