"""Interactions: what a member invokes, clicks or submits, and what they see as the answer."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.playground.fake_discord.constants import (
    ITYPE_AUTOCOMPLETE,
    ITYPE_COMMAND,
    ITYPE_COMPONENT,
    ITYPE_MODAL_SUBMIT,
)
from bot.playground.fake_discord.models import (
    FakeChannel,
    FakeDiscordError,
    FakeGuild,
    FakeMember,
    InteractionResult,
    InteractionTimeout,
    PendingInteraction,
    RecordedRequest,
    id_of,
    snowflake,
    walk_components,
)

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


class InteractionsMixin:
    """Members' interactions (slash commands, context menus, buttons, selects, modals) and waiting for the answer."""

    # ------------------------------------------------------------------ interactions API

    async def invoke(
        self: Fake,
        guild: FakeGuild | int,
        member: FakeMember | int,
        command: str,
        /,
        *,
        in_channel: FakeChannel | int | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
        settle: float = 0.05,
        expect_response: bool = True,
        locale: str = "en-US",
        **kwargs: Any,
    ) -> InteractionResult:
        """Run a slash command as ``member``, e.g. ``invoke(g, alice, "goal add", text="x")``.

        ``command`` is the full qualified name (groups / subcommands separated by spaces).
        Options come from ``options=`` and keyword arguments and are typed using the command
        as the bot *synced* it (FakeMember/FakeUser/FakeChannel/FakeRole/ids for entity
        options, FakeFile for attachments).  The command runs in ``in_channel`` (default: the
        guild's first text channel); a ``channel=`` keyword is taken as ``in_channel`` unless
        the command has an option called ``channel``.

        Returns once the bot answered — and for deferred answers, once the follow-up/edit
        arrived — plus ``settle`` seconds of REST silence.  Raises InteractionTimeout if the
        bot didn't answer within ``timeout`` (unless ``expect_response=False``)."""
        guild = self._guild(guild)
        member = self._member(guild, member)
        values = dict(options or {})
        name = command.strip().lstrip("/")
        parts = name.split()
        cmd, scope = self._find_command(guild, parts[0], 1)
        leaf = self._command_leaf(cmd, parts)
        leaf_names = {o["name"] for o in leaf.get("options", [])}
        if "channel" in kwargs and "channel" not in leaf_names and in_channel is None:
            in_channel = kwargs.pop("channel")
        values.update(kwargs)
        channel = self._invocation_channel(guild, in_channel)
        self._check_can_use(guild, member, channel, cmd, name)
        options_payload, resolved = self._build_options(guild, channel, cmd, parts, values, focused=None)
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": options_payload}
        if scope is not None:
            data["guild_id"] = str(scope)
        if resolved:
            data["resolved"] = resolved
        pi = await self._send_interaction(ITYPE_COMMAND, guild, member, channel, data, locale=locale)
        return await self._await_result(pi, timeout=timeout, settle=settle, expect_response=expect_response)

    async def invoke_context_menu(
        self: Fake,
        guild: FakeGuild | int,
        member: FakeMember | int,
        name: str,
        target: Any,
        /,
        *,
        in_channel: FakeChannel | int | None = None,
        timeout: float = 5.0,
        settle: float = 0.05,
        expect_response: bool = True,
    ) -> InteractionResult:
        """Run a user (target = member/user) or message (target = message dict) context menu."""
        guild = self._guild(guild)
        member = self._member(guild, member)
        is_message = isinstance(target, Mapping) and "content" in target
        ctype = 3 if is_message else 2
        cmd, scope = self._find_command(guild, name, ctype)
        resolved: dict[str, Any] = {}
        if is_message:
            msg = self._messages.get(int(target["id"]))
            if msg is None:
                raise FakeDiscordError(f"unknown message {target['id']}")
            channel = self._channel(int(msg["channel_id"]))
            resolved["messages"] = {msg["id"]: self._public(msg)}
            target_id = msg["id"]
        else:
            channel = self._invocation_channel(guild, in_channel)
            self._resolve_user(guild, channel, target, resolved)
            target_id = str(id_of(target))
        self._check_can_use(guild, member, channel, cmd, name)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": ctype,
            "target_id": target_id,
            "resolved": resolved,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        pi = await self._send_interaction(ITYPE_COMMAND, guild, member, channel, data)
        return await self._await_result(pi, timeout=timeout, settle=settle, expect_response=expect_response)

    async def autocomplete(
        self: Fake,
        guild: FakeGuild | int,
        member: FakeMember | int,
        command: str,
        option: str,
        value: str = "",
        /,
        *,
        in_channel: FakeChannel | int | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Type ``value`` into the autocompleted ``option`` of ``command`` (other options already
        filled in via ``options=``/kwargs) and return the bot's choices
        (``[{"name": ..., "value": ...}, ...]``)."""
        guild = self._guild(guild)
        member = self._member(guild, member)
        parts = command.strip().lstrip("/").split()
        cmd, scope = self._find_command(guild, parts[0], 1)
        leaf = self._command_leaf(cmd, parts)
        opt_def = next((o for o in leaf.get("options", []) if o["name"] == option), None)
        if opt_def is None:
            raise FakeDiscordError(f"/{' '.join(parts)} has no option {option!r}")
        if not opt_def.get("autocomplete"):
            raise FakeDiscordError(f"option {option!r} of /{' '.join(parts)} is not synced with autocomplete=True")
        values = dict(options or {})
        leaf_names = {o["name"] for o in leaf.get("options", [])}
        if "channel" in kwargs and "channel" not in leaf_names and in_channel is None:
            in_channel = kwargs.pop("channel")
        values.update(kwargs)
        values[option] = value
        channel = self._invocation_channel(guild, in_channel)
        options_payload, resolved = self._build_options(guild, channel, cmd, parts, values, focused=option)
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": options_payload}
        if scope is not None:
            data["guild_id"] = str(scope)
        if resolved:
            data["resolved"] = resolved
        pi = await self._send_interaction(ITYPE_AUTOCOMPLETE, guild, member, channel, data)
        res = await self._await_result(pi, timeout=timeout, settle=0.0, expect_response=True)
        if res.type != 8:
            raise FakeDiscordError(f"autocomplete answered with callback type {res.type}, expected 8")
        return res.choices

    async def click(
        self: Fake,
        guild: FakeGuild | int,
        member: FakeMember | int,
        message: Any,
        custom_id: str,
        /,
        *,
        values: Sequence[Any] | None = None,
        timeout: float = 5.0,
        settle: float = 0.05,
        expect_response: bool = True,
    ) -> InteractionResult:
        """Click a button (or choose ``values`` in a select) with ``custom_id`` on ``message``
        (a message dict, message id, or an InteractionResult whose message to use)."""
        guild = self._guild(guild)
        member = self._member(guild, member)
        msg = self._stored_message(message)
        comp = next((c for c in walk_components(msg.get("components", [])) if c.get("custom_id") == custom_id), None)
        if comp is None:
            ids = [c["custom_id"] for c in walk_components(msg.get("components", [])) if "custom_id" in c]
            raise FakeDiscordError(f"message {msg['id']} has no component {custom_id!r}; it has {ids}")
        if comp.get("disabled"):
            raise FakeDiscordError(f"component {custom_id!r} is disabled")
        channel = self._channel(int(msg["channel_id"]))
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": comp["type"]}
        ctype = comp["type"]
        if ctype == 2:
            if values:
                raise FakeDiscordError("buttons take no values")
        else:
            data.update(self._select_values(guild, channel, comp, values or []))
        pi = await self._send_interaction(
            ITYPE_COMPONENT,
            guild,
            member,
            channel,
            data,
            message=self._public(msg),
            component_message_id=int(msg["id"]),
        )
        return await self._await_result(pi, timeout=timeout, settle=settle, expect_response=expect_response)

    async def submit_modal(
        self: Fake,
        guild: FakeGuild | int,
        member: FakeMember | int,
        source: InteractionResult,
        values: Mapping[str, Any],
        /,
        *,
        timeout: float = 5.0,
        settle: float = 0.05,
        expect_response: bool = True,
    ) -> InteractionResult:
        """Fill in and submit the modal the bot opened in ``source`` (a result of type 9).
        ``values`` maps text-input custom_ids to strings (select custom_ids to lists)."""
        modal = source.modal
        if modal is None:
            raise FakeDiscordError(f"{source!r} did not open a modal")
        guild = self._guild(guild)
        member = self._member(guild, member)
        unknown = set(values)
        components = self._fill_modal(modal.get("components", []), values, unknown)
        if unknown:
            raise FakeDiscordError(f"modal {modal.get('custom_id')!r} has no inputs {sorted(unknown)}")
        data = {"custom_id": modal["custom_id"], "components": components}
        src = source._pi
        channel = self._channel(src.channel_id)
        message = None
        if src.component_message_id is not None and src.component_message_id in self._messages:
            message = self._public(self._messages[src.component_message_id])
        pi = await self._send_interaction(
            ITYPE_MODAL_SUBMIT,
            guild,
            member,
            channel,
            data,
            message=message,
            component_message_id=src.component_message_id,
        )
        return await self._await_result(pi, timeout=timeout, settle=settle, expect_response=expect_response)

    async def wait_for_message(
        self: Fake,
        channel: FakeChannel | int,
        *,
        check: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
        existing: bool = False,
    ) -> dict[str, Any]:
        """Wait for a message in ``channel`` matching ``check``; only messages created after the
        call count unless ``existing=True``."""
        cid = id_of(channel)
        skip = set() if existing else set(self._channel_messages.get(cid, []))
        found: list[dict[str, Any]] = []

        def ready() -> bool:
            for mid in self._channel_messages.get(cid, []):
                if mid in skip or mid not in self._messages:
                    continue
                msg = self._export(self._messages[mid])
                if check is None or check(msg):
                    found.append(msg)
                    return True
            return False

        loop = asyncio.get_running_loop()
        if not await self._wait_until(ready, loop.time() + timeout):
            raise InteractionTimeout(f"no matching message in channel {cid} within {timeout}s")
        return found[0]

    async def wait_for_request(
        self: Fake, method: str | None, path_regex: str, *, timeout: float = 5.0, existing: bool = False
    ) -> RecordedRequest:
        start = 0 if existing else len(self.requests)
        rx = re.compile(path_regex)
        found: list[RecordedRequest] = []

        def ready() -> bool:
            for r in self.requests[start:]:
                if (method is None or r.method == method.upper()) and rx.search(r.path) and r.status is not None:
                    found.append(r)
                    return True
            return False

        loop = asyncio.get_running_loop()
        if not await self._wait_until(ready, loop.time() + timeout):
            raise InteractionTimeout(f"no {method} {path_regex} request within {timeout}s")
        return found[0]

    # ------------------------------------------------------------------ internals: interaction flow

    async def _send_interaction(
        self: Fake,
        itype: int,
        guild: FakeGuild,
        member: FakeMember,
        channel: FakeChannel,
        data: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
        component_message_id: int | None = None,
        locale: str = "en-US",
    ) -> PendingInteraction:
        if not self.connected:
            raise FakeDiscordError("no bot is connected to the fake gateway")
        iid = snowflake()
        token = f"fake-interaction.{iid}.{secrets.token_urlsafe(24)}"
        member_perms = self.permissions_for(member, channel)
        channel_data = channel.to_payload()
        channel_data["permissions"] = str(member_perms)
        member_data = member.to_payload()
        member_data["permissions"] = str(member_perms)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": list(guild.features)},
            "channel_id": str(channel.id),
            "channel": channel_data,
            "member": member_data,
            "app_permissions": str(self.permissions_for(self.bot_user, channel)),
            "locale": locale,
            "guild_locale": guild.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
            "data": data,
        }
        if message is not None:
            payload["message"] = message
        loop = asyncio.get_running_loop()
        pi = PendingInteraction(
            id=iid,
            token=token,
            type=itype,
            payload=payload,
            guild_id=guild.id,
            channel_id=channel.id,
            created=loop.time(),
            component_message_id=component_message_id,
        )
        self._interactions[iid] = pi
        self._interactions_by_token[token] = pi
        await self.dispatch("INTERACTION_CREATE", payload, sync=False)
        return pi

    async def _await_result(
        self: Fake, pi: PendingInteraction, *, timeout: float, settle: float, expect_response: bool
    ) -> InteractionResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        res = InteractionResult(self, pi)
        label = pi.payload["data"].get("name") or pi.payload["data"].get("custom_id")
        await self._wait_until(lambda: pi.callback is not None or pi.done, deadline)
        if pi.callback is None and pi.done:
            # handler finished (or failed) without answering: give in-flight requests a moment
            await self._wait_until(lambda: pi.callback is not None, min(deadline, loop.time() + 0.25))
        if pi.callback is None:
            if not expect_response:
                await self._settle(settle, deadline)
                return res
            if pi.error is not None:
                why = f": the command raised {pi.error!r}"
            elif pi.done:
                why = ": the command finished without responding"
            else:
                why = f" within {timeout}s"
            raise InteractionTimeout(f"the bot did not respond to interaction {label!r}{why}") from pi.error
        if pi.callback_type == 5:
            await self._wait_until(lambda: not pi.loading or pi.done, deadline)
            if pi.loading and pi.done:
                await self._wait_until(lambda: not pi.loading, min(deadline, loop.time() + 0.25))
            if pi.loading and expect_response:
                why = f"; the command raised {pi.error!r}" if pi.error else ""
                raise InteractionTimeout(
                    f"interaction {label!r} was deferred but never followed up / edited within {timeout}s{why}"
                ) from pi.error
        elif pi.callback_type == 6:
            await self._wait_until(lambda: pi.updates > 0 or pi.done, min(deadline, loop.time() + 1.0))
        if pi.type == ITYPE_COMMAND and any(not b.is_closed() for b in self._watched):
            # watched bot: wait for the command handler to finish so its later REST calls count
            await self._wait_until(lambda: pi.done, deadline)
        await self._settle(settle, deadline + settle)
        return res

    async def _settle(self: Fake, quiet: float, hard_deadline: float) -> None:
        """Wait until no REST request has been in flight for ``quiet`` seconds."""
        if quiet <= 0:
            return
        loop = asyncio.get_running_loop()
        while loop.time() < hard_deadline:
            idle = loop.time() - self._last_activity
            if self._inflight == 0 and idle >= quiet:
                return
            await self._wait_until(lambda: False, min(hard_deadline, loop.time() + max(quiet - idle, 0.005)))

    async def _wait_until(self: Fake, predicate: Callable[[], bool], deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return predicate()
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        return True

    def _notify(self: Fake) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
