"""The playground's page and the JSON endpoints behind it, added to the bot's own aiohttp server.

The page (static/) is plain HTML, CSS and JavaScript with no build step. Every endpoint names who
is acting (`as`, a member id): the page lets you switch between the admin and a few members.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from bot import strict_json
from bot.playground.world import Playground, PlaygroundError

log = logging.getLogger(__name__)

PLAYGROUND_KEY = web.AppKey("playground", Playground)
STATIC = resources.files("bot.playground") / "static"
CONTENT_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


MAX_BODY = 64 * 1024  # the page's largest request (a message of 2000 characters, a command's options) is far below
MAX_DEPTH = 4  # {"options": {"name": [value]}}: the page never nests deeper (the body itself is 1)


async def _body(request: web.Request) -> dict[str, Any]:
    """Read the JSON object every POST endpoint takes; anything else is a PlaygroundError (a 400).

    The one gate of the playground's JSON intake: the content type, the size, the syntax, the depth
    and the top-level type are checked here, before any endpoint looks at a field.
    """
    # Only JSON: a page on another site cannot send that here without the browser asking first.
    if request.content_type != "application/json":
        raise PlaygroundError("Send JSON (Content-Type: application/json).")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise PlaygroundError(f"The body is too big: at most {MAX_BODY // 1024} KiB.")
    raw = bytearray()
    async for chunk in request.content.iter_any():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise PlaygroundError(f"The body is too big: at most {MAX_BODY // 1024} KiB.")
    try:
        # The same rule as GitHub's webhook intake: RFC 8259 only, nesting capped, every refusal a ValueError.
        return strict_json.loads_object(raw.decode(), max_depth=MAX_DEPTH)
    except ValueError as exc:  # UnicodeDecodeError too
        raise PlaygroundError(f"The body must be one JSON object, nested at most {MAX_DEPTH} deep: {exc}.") from None


def _options(body: dict[str, Any]) -> dict[str, Any]:
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise PlaygroundError("`options` must be an object of option names and values.")
    return options


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PlaygroundError(f"`{key}` is missing.")
    return value.strip()


def polite(handler: Handler) -> Handler:
    """Answer a PlaygroundError with a 400 and its message (the page shows it), never a 500.

    Only requests addressed to this machine by name are answered: a site whose name was made to
    point at 127.0.0.1 (DNS rebinding) gets a 403, not the playground.
    """

    async def wrapped(request: web.Request) -> web.StreamResponse:
        if request.host.rsplit(":", 1)[0] not in LOCAL_HOSTS:
            return _error(403, "The playground answers only at 127.0.0.1 or localhost.")
        try:
            return await handler(request)
        except PlaygroundError as exc:
            return _error(400, str(exc))

    return wrapped


@polite
async def index(request: web.Request) -> web.StreamResponse:
    return _static("index.html")


@polite
async def static(request: web.Request) -> web.StreamResponse:
    return _static(request.match_info["name"])


def _static(name: str) -> web.Response:
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or "\\" in name or suffix not in CONTENT_TYPES or not (resource := STATIC / name).is_file():
        return _error(404, "No such file.")
    return web.Response(
        body=resource.read_bytes(),
        content_type=CONTENT_TYPES[suffix],
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@polite
async def state(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    return web.json_response(await playground.state(playground.member(request.query.get("as", ""))))


@polite
async def people(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    return web.json_response([playground.person(m) for m in playground.members.values()])


@polite
async def commands(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    return web.json_response(playground.commands_for(playground.member(request.query.get("as", ""))))


@polite
async def messages(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    member = playground.member(request.query.get("as", ""))
    channel = playground.channel(request.query.get("channel", ""))
    return web.json_response(playground.messages(member, channel))


@polite
async def invoke(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    body = await _body(request)
    member = playground.member(body.get("as", ""))
    channel = playground.channel(body.get("channel", ""))
    return web.json_response(await playground.invoke(member, channel, _text(body, "command"), _options(body)))


@polite
async def autocomplete(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    body = await _body(request)
    member = playground.member(body.get("as", ""))
    channel = playground.channel(body.get("channel", ""))
    choices = await playground.autocomplete(
        member, channel, _text(body, "command"), _text(body, "option"), _options(body)
    )
    return web.json_response(choices)


@polite
async def click(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    body = await _body(request)
    member = playground.member(body.get("as", ""))
    return web.json_response(await playground.click(member, _text(body, "message"), _text(body, "custom_id")))


@polite
async def say(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    body = await _body(request)
    member = playground.member(body.get("as", ""))
    channel = playground.channel(body.get("channel", ""))
    text = body.get("text", "")
    if not isinstance(text, str):
        raise PlaygroundError("`text` must be a string.")
    return web.json_response(await playground.say(member, channel, text))


@polite
async def membership(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    body = await _body(request)
    member = playground.person_named_by(body.get("member", ""))
    return web.json_response(await playground.membership(member, _text(body, "action")))


@polite
async def bio(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    body = await _body(request)
    member = playground.member(body.get("as", ""))
    text = body.get("bio", "")
    if not isinstance(text, str):
        raise PlaygroundError("`bio` must be a string.")
    return web.json_response(playground.set_bio(member, text))


@polite
async def github(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    body = await _body(request)
    return web.json_response(await playground.send_github(_text(body, "kind")))


@polite
async def clock(request: web.Request) -> web.Response:
    playground = request.app[PLAYGROUND_KEY]
    body = await _body(request)
    next_run = body.get("next_run", False)
    if not isinstance(next_run, bool):
        raise PlaygroundError("`next_run` is true or false.")
    if next_run:
        return web.json_response(await playground.advance(to_next_run=True))
    hours = body.get("hours")
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24 * 31:
        raise PlaygroundError("Move the clock forward by 1 hour to 31 days (`hours`), or to the next weekly run.")
    return web.json_response(await playground.advance(hours=float(hours)))


def add_routes(app: web.Application, playground: Playground) -> None:
    """Add the page and its endpoints to `app` (the bot's web server, before it starts)."""
    app[PLAYGROUND_KEY] = playground
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/api/state", state)
    app.router.add_get("/api/people", people)
    app.router.add_get("/api/commands", commands)
    app.router.add_get("/api/messages", messages)
    app.router.add_post("/api/invoke", invoke)
    app.router.add_post("/api/autocomplete", autocomplete)
    app.router.add_post("/api/click", click)
    app.router.add_post("/api/say", say)
    app.router.add_post("/api/github", github)
    app.router.add_post("/api/bio", bio)
    app.router.add_post("/api/membership", membership)
    app.router.add_post("/api/clock", clock)
