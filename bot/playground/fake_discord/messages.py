"""Messages: creating, editing and deleting them, their attachments and mentions."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.playground.fake_discord.constants import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    ITYPE_COMMAND,
    SNOWFLAKE_MIN,
)
from bot.playground.fake_discord.models import (
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeUser,
    PendingInteraction,
    guess_content_type,
    snowflake,
)

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


def _qualified_name(data: Mapping[str, Any]) -> str:
    """Return an invoked command's full name, its subcommand group and subcommand included."""
    parts = [str(data.get("name", ""))]
    options = data.get("options") or []
    while options and options[0].get("type") in (1, 2):
        parts.append(options[0]["name"])
        options = options[0].get("options") or []
    return " ".join(parts)


class MessagesMixin:
    """The fake's message store, and the message events it echoes to the gateway."""

    # ------------------------------------------------------------------ internals: messages

    @staticmethod
    def _public(msg: Mapping[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(dict(msg))

    def _export(self: Fake, msg: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(msg))
        for att in out.get("attachments", []):
            att["data"] = self._attachment_data.get(int(att["id"]), b"")
        return out

    def _make_attachment(self: Fake, channel_id: int, file: FakeFile, description: str | None = None) -> dict[str, Any]:
        aid = snowflake()
        self._attachment_data[aid] = file.data
        url = f"{self.base_url}/attachments/{channel_id}/{aid}/{file.filename}"
        att: dict[str, Any] = {
            "id": str(aid),
            "filename": file.filename,
            "size": len(file.data),
            "url": url,
            "proxy_url": url,
            # Discord reads the type from the file name when the upload names none (discord.py sends
            # application/octet-stream for every file): a .png is an image, drawn inline.
            "content_type": guess_content_type(file),
            "flags": 0,
        }
        desc = description if description is not None else file.description
        if desc is not None:
            att["description"] = desc
        return att

    def _build_attachments(
        self: Fake,
        channel_id: int,
        body: Mapping[str, Any],
        files: list[FakeFile],
        existing: list[dict[str, Any]] | None,
    ) -> list[dict[str, Any]] | None:
        """Attachments for a create/edit: ``None`` means "leave unchanged" (edit without the key)."""
        by_index = dict(enumerate(files))
        if "attachments" not in body:
            if not files:
                return None if existing is not None else []
            keep = list(existing or [])
            return keep + [self._make_attachment(channel_id, f) for f in files]
        out = []
        used: set[int] = set()
        old = {a["id"]: a for a in existing or []}
        for item in body.get("attachments") or []:
            raw_id = int(item["id"])
            if raw_id < SNOWFLAKE_MIN and raw_id in by_index:
                used.add(raw_id)
                f = by_index[raw_id]
                if item.get("filename"):
                    f = FakeFile(item["filename"], f.data, f.content_type, f.description)
                out.append(self._make_attachment(channel_id, f, item.get("description")))
            elif str(raw_id) in old:
                out.append(old[str(raw_id)])
        out.extend(self._make_attachment(channel_id, f) for i, f in by_index.items() if i not in used)
        return out

    def _compute_mentions(
        self: Fake, content: str, allowed: Mapping[str, Any] | None, guild: FakeGuild | None
    ) -> tuple[list[dict[str, Any]], list[str], bool]:
        user_ids = [int(x) for x in re.findall(r"<@!?(\d+)>", content)]
        role_ids = [int(x) for x in re.findall(r"<@&(\d+)>", content)]
        everyone = "@everyone" in content or "@here" in content
        if allowed is None:
            parse = {"users", "roles", "everyone"}
            allowed_users: set[int] = set()
            allowed_roles: set[int] = set()
        else:
            parse = set(allowed.get("parse") or [])
            allowed_users = {int(x) for x in allowed.get("users") or []}
            allowed_roles = {int(x) for x in allowed.get("roles") or []}
        mentions = []
        for uid in dict.fromkeys(user_ids):
            if ("users" in parse or uid in allowed_users) and uid in self.users:
                data = self.users[uid].to_payload()
                if guild is not None and uid in guild.members:
                    data["member"] = guild.members[uid].to_payload(with_user=False)
                mentions.append(data)
        roles = [str(r) for r in dict.fromkeys(role_ids) if "roles" in parse or r in allowed_roles]
        return mentions, roles, everyone and "everyone" in parse

    def _create_message(
        self: Fake,
        channel: FakeChannel,
        author: FakeUser,
        body: Mapping[str, Any],
        files: list[FakeFile],
        *,
        pi: PendingInteraction | None = None,
        flags: int | None = None,
        store_in_channel: bool = True,
    ) -> dict[str, Any]:
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        now = self._now()
        if self.clock is None:
            mid = snowflake()
        else:
            mid = self._last_clocked_id = snowflake(now, after=self._last_clocked_id)
        content = str(body.get("content") or "")
        allowed = body.get("allowed_mentions")
        mentions, mention_roles, mention_everyone = self._compute_mentions(content, allowed, guild)
        msg_flags = int(body.get("flags") or 0) if flags is None else flags
        msg: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel.id),
            "type": 0,
            "content": content,
            "author": author.to_payload(),
            "timestamp": now.isoformat(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": mention_everyone,
            "mentions": mentions,
            "mention_roles": mention_roles,
            "mention_channels": [],
            "attachments": self._build_attachments(channel.id, body, files, None) or [],
            "embeds": [self._normalize_embed(e) for e in body.get("embeds") or []],
            "reactions": [],
            "pinned": False,
            "components": copy.deepcopy(body.get("components") or []),
            "flags": msg_flags,
            "allowed_mentions": copy.deepcopy(allowed),
        }
        if "nonce" in body:
            msg["nonce"] = body["nonce"]
        if guild is not None:
            msg["guild_id"] = str(guild.id)
            if author.id in guild.members:
                msg["member"] = guild.members[author.id].to_payload(with_user=False)
        ref = body.get("message_reference")
        if ref and ref.get("message_id"):
            msg["type"] = 19
            msg["message_reference"] = {
                "message_id": str(ref["message_id"]),
                "channel_id": str(channel.id),
                "guild_id": str(guild.id) if guild else None,
            }
            referenced = self._messages.get(int(ref["message_id"]))
            msg["referenced_message"] = self._public(referenced) if referenced else None
        if pi is not None:
            msg["type"] = 20 if pi.type == ITYPE_COMMAND else 0
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
            user = pi.payload["member"]["user"]
            msg["interaction_metadata"] = {
                "id": str(pi.id),
                "type": pi.type,
                "user": user,
                "authorizing_integration_owners": {"0": str(pi.guild_id)},
            }
            if pi.type == ITYPE_COMMAND:
                msg["interaction"] = {
                    "id": str(pi.id),
                    "type": pi.type,
                    # Discord names the subcommand too: "goal add", not "goal".
                    "name": _qualified_name(pi.payload["data"]),
                    "user": user,
                }
        self._messages[mid] = msg
        if store_in_channel and not msg_flags & FLAG_EPHEMERAL:
            self._channel_messages.setdefault(channel.id, []).append(mid)
        return msg

    def _edit_message(self: Fake, msg: dict[str, Any], body: Mapping[str, Any], files: list[FakeFile]) -> None:
        guild = self.guilds.get(int(msg["guild_id"])) if msg.get("guild_id") else None
        if "content" in body:
            msg["content"] = str(body.get("content") or "")
        if "embeds" in body:
            msg["embeds"] = [self._normalize_embed(e) for e in body.get("embeds") or []]
        if "components" in body:
            msg["components"] = copy.deepcopy(body.get("components") or [])
        if "allowed_mentions" in body:
            msg["allowed_mentions"] = copy.deepcopy(body.get("allowed_mentions"))
        if "flags" in body and body["flags"] is not None:
            keep = int(msg.get("flags", 0)) & FLAG_EPHEMERAL
            msg["flags"] = (int(body["flags"]) & ~(FLAG_EPHEMERAL | FLAG_LOADING)) | keep
        attachments = self._build_attachments(int(msg["channel_id"]), body, files, msg.get("attachments", []))
        if attachments is not None:
            msg["attachments"] = attachments
        mentions, roles, everyone = self._compute_mentions(msg["content"], msg.get("allowed_mentions"), guild)
        msg.update(mentions=mentions, mention_roles=roles, mention_everyone=everyone)
        msg["edited_timestamp"] = self._now().isoformat()

    def _delete_message(self: Fake, mid: int) -> dict[str, Any] | None:
        msg = self._messages.pop(mid, None)
        if msg is None:
            return None
        ids = self._channel_messages.get(int(msg["channel_id"]), [])
        if mid in ids:
            ids.remove(mid)
        self.deleted_messages.append(self._export(msg))
        return msg

    async def _echo_message_event(self: Fake, event: str, msg: Mapping[str, Any], *, sync: bool = False) -> None:
        """Send MESSAGE_CREATE/UPDATE to sessions whose intents cover the channel."""
        is_dm = "guild_id" not in msg
        needed = INTENT_DIRECT_MESSAGES if is_dm else INTENT_GUILD_MESSAGES
        for session in list(self._sessions.values()):
            if not session.intents & needed:
                continue
            data = self._public(msg)
            data.pop("allowed_mentions", None)
            mentioned = any(int(u["id"]) == self.bot_user.id for u in data.get("mentions", []))
            own = int(data["author"]["id"]) == self.bot_user.id
            if not (session.intents & INTENT_MESSAGE_CONTENT or is_dm or mentioned or own):
                data.update(content="", embeds=[], attachments=[], components=[])
            await self._dispatch_to(session, event, data)
        if sync and self.connected:
            await self.sync()
