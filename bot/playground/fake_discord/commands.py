"""Application commands as a member invokes them: finding a command, checking who may use it, building its options."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.playground.fake_discord.constants import ADMINISTRATOR, ALL_PERMISSIONS
from bot.playground.fake_discord.models import (
    FakeChannel,
    FakeDiscordError,
    FakeFile,
    FakeGuild,
    FakeMember,
    FakeRole,
    id_of,
)

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


_OPTION_TYPE_NAMES = {4: "integer", 6: "user", 7: "channel", 8: "role", 9: "user or role", 10: "number", 11: "file"}


class CommandsMixin:
    """Turn a member's invocation into an interaction payload, checked like Discord's client checks it."""

    # ------------------------------------------------------------------ internals: commands

    def _find_command(self: Fake, guild: FakeGuild, name: str, ctype: int) -> tuple[dict[str, Any], int | None]:
        for scope in (guild.id, None):
            cmd = self._commands.get(scope, {}).get((ctype, name))
            if cmd is not None:
                return cmd, scope
        synced = sorted({n for scope in (guild.id, None) for (t, n) in self._commands.get(scope, {}) if t == ctype})
        if not self._commands:
            hint = "the bot has not synced any commands (call `await bot.tree.sync(guild=...)`)"
        else:
            hint = f"synced for this guild/globally: {synced}"
        kind = {1: "slash command", 2: "user command", 3: "message command"}[ctype]
        raise FakeDiscordError(f"{kind} {name!r} is not synced; {hint}")

    @staticmethod
    def _command_leaf(cmd: dict[str, Any], parts: list[str]) -> dict[str, Any]:
        node = cmd
        for part in parts[1:]:
            sub = next((o for o in node.get("options", []) if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                subs = [o["name"] for o in node.get("options", []) if o["type"] in (1, 2)]
                raise FakeDiscordError(f"/{' '.join(parts)}: no subcommand {part!r} (available: {subs})")
            node = sub
        subs = [o["name"] for o in node.get("options", []) if o["type"] in (1, 2)]
        if subs:
            raise FakeDiscordError(f"/{' '.join(parts)} is a group; pick one of its subcommands: {subs}")
        return node

    def allow_everyone(self: Fake, guild: FakeGuild, command: str) -> None:
        """Let every member use a top-level command whatever its default permissions, as a server
        admin can in Server Settings -> Integrations (the bot must then check for itself)."""
        self.command_overrides.add((guild.id, command))

    def _check_can_use(
        self: Fake, guild: FakeGuild, member: FakeMember, channel: FakeChannel, cmd: dict[str, Any], name: str
    ) -> None:
        required = cmd.get("default_member_permissions")
        if required is None or (guild.id, cmd["name"]) in self.command_overrides:
            return
        perms = self.permissions_for(member, channel)
        required = int(required)
        if perms & ADMINISTRATOR or perms == ALL_PERMISSIONS:
            return
        if required == 0 or perms & required != required:
            raise FakeDiscordError(
                f"{member.name} cannot see /{name}: default_member_permissions={required} but has {perms}"
            )

    def _build_options(
        self: Fake,
        guild: FakeGuild,
        channel: FakeChannel,
        cmd: dict[str, Any],
        parts: list[str],
        values: dict[str, Any],
        *,
        focused: str | None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        top: list[dict[str, Any]] = []
        container = top
        node = cmd
        for part in parts[1:]:
            sub = next(o for o in node.get("options", []) if o["name"] == part and o["type"] in (1, 2))
            entry: dict[str, Any] = {"type": sub["type"], "name": part, "options": []}
            container.append(entry)
            container = entry["options"]
            node = sub
        defs = {o["name"]: o for o in node.get("options", [])}
        unknown = set(values) - set(defs)
        label = "/" + " ".join(parts)
        if unknown:
            raise FakeDiscordError(f"{label} has no option(s) {sorted(unknown)}; options: {list(defs)}")
        resolved: dict[str, Any] = {}
        for oname, odef in defs.items():
            if oname not in values or values[oname] is None:
                if odef.get("required") and focused is None:
                    raise FakeDiscordError(f"{label}: required option {oname!r} missing")
                continue
            value = values[oname]
            if oname == focused:
                container.append({"type": odef["type"], "name": oname, "value": str(value), "focused": True})
                continue
            container.append(
                {
                    "type": odef["type"],
                    "name": oname,
                    "value": self._option_value(guild, channel, label, odef, value, resolved),
                }
            )
        return top, resolved

    def _option_value(
        self: Fake,
        guild: FakeGuild,
        channel: FakeChannel,
        label: str,
        odef: Mapping[str, Any],
        value: Any,
        resolved: dict[str, Any],
    ) -> Any:
        try:
            return self._checked_option_value(guild, channel, label, odef, value, resolved)
        except (TypeError, ValueError, KeyError):
            # Discord's client only sends what its pickers offer: an id that names nothing is refused.
            raise FakeDiscordError(
                f"{label} {odef['name']}: {value!r} is not a valid {_OPTION_TYPE_NAMES.get(odef['type'], 'value')}"
            ) from None

    def _checked_option_value(
        self: Fake,
        guild: FakeGuild,
        channel: FakeChannel,
        label: str,
        odef: Mapping[str, Any],
        value: Any,
        resolved: dict[str, Any],
    ) -> Any:
        otype = odef["type"]
        oname = odef["name"]
        if otype == 3:  # string
            value = str(value)
            if "min_length" in odef and len(value) < odef["min_length"]:
                raise FakeDiscordError(f"{label} {oname}: shorter than min_length {odef['min_length']}")
            if "max_length" in odef and len(value) > odef["max_length"]:
                raise FakeDiscordError(f"{label} {oname}: longer than max_length {odef['max_length']}")
        elif otype == 4:  # integer
            if isinstance(value, bool) or not isinstance(value, int):
                raise FakeDiscordError(f"{label} {oname}: expected an int, got {value!r}")
        elif otype == 5:  # boolean
            if not isinstance(value, bool):
                raise FakeDiscordError(f"{label} {oname}: expected a bool, got {value!r}")
        elif otype == 10:  # number
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FakeDiscordError(f"{label} {oname}: expected a number, got {value!r}")
        elif otype == 6:  # user
            return self._resolve_user(guild, channel, value, resolved)
        elif otype == 7:  # channel
            ch = self._channel(value)
            types_ok = odef.get("channel_types")
            if types_ok and ch.type not in types_ok:
                raise FakeDiscordError(f"{label} {oname}: channel type {ch.type} not in {types_ok}")
            data = ch.to_payload()
            data["permissions"] = str(self.permissions_for(self._member_in(guild), ch))
            resolved.setdefault("channels", {})[str(ch.id)] = data
            return str(ch.id)
        elif otype == 8:  # role
            role = guild.roles.get(id_of(value))
            if role is None:
                raise FakeDiscordError(f"{label} {oname}: unknown role {value!r}")
            resolved.setdefault("roles", {})[str(role.id)] = role.to_payload()
            return str(role.id)
        elif otype == 9:  # mentionable
            rid = id_of(value)
            if isinstance(value, FakeRole) or rid in guild.roles:
                resolved.setdefault("roles", {})[str(rid)] = guild.roles[rid].to_payload()
                return str(rid)
            return self._resolve_user(guild, channel, value, resolved)
        elif otype == 11:  # attachment
            if isinstance(value, FakeFile):
                file = value
            elif (
                isinstance(value, tuple | list)
                and len(value) >= 2
                and isinstance(value[0], str)
                and isinstance(value[1], bytes)
            ):
                file = FakeFile(*value)
            else:
                raise FakeDiscordError(f"{label} {oname}: expected an uploaded file, got {value!r}")
            att = self._make_attachment(channel.id, file)
            att["ephemeral"] = True
            resolved.setdefault("attachments", {})[att["id"]] = att
            return att["id"]
        else:
            raise FakeDiscordError(f"{label} {oname}: unsupported option type {otype}")
        choices = odef.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise FakeDiscordError(f"{label} {oname}: {value!r} is not one of the choices {choices}")
        if otype in (4, 10):
            if "min_value" in odef and value < odef["min_value"]:
                raise FakeDiscordError(f"{label} {oname}: below min_value {odef['min_value']}")
            if "max_value" in odef and value > odef["max_value"]:
                raise FakeDiscordError(f"{label} {oname}: above max_value {odef['max_value']}")
        return value

    def _member_in(self: Fake, guild: FakeGuild) -> FakeMember:
        return guild.members[self.bot_user.id]

    def _resolve_user(self: Fake, guild: FakeGuild, channel: FakeChannel, value: Any, resolved: dict[str, Any]) -> str:
        user = self._user(value)
        resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
        member = guild.members.get(user.id)
        if member is not None:
            data = member.to_payload(with_user=False)
            data["permissions"] = str(self.permissions_for(member, channel))
            resolved.setdefault("members", {})[str(user.id)] = data
        return str(user.id)

    def _select_values(
        self: Fake, guild: FakeGuild, channel: FakeChannel, comp: Mapping[str, Any], values: Sequence[Any]
    ) -> dict[str, Any]:
        ctype = comp["type"]
        lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise FakeDiscordError(f"select {comp['custom_id']!r} needs {lo}..{hi} values, got {len(values)}")
        resolved: dict[str, Any] = {}
        out: list[str] = []
        if ctype == 3:
            allowed = [o["value"] for o in comp.get("options", [])]
            for v in values:
                if v not in allowed:
                    raise FakeDiscordError(f"{v!r} is not an option of select {comp['custom_id']!r}: {allowed}")
                out.append(v)
            return {"values": out}
        for v in values:
            if ctype == 5 or (ctype == 7 and not (isinstance(v, FakeRole) or id_of(v) in guild.roles)):
                out.append(self._resolve_user(guild, channel, v, resolved))
            elif ctype in (6, 7):
                role = guild.roles[id_of(v)]
                resolved.setdefault("roles", {})[str(role.id)] = role.to_payload()
                out.append(str(role.id))
            elif ctype == 8:
                ch = self._channel(v)
                data = ch.to_payload()
                data["permissions"] = str(self.permissions_for(self._member_in(guild), ch))
                resolved.setdefault("channels", {})[str(ch.id)] = data
                out.append(str(ch.id))
            else:
                raise FakeDiscordError(f"unsupported component type {ctype}")
        return {"values": out, "resolved": resolved}

    def _fill_modal(
        self: Fake, components: list[dict[str, Any]], values: Mapping[str, Any], unknown: set[str]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for comp in components:
            ctype = comp.get("type")
            if ctype == 1:
                out.append({"type": 1, "components": self._fill_modal(comp.get("components", []), values, unknown)})
            elif ctype == 18:
                inner = self._fill_modal([comp["component"]], values, unknown)
                if inner:
                    out.append({"type": 18, "id": comp.get("id"), "component": inner[0]})
            elif ctype == 4:
                cid = comp["custom_id"]
                unknown.discard(cid)
                value = str(values.get(cid, comp.get("value") or ""))
                if comp.get("required", True) and not value:
                    raise FakeDiscordError(f"modal text input {cid!r} is required")
                if "max_length" in comp and len(value) > comp["max_length"]:
                    raise FakeDiscordError(f"modal text input {cid!r} longer than {comp['max_length']}")
                if value and "min_length" in comp and len(value) < comp["min_length"]:
                    raise FakeDiscordError(f"modal text input {cid!r} shorter than {comp['min_length']}")
                out.append({"type": 4, "id": comp.get("id"), "custom_id": cid, "value": value})
            elif "custom_id" in comp:
                cid = comp["custom_id"]
                unknown.discard(cid)
                vals = values.get(cid, [])
                out.append(
                    {
                        "type": ctype,
                        "id": comp.get("id"),
                        "custom_id": cid,
                        "values": [str(id_of(v)) if not isinstance(v, str) else v for v in vals],
                    }
                )
        return out
