"""What Discord refuses from a bot: messages, embeds, components, commands and choices past its limits."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.fake_discord.models import FakeFile, walk_components
from bot.playground.fake_discord.rest.responses import error_response, field_error, form_error

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


class ValidationMixin:
    """Checks of what the bot sends, answered like Discord answers (400 50035 and the fields' errors)."""

    # ------------------------------------------------------------------ internals: messages

    def _validate_message(
        self: Fake, body: Mapping[str, Any], files: list[FakeFile], *, edit: bool = False
    ) -> web.Response | None:
        errors: dict[str, Any] = {}
        content = body.get("content")
        if content is not None and len(str(content)) > 2000:
            errors["content"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            errors["embeds"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        total = 0
        limits = {"title": 256, "description": 4096}
        for i, embed in enumerate(embeds):
            e_err: dict[str, Any] = {}
            for key, limit in limits.items():
                text = embed.get(key) or ""
                total += len(text)
                if len(text) > limit:
                    e_err[key] = field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
            fields_ = embed.get("fields") or []
            if len(fields_) > 25:
                e_err["fields"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            for j, f in enumerate(fields_):
                name, value = str(f.get("name", "")), str(f.get("value", ""))
                total += len(name) + len(value)
                if not name or len(name) > 256 or not value or len(value) > 1024:
                    e_err.setdefault("fields", {})[str(j)] = field_error(
                        "BASE_TYPE_BAD_LENGTH", "Field name must be 1-256 and value 1-1024 characters."
                    )
            for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
                text = (embed.get(key) or {}).get(sub) or ""
                total += len(text)
                if len(text) > limit:
                    e_err[key] = {sub: field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")}
            if e_err:
                errors.setdefault("embeds", {})[str(i)] = e_err
        if total > 6000:
            errors.setdefault("embeds", {})["_errors"] = [
                {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}
            ]
        comp_errors = self._validate_components(body.get("components") or [], int(body.get("flags") or 0))
        if comp_errors:
            errors["components"] = comp_errors
        if errors:
            return form_error(errors)
        if not edit and not (
            content
            or embeds
            or files
            or body.get("attachments")
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            return error_response(400, 50006, "Cannot send an empty message")
        return None

    @staticmethod
    def _validate_components(components: list[dict[str, Any]], flags: int) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        v2 = bool(flags & (1 << 15))
        if not v2 and len(components) > 5:
            errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 5 or fewer in length."}]
        seen: set[str] = set()
        for i, row in enumerate(components):
            if not v2 and row.get("type") != 1:
                errors[str(i)] = field_error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Top-level must be action rows")
                continue
            if row.get("type") == 1 and len(row.get("components", [])) > 5:
                errors[str(i)] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
            for comp in walk_components(row.get("components", [])):
                cid = comp.get("custom_id")
                if cid is not None:
                    if len(cid) > 100:
                        errors[str(i)] = field_error("BASE_TYPE_MAX_LENGTH", "custom_id must be 100 or fewer.")
                    if cid in seen:
                        errors[str(i)] = field_error("COMPONENT_CUSTOM_ID_DUPLICATED", f"Duplicate {cid!r}")
                    seen.add(cid)
                if comp.get("type") == 2 and len(comp.get("label") or "") > 80:
                    errors[str(i)] = field_error("BASE_TYPE_MAX_LENGTH", "label must be 80 or fewer.")
        return errors

    @staticmethod
    def _normalize_embed(embed: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(embed))
        out.setdefault("type", "rich")
        return out

    # ------------------------------------------------------------------ REST handlers: commands

    def _validate_command(self: Fake, cmd: Mapping[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        ctype = cmd.get("type", 1)
        name = cmd.get("name") or ""
        name_rx = r"[-_'\w]{1,32}"
        if ctype == 1 and (not re.fullmatch(name_rx, name) or name != name.lower()):
            errors["name"] = field_error("APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")
        elif ctype != 1 and not 1 <= len(name) <= 32:
            errors["name"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        desc = cmd.get("description") or ""
        if ctype == 1 and not 1 <= len(desc) <= 100:
            errors["description"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")

        def check_options(options: list[dict[str, Any]], where: dict[str, Any]) -> None:
            if len(options) > 25:
                where["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}]
            seen_optional = False
            names: set[str] = set()
            for i, opt in enumerate(options):
                o_err: dict[str, Any] = {}
                oname = opt.get("name") or ""
                if not re.fullmatch(name_rx, oname) or oname != oname.lower():
                    o_err["name"] = field_error("APPLICATION_COMMAND_INVALID_NAME", f"Invalid name {oname!r}")
                if oname in names:
                    o_err["name"] = field_error("APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Duplicate name")
                names.add(oname)
                if not 1 <= len(opt.get("description") or "") <= 100:
                    o_err["description"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100.")
                if opt.get("type") in (1, 2):
                    check_options(opt.get("options") or [], o_err.setdefault("options", {}))
                    if not o_err["options"]:
                        del o_err["options"]
                else:
                    if opt.get("required"):
                        if seen_optional:
                            o_err["required"] = field_error(
                                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                                "Required options must be placed before non-required options",
                            )
                    else:
                        seen_optional = True
                    choices = opt.get("choices") or []
                    if len(choices) > 25:
                        o_err["choices"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
                    if choices and opt.get("autocomplete"):
                        o_err["autocomplete"] = field_error(
                            "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE", "Cannot have choices and autocomplete"
                        )
                if o_err:
                    where[str(i)] = o_err

        opt_errors: dict[str, Any] = {}
        check_options(cmd.get("options") or [], opt_errors)
        if opt_errors:
            errors["options"] = opt_errors
        return errors

    # ------------------------------------------------------------------ REST handlers: interactions

    @staticmethod
    def _validate_choices(choices: list[dict[str, Any]]) -> web.Response | None:
        errors: dict[str, Any] = {}
        if len(choices) > 25:
            errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}]
        for i, choice in enumerate(choices):
            name = str(choice.get("name", ""))
            value = choice.get("value")
            if not 1 <= len(name) <= 100:
                errors[str(i)] = {"name": field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100.")}
            if isinstance(value, str) and len(value) > 100:
                errors[str(i)] = {"value": field_error("BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer.")}
        if errors:
            return form_error({"data": {"choices": errors}})
        return None
