"""GitHub webhook intake on a real SQLite file: signatures, every refusal, storing once, bounded memory, retries."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.db.models import GitHubAccount, GitHubProfile, MergedPullRequest, WebhookDelivery
from bot.db.session import create_engine, create_sessionmaker, transaction
from bot.playground.samples import load, merged_pr_payload, sign
from bot.services import guilds, retention
from bot.services.github import events, webhooks
from bot.web import build_app
from bot.web.webhook import MAX_UNVERIFIED_BYTES, MAX_WEBHOOK_BODY, WEBHOOK_KEY
from tests.conftest import NOW, add_poison_trigger, database_locked, impatient_engine
from tests.harness import eventually


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Check a whole body the way the intake checks it as it streams in (webhooks.SignatureCheck)."""
    check = webhooks.SignatureCheck(secret)
    check.update(body)
    return check.matches(header)


async def store_delivery(sessionmaker, *, delivery_id: str, event: str, headers, body: bytes, now) -> bool:
    """Store one delivery through the intake's group commit (webhooks.store_deliveries)."""
    [stored] = await webhooks.store_deliveries(
        sessionmaker, [webhooks.Delivery(delivery_id, event, headers, body, now)]
    )
    return stored


SECRET = "test-webhook-secret"
URL = "/github/webhook"


def github_headers(
    body: bytes,
    *,
    event: str | None = "pull_request",
    delivery: str | None = "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    secret: str = SECRET,
    content_type: str = "application/json",
) -> dict[str, str]:
    """Return the headers GitHub sends with `body`, minus any set to None."""
    headers = {
        "Content-Type": content_type,
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": "292430182",
        "X-Hub-Signature-256": sign(secret, body),
    }
    return {name: value for name, value in headers.items() if value is not None}


async def row_count(sessionmaker) -> int:
    async with transaction(sessionmaker) as session:
        return await session.scalar(select(func.count()).select_from(WebhookDelivery))


async def all_rows(sessionmaker) -> list[WebhookDelivery]:
    async with transaction(sessionmaker) as session:
        return list((await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).all())


class Wakeups:
    """Counts calls of on_delivery."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
def wakeups() -> Wakeups:
    return Wakeups()


@pytest.fixture
async def client(engine, sessionmaker, wakeups) -> AsyncIterator[TestClient]:
    app = build_app(engine, sessionmaker=sessionmaker, webhook_secret=SECRET, on_delivery=wakeups, now=lambda: NOW)
    async with TestClient(TestServer(app)) as client:
        yield client


# --- The service on its own.


def test_signature_matches_githubs_documented_example() -> None:
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert verify_signature("It's a Secret to Everybody", b"Hello, World!", signature)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
        "sha256=é",
    ],
)
def test_signature_refuses_missing_wrong_or_malformed_headers(header: str | None) -> None:
    assert not verify_signature("It's a Secret to Everybody", b"Hello, World!", header)


def test_signature_refuses_an_empty_secret() -> None:
    assert not verify_signature("", b"Hello, World!", sign("", b"Hello, World!"))


def test_signature_covers_every_byte() -> None:
    body = load("issues/opened.payload.json")
    assert verify_signature(SECRET, body, sign(SECRET, body))
    assert not verify_signature(SECRET, body + b" ", sign(SECRET, body))
    assert not verify_signature("other-secret", body, sign(SECRET, body))


def test_decode_payload_reads_json_and_form_bodies() -> None:
    body = load("release/published.payload.json")
    expected = json.loads(body)
    assert webhooks.decode_payload("application/json", body) == expected
    assert webhooks.decode_payload("application/json; charset=utf-8", body) == expected
    form = urlencode({"payload": body.decode()}).encode()
    assert webhooks.decode_payload("application/x-www-form-urlencoded", form) == expected


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("application/json", b"\xff\xfe"),
        ("application/x-www-form-urlencoded", b"other=1"),
        ("application/x-www-form-urlencoded", b"payload=%7Bnot+json"),
        ("text/plain", b"{}"),
    ],
)
def test_decode_payload_raises_value_error_on_bad_bodies(content_type: str, body: bytes) -> None:
    with pytest.raises(ValueError):
        webhooks.decode_payload(content_type, body)


def test_decode_payload_reads_paired_surrogate_escapes_and_nesting_up_to_the_cap() -> None:
    assert webhooks.decode_payload("application/json", b'{"a": "\\ud83d\\ude80 \\u00e9"}') == {"a": "\U0001f680 \u00e9"}
    assert webhooks.decode_payload("application/json", nested(webhooks.MAX_DEPTH))
    for body in (nested(webhooks.MAX_DEPTH + 1), nested(200_000), b'{"a": "\\ude80\\ud83d"}', b'{"a": NaN}'):
        with pytest.raises(ValueError):
            webhooks.decode_payload("application/json", body)


def test_merged_pr_fixture_is_a_merged_closed_pull_request() -> None:
    payload = json.loads(
        merged_pr_payload(
            number=42, title="Fix it", body=None, user_login="alice", user_id=7, user_type="Bot", repo="acme/rocket"
        )
    )
    pr = payload["pull_request"]
    assert payload["action"] == "closed"
    assert (pr["merged"], pr["merged_at"], pr["merged_by"]["login"]) == (True, "2019-05-15T15:21:18Z", "Codertocat")
    assert (payload["number"], pr["number"], pr["title"], pr["body"]) == (42, 42, "Fix it", None)
    assert (pr["user"]["login"], pr["user"]["id"], pr["user"]["type"]) == ("alice", 7, "Bot")
    assert payload["repository"]["full_name"] == pr["base"]["repo"]["full_name"] == "acme/rocket"
    assert pr["html_url"] == "https://github.com/acme/rocket/pull/42"


async def test_store_delivery_stores_once_per_delivery_id(sessionmaker) -> None:
    body = load("issues/opened.payload.json")
    store = {"event": "issues", "headers": {"x-github-event": "issues"}, "body": body, "now": NOW}
    assert await store_delivery(sessionmaker, delivery_id="d-1", **store)
    assert not await store_delivery(sessionmaker, delivery_id="d-1", **store)
    [row] = await all_rows(sessionmaker)
    assert (row.delivery_id, row.event, row.status, row.received_at) == ("d-1", "issues", "pending", NOW)
    assert row.body == body


async def test_store_deliveries_counts_a_repeated_id_in_one_batch_once(sessionmaker) -> None:
    def delivery(delivery_id: str) -> webhooks.Delivery:
        return webhooks.Delivery(delivery_id, "issues", {}, b"{}", NOW)

    await store_delivery(sessionmaker, delivery_id="old", event="issues", headers={}, body=b"{}", now=NOW)
    stored = await webhooks.store_deliveries(
        sessionmaker, [delivery("a"), delivery("old"), delivery("a"), delivery("b")]
    )
    assert stored == [True, False, False, True]
    assert await row_count(sessionmaker) == 3


@pytest.mark.parametrize("limits", [{}, {"max_batch": 3}, {"max_batch_bytes": 1}])
async def test_writer_answers_every_concurrent_store_once_committed(sessionmaker, limits: dict[str, int]) -> None:
    writer = webhooks.DeliveryWriter(sessionmaker, **limits)
    ids = [f"d-{n % 20}" for n in range(30)]  # 20 distinct ids, 10 of them twice

    async def store(delivery_id: str, delay: float) -> bool:
        await asyncio.sleep(delay)  # arrive while earlier batches are committing
        return await writer.store(webhooks.Delivery(delivery_id, "issues", {}, b"{}", NOW))

    results = await asyncio.gather(*(store(d, (n % 3) * 0.001) for n, d in enumerate(ids)))
    assert sum(results) == 20
    assert {d for d, new in zip(ids, results, strict=True) if new} == set(ids)
    assert await row_count(sessionmaker) == 20


async def test_writer_passes_a_storage_error_to_its_callers(empty_db_url: str) -> None:
    broken = create_engine(empty_db_url)  # unmigrated, no tables: every insert fails
    try:
        writer = webhooks.DeliveryWriter(create_sessionmaker(broken))
        with pytest.raises(DBAPIError) as raised:
            await writer.store(webhooks.Delivery("d-1", "issues", {}, b"{}", NOW))
        assert webhooks.is_database_fault(raised.value)
    finally:
        await broken.dispose()


# --- Over HTTP: every refusal, in the order the handler checks.


async def test_without_a_secret_the_endpoint_is_503_and_says_why(engine, sessionmaker) -> None:
    body = load("issues/opened.payload.json")
    async with TestClient(TestServer(build_app(engine))) as client:
        response = await client.post(URL, data=body, headers=github_headers(body, event="issues"))
        assert response.status == 503
        assert "GITHUB_WEBHOOK_SECRET" in (await response.json())["error"]
    assert await row_count(sessionmaker) == 0


async def test_healthz_still_answers_with_webhooks_configured(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200


async def test_other_content_types_are_415(client: TestClient) -> None:
    body = load("issues/opened.payload.json")
    response = await client.post(URL, data=body, headers=github_headers(body, content_type="text/plain"))
    assert response.status == 415
    assert (await response.json())["ok"] is False


async def test_a_body_over_25_mb_is_413(client: TestClient, sessionmaker) -> None:
    body = bytes(MAX_WEBHOOK_BODY + 1)  # zeros: calloc'd, and refused on Content-Length before any hashing
    response = await client.post(URL, data=body, headers=github_headers(b"", event="issues"))
    assert response.status == 413
    assert "25 MB" in (await response.json())["error"]
    assert await row_count(sessionmaker) == 0


async def test_a_chunked_body_over_25_mb_is_413(client: TestClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        chunk = bytes(1024**2)
        for _ in range(25):
            yield chunk
        yield b"{}"

    response = await client.post(URL, data=chunks(), headers=github_headers(b"", event="issues"))
    assert response.status == 413
    assert "25 MB" in (await response.json())["error"]


async def test_missing_signature_is_401(client: TestClient, sessionmaker) -> None:
    body = load("issues/opened.payload.json")
    headers = github_headers(body, event="issues")
    del headers["X-Hub-Signature-256"]
    response = await client.post(URL, data=body, headers=headers)
    assert response.status == 401
    assert "X-Hub-Signature-256" in (await response.json())["error"]
    assert await row_count(sessionmaker) == 0


async def test_wrong_signature_is_401_and_stores_nothing(client: TestClient, sessionmaker, wakeups) -> None:
    first = load("issues/opened.payload.json")
    await client.post(URL, data=first, headers=github_headers(first, event="issues", delivery="kept"))
    body = load("issues/labeled.payload.json")
    for headers in (
        github_headers(body, event="issues", secret="not-the-secret"),
        github_headers(first, event="issues"),  # a valid signature of other bytes
    ):
        response = await client.post(URL, data=body, headers=headers)
        assert response.status == 401
    assert await row_count(sessionmaker) == 1
    assert wakeups.calls == 1


async def test_signature_is_checked_before_the_body_is_parsed(client: TestClient) -> None:
    body = b"{not json"
    headers = github_headers(body, secret="not-the-secret", event=None)
    response = await client.post(URL, data=body, headers=headers)
    assert response.status == 401


@pytest.mark.parametrize("missing", ["event", "delivery"])
async def test_missing_event_or_delivery_header_is_400(client: TestClient, sessionmaker, missing: str) -> None:
    body = load("issues/opened.payload.json")
    response = await client.post(URL, data=body, headers=github_headers(body, **{missing: None}))
    assert response.status == 400
    assert f"X-GitHub-{missing.capitalize()}" in (await response.json())["error"]
    assert await row_count(sessionmaker) == 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"action": "opened", '),
        ("application/json", b'"a string"'),
        ("application/x-www-form-urlencoded", b"action=opened"),
        ("application/x-www-form-urlencoded", b"payload=%7B%22action%22"),
    ],
)
async def test_a_signed_body_that_is_not_a_payload_is_400(
    client: TestClient, sessionmaker, wakeups, content_type: str, body: bytes
) -> None:
    response = await client.post(URL, data=body, headers=github_headers(body, content_type=content_type))
    assert response.status == 400
    assert (await response.json())["error"]
    assert await row_count(sessionmaker) == 0
    assert wakeups.calls == 0


async def test_ping_is_answered_with_zen_and_not_stored(client: TestClient, sessionmaker, wakeups) -> None:
    body = load("ping/payload.json")
    response = await client.post(URL, data=body, headers=github_headers(body, event="ping"))
    assert response.status == 200
    assert await response.json() == {"ok": True, "zen": "Anything added dilutes everything else."}
    assert await row_count(sessionmaker) == 0
    assert wakeups.calls == 0


# --- Storing.


async def test_a_delivery_is_stored_with_its_raw_body_before_the_202(client: TestClient, sessionmaker) -> None:
    body = merged_pr_payload(number=7)
    headers = github_headers(body, delivery="d-merged")
    response = await client.post(URL, data=body, headers=headers)
    assert response.status == 202
    assert await response.json() == {"ok": True, "delivery": "d-merged"}
    [row] = await all_rows(sessionmaker)
    assert (row.delivery_id, row.event, row.status, row.attempts) == ("d-merged", "pull_request", "pending", 0)
    assert row.received_at == NOW  # the app's clock, never the wall clock
    assert row.body == body
    assert row.headers == {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/044aadd",
        "x-github-event": "pull_request",
        "x-github-delivery": "d-merged",
        "x-github-hook-id": "292430182",
    }


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("pull_request/opened.payload.json", "pull_request"),
        ("pull_request/closed.payload.json", "pull_request"),
        ("issues/opened.payload.json", "issues"),
        ("issues/labeled.payload.json", "issues"),
        ("release/published.payload.json", "release"),
    ],
)
async def test_real_payloads_are_accepted(client: TestClient, sessionmaker, name: str, event: str) -> None:
    body = load(name)
    response = await client.post(URL, data=body, headers=github_headers(body, event=event))
    assert response.status == 202
    [row] = await all_rows(sessionmaker)
    assert (row.event, row.body) == (event, body)


async def test_a_form_encoded_delivery_is_signed_over_the_raw_form_body(client: TestClient, sessionmaker) -> None:
    form = urlencode({"payload": load("issues/labeled.payload.json").decode()}).encode()
    headers = github_headers(form, event="issues", content_type="application/x-www-form-urlencoded")
    response = await client.post(URL, data=form, headers=headers)
    assert response.status == 202
    [row] = await all_rows(sessionmaker)
    assert row.body == form
    assert row.headers["content-type"] == "application/x-www-form-urlencoded"


async def test_a_redelivery_is_200_duplicate_and_stored_once(client: TestClient, sessionmaker, wakeups) -> None:
    body = load("release/published.payload.json")
    headers = github_headers(body, event="release", delivery="d-again")
    first = await client.post(URL, data=body, headers=headers)
    again = await client.post(URL, data=body, headers=headers)
    assert first.status == 202
    assert again.status == 200
    assert (await again.json())["duplicate"] is True
    assert await row_count(sessionmaker) == 1
    assert wakeups.calls == 1


async def test_concurrent_identical_deliveries_store_one_row(client: TestClient, sessionmaker, wakeups) -> None:
    body = load("pull_request/opened.payload.json")
    headers = github_headers(body, delivery="d-race")
    responses = await asyncio.gather(*(client.post(URL, data=body, headers=headers) for _ in range(10)))
    assert sorted(r.status for r in responses) == [200] * 9 + [202]
    assert await row_count(sessionmaker) == 1
    assert wakeups.calls == 1


async def test_on_delivery_is_called_once_per_stored_delivery(client: TestClient, wakeups) -> None:
    body = load("issues/opened.payload.json")
    for n in range(3):
        await client.post(URL, data=body, headers=github_headers(body, event="issues", delivery=f"d-{n}"))
        assert wakeups.calls == n + 1
    await client.post(URL, data=body, headers=github_headers(body, event="issues", delivery="d-0"))
    assert wakeups.calls == 3


async def test_a_storage_failure_is_500_with_a_json_error(unreachable_db_url: str, wakeups) -> None:
    broken = create_engine(unreachable_db_url, create_folder=False)
    body = load("issues/opened.payload.json")
    try:
        app = build_app(broken, webhook_secret=SECRET, on_delivery=wakeups)
        async with TestClient(TestServer(app)) as client:
            response = await client.post(URL, data=body, headers=github_headers(body, event="issues"))
            assert response.status == 500
            assert "redeliver" in (await response.json())["error"]
    finally:
        await broken.dispose()
    assert wakeups.calls == 0


async def test_a_failing_wakeup_does_not_fail_a_stored_delivery(engine, sessionmaker) -> None:
    def broken() -> None:
        raise RuntimeError("processor gone")

    body = load("issues/opened.payload.json")
    app = build_app(engine, sessionmaker=sessionmaker, webhook_secret=SECRET, on_delivery=broken)
    async with TestClient(TestServer(app)) as client:
        response = await client.post(URL, data=body, headers=github_headers(body, event="issues"))
    assert response.status == 202
    assert await row_count(sessionmaker) == 1


# --- Raw HTTP: bytes no HTTP client library would send (headers that are not UTF-8, repeated headers).


def raw_request(body: bytes, *headers: tuple[bytes, bytes], sign_as: str | None = SECRET) -> bytes:
    """Return a POST of `body` with exactly these headers, signed unless `sign_as` is None."""
    lines = [b"POST " + URL.encode() + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    if sign_as is not None:
        lines.append(b"X-Hub-Signature-256: " + sign(sign_as, body).encode())
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def standard(
    *, event: bytes = b"issues", delivery: bytes = b"d-raw", content_type: bytes = b"application/json"
) -> list[tuple[bytes, bytes]]:
    return [(b"Content-Type", content_type), (b"X-GitHub-Event", event), (b"X-GitHub-Delivery", delivery)]


async def send_raw(port: int, request: bytes, *, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; return the answer's status, headers and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(read_answer(reader), timeout)
    finally:
        writer.close()


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Read one answer by its Content-Length: the server may keep reading an unread body after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in header_lines)}
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return int(status_line.split()[1]), headers, body


@pytest.fixture
async def kept(client: TestClient, sessionmaker) -> WebhookDelivery:
    """A delivery stored before the test: bad input must leave it as it is."""
    body = load("issues/opened.payload.json")
    response = await client.post(URL, data=body, headers=github_headers(body, event="issues", delivery="kept"))
    assert response.status == 202
    [row] = await all_rows(sessionmaker)
    return row


async def assert_only(sessionmaker, kept: WebhookDelivery) -> None:
    [row] = await all_rows(sessionmaker)
    assert (row.delivery_id, row.event, row.headers, row.body, row.status) == (
        kept.delivery_id,
        kept.event,
        kept.headers,
        kept.body,
        kept.status,
    )


# --- 4. One bad delivery fails alone; the deliveries committed with it are stored.


async def test_a_header_that_is_not_utf8_is_400_and_the_rest_of_its_batch_is_stored(
    client: TestClient, sessionmaker, db_url: str
) -> None:
    body = load("issues/opened.payload.json")

    async def post(delivery: str) -> int:
        response = await client.post(URL, data=body, headers=github_headers(body, event="issues", delivery=delivery))
        return response.status

    # The database's write lock, held here, keeps the first commit waiting: the deliveries behind
    # it, the bad one among them, queue up and are committed together.
    async with database_locked(db_url):
        first = asyncio.ensure_future(post("first"))
        await asyncio.sleep(0.2)
        good = [asyncio.ensure_future(post(f"good-{n}")) for n in range(10)]
        bad = asyncio.ensure_future(send_raw(client.server.port, raw_request(body, *standard(delivery=b"d-\xff\xfe"))))
        await asyncio.sleep(0.3)
    status, _, answer = await bad
    assert status == 400
    assert "X-GitHub-Delivery" in json.loads(answer)["error"]
    assert await first == 202
    assert await asyncio.gather(*good) == [202] * 10
    assert await row_count(sessionmaker) == 11


async def test_writer_refuses_a_delivery_it_cannot_store_before_it_joins_a_batch(sessionmaker) -> None:
    writer = webhooks.DeliveryWriter(sessionmaker)
    deliveries = [
        webhooks.Delivery("a", "issues", {}, b"{}", NOW),
        webhooks.Delivery("b-\udcff", "issues", {}, b"{}", NOW),  # a header byte that was not UTF-8
        webhooks.Delivery("c", "issues", {"user-agent": "\udcff"}, b"{}", NOW),
        webhooks.Delivery("d", "issues", {}, b"{}", NOW),
    ]
    results = await asyncio.gather(*(writer.store(d) for d in deliveries), return_exceptions=True)
    assert results[0] is True and results[3] is True
    assert all(isinstance(result, webhooks.InvalidDelivery) for result in results[1:3])
    assert [row.delivery_id for row in await all_rows(sessionmaker)] == ["a", "d"]


async def test_writer_stores_a_failed_batch_one_by_one_so_only_the_bad_delivery_fails(sessionmaker) -> None:
    # A delivery the database refuses for a reason no check foresaw: a trigger stands in for it.
    async with transaction(sessionmaker) as session:
        await add_poison_trigger(
            session, "refuse_poison", "BEFORE INSERT", "webhook_deliveries", "NEW.delivery_id = 'poison'"
        )
    writer = webhooks.DeliveryWriter(sessionmaker)
    ids = ["a", "poison", "b", "a", "c"]
    results = await asyncio.gather(
        *(writer.store(webhooks.Delivery(d, "issues", {}, b"{}", NOW)) for d in ids), return_exceptions=True
    )
    assert isinstance(results[1], IntegrityError)
    assert [results[0], results[2], results[3], results[4]] == [True, True, False, True]
    assert [row.delivery_id for row in await all_rows(sessionmaker)] == ["a", "b", "c"]


async def test_writer_does_not_retry_one_by_one_when_the_database_itself_fails(empty_db_url: str) -> None:
    broken = create_engine(empty_db_url)  # unmigrated, no tables: every insert fails
    begins = []
    event.listen(broken.sync_engine, "begin", lambda conn: begins.append(conn))
    try:
        writer = webhooks.DeliveryWriter(create_sessionmaker(broken))
        results = await asyncio.gather(
            *(writer.store(webhooks.Delivery(f"d-{n}", "issues", {}, b"{}", NOW)) for n in range(5)),
            return_exceptions=True,
        )
    finally:
        await broken.dispose()
    assert all(isinstance(result, DBAPIError) and webhooks.is_database_fault(result) for result in results)
    assert len(begins) == 1  # one failed commit for all five: every delivery would fail the same way


async def test_writer_does_not_retry_one_by_one_when_the_database_cannot_be_reached(unreachable_db_url: str) -> None:
    # No connection, so no transaction to count: a retry one by one would answer each its own error.
    broken = create_engine(unreachable_db_url, create_folder=False)
    try:
        writer = webhooks.DeliveryWriter(create_sessionmaker(broken))
        results = await asyncio.gather(
            *(writer.store(webhooks.Delivery(f"d-{n}", "issues", {}, b"{}", NOW)) for n in range(5)),
            return_exceptions=True,
        )
    finally:
        await broken.dispose()
        await asyncio.sleep(0.1)  # aiosqlite stops a failed connection's thread a moment later: not after the loop
    assert all(isinstance(result, Exception) and webhooks.is_database_fault(result) for result in results)
    assert len({id(result) for result in results}) == 1  # one failed try for all five


# --- 9. Nasty input is a 4xx and changes nothing; never a 500.


def nested(depth: int) -> bytes:
    """A JSON object nested `depth` deep: the object, then lists."""
    return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


DEEP = nested(200_000)
FORM = b"application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        pytest.param(DEEP, standard(), 400, id="json-nested-200000-deep"),
        pytest.param(b"payload=" + quote(DEEP).encode(), standard(content_type=FORM), 400, id="form-nested-deep"),
        pytest.param(b'{"a": NaN}', standard(), 400, id="nan"),
        pytest.param(b'{"a": -Infinity}', standard(), 400, id="infinity"),
        pytest.param(b'{"a": 1e400}', standard(), 400, id="float-too-large"),
        pytest.param(b'{"a": ' + b"9" * 10_000 + b"}", standard(), 400, id="huge-integer"),
        pytest.param(b'{"a": "\\ud800"}', standard(), 400, id="lone-surrogate-escape"),
        pytest.param(b'{"a": [{"\\udfff": 1}]}', standard(), 400, id="lone-surrogate-in-a-key"),
        pytest.param(nested(webhooks.MAX_DEPTH + 1), standard(), 400, id="json-nested-101-deep"),
        pytest.param(nested(985), standard(), 400, id="json-nested-near-the-parser-limit"),
        pytest.param(b"[1, 2]", standard(), 400, id="json-array"),
        pytest.param(b"", standard(), 400, id="empty-body"),
        pytest.param('{"a": 1}'.encode("utf-16"), standard(), 400, id="utf16-json"),
        pytest.param(b"payload=\xff", standard(content_type=FORM), 400, id="form-not-utf8"),
        pytest.param(b"payload=%7B%22a%22%3A%22%FF%22%7D", standard(content_type=FORM), 400, id="form-escape-not-utf8"),
        pytest.param(b"{}", standard(delivery=b"\xff\xfe"), 400, id="delivery-not-utf8"),
        pytest.param(b"{}", standard(event=b"issues\xff"), 400, id="event-not-utf8"),
        pytest.param(b"{}", [*standard(), (b"User-Agent", b"Hookshot \xff")], 400, id="user-agent-not-utf8"),
        pytest.param(b"{}", [*standard(), (b"X-GitHub-Hook-ID", b"\xc3\x28")], 400, id="hook-id-not-utf8"),
        pytest.param(b"{}", standard(content_type=b"application/json; charset=\xff"), 400, id="charset-not-utf8"),
        pytest.param(b"{}", standard(event=b"ping\xff"), 400, id="ping-not-utf8"),
        pytest.param(b"{}", [*standard(), (b"X-GitHub-Delivery", b"other")], 400, id="delivery-twice"),
        pytest.param(b"{}", [*standard(), (b"X-GitHub-Event", b"release")], 400, id="event-twice"),
        pytest.param(
            b"{}", [*standard(), (b"X-GitHub-Hook-ID", b"1"), (b"X-GitHub-Hook-ID", b"2")], 400, id="hook-twice"
        ),
        pytest.param(b"{}", standard(delivery=b"     "), 400, id="delivery-only-spaces"),
        pytest.param(b"{}", standard(delivery=b"a b"), 400, id="delivery-with-a-space"),
        pytest.param(b"{}", [*standard(), (b"X-Hub-Signature-256", b"sha256=" + b"0" * 64)], 401, id="signature-twice"),
    ],
)
async def test_nasty_input_is_refused_and_changes_nothing(
    client: TestClient, sessionmaker, wakeups, kept: WebhookDelivery, body: bytes, headers, status: int
) -> None:
    answer_status, _, answer = await send_raw(client.server.port, raw_request(body, *headers))
    assert answer_status == status
    assert json.loads(answer)["ok"] is False
    await assert_only(sessionmaker, kept)
    assert wakeups.calls == 1  # the kept delivery's


# --- 5. A delivery that keeps failing is retried a few times, then failed; the next ones go on.

GUILD = 1000
OCTO_ID = 21031067  # the author of the fixture's pull request


async def link_codertocat(sessionmaker) -> None:
    async with transaction(sessionmaker) as session:
        await guilds.ensure_guild(session, GUILD)
        session.add(GitHubProfile(id=OCTO_ID, login="Codertocat", history_status="done"))
        session.add(
            GitHubAccount(guild_id=GUILD, user_id=11, github_id=OCTO_ID, login="Codertocat", login_lower="codertocat")
        )


async def delivery_rows(sessionmaker) -> dict[str, tuple[str, int, str | None]]:
    return {row.delivery_id: (row.status, row.attempts, row.error) for row in await all_rows(sessionmaker)}


@pytest.mark.parametrize(
    "trigger",
    [
        # While applying the event (inside its savepoint): recording PR #666 fails.
        ("BEFORE INSERT", "merged_prs", "NEW.number = 666"),
        # While committing it: marking the delivery done fails.
        ("BEFORE UPDATE OF status", "webhook_deliveries", "NEW.delivery_id = 'poison' AND NEW.status = 'done'"),
    ],
    ids=["applying", "committing"],
)
async def test_a_delivery_failing_with_a_database_error_is_failed_after_a_few_tries_and_the_next_goes_on(
    sessionmaker, trigger: tuple[str, str, str]
) -> None:
    await link_codertocat(sessionmaker)
    async with transaction(sessionmaker) as session:
        # A real database error of the kind that may pass, for one delivery only.
        message = await add_poison_trigger(session, "poison", *trigger, fault=True)
    for delivery_id, number in (("poison", 666), ("good", 7)):
        body = merged_pr_payload(number=number)
        assert await store_delivery(
            sessionmaker, delivery_id=delivery_id, event="pull_request", headers={}, body=body, now=NOW
        )

    for attempt in range(1, events.MAX_ATTEMPTS):
        with pytest.raises(DBAPIError) as raised:  # raised: the processing loop backs off before the next try
            await events.process_batch(sessionmaker, now=NOW, limit=1)
        assert webhooks.is_database_fault(raised.value)
        status, attempts, error = (await delivery_rows(sessionmaker))["poison"]
        assert (status, attempts) == ("pending", attempt)  # counted, although the attempt rolled back
        assert message in error
    assert await events.process_batch(sessionmaker, now=NOW, limit=1)  # the last try: failed, not raised
    assert await events.process_batch(sessionmaker, now=NOW, limit=1)  # the next delivery
    assert not await events.process_batch(sessionmaker, now=NOW, limit=1)
    rows = await delivery_rows(sessionmaker)
    assert rows["poison"][:2] == ("failed", events.MAX_ATTEMPTS)
    assert message in rows["poison"][2]
    assert rows["good"] == ("done", 1, None)
    async with transaction(sessionmaker) as session:
        numbers = (await session.scalars(select(MergedPullRequest.number))).all()
    assert numbers == [7]


async def test_a_database_that_is_down_uses_up_no_attempts(sessionmaker, db_url: str) -> None:
    body = load("issues/opened.payload.json")
    await store_delivery(sessionmaker, delivery_id="d-1", event="issues", headers={}, body=body, now=NOW)
    impatient = impatient_engine(db_url)
    try:
        async with database_locked(db_url, reads_too=True):  # the database answers nobody else
            for _ in range(events.MAX_ATTEMPTS * 2):
                with pytest.raises(DBAPIError) as raised:
                    await events.process_batch(create_sessionmaker(impatient), now=NOW, limit=1)
                assert webhooks.is_database_fault(raised.value)
    finally:
        await impatient.dispose()
    assert (await delivery_rows(sessionmaker))["d-1"] == ("pending", 0, None)
    assert await events.process_batch(sessionmaker, now=NOW, limit=1)
    assert (await delivery_rows(sessionmaker))["d-1"] == ("done", 1, None)


async def test_a_delivery_whose_tries_never_finished_is_failed_when_claimed_again(sessionmaker) -> None:
    # Each earlier try was counted and then the process stopped before it could record an outcome.
    body = load("issues/opened.payload.json")
    await store_delivery(sessionmaker, delivery_id="d-1", event="issues", headers={}, body=body, now=NOW)
    async with transaction(sessionmaker) as session:
        await session.execute(update(WebhookDelivery).values(attempts=events.MAX_ATTEMPTS))
    assert await events.process_batch(sessionmaker, now=NOW, limit=1)
    status, attempts, error = (await delivery_rows(sessionmaker))["d-1"]
    assert (status, attempts) == ("failed", events.MAX_ATTEMPTS)
    assert "attempts" in error


# --- 10. Unverified bodies: bounded memory, all requests together.


def big_signed_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes."""
    return b'{"pad": "' + b"x" * (size - 11) + b'"}'


@pytest.mark.slow
async def test_concurrent_unverified_bodies_stay_within_the_buffer_budget_and_a_signed_one_still_fits(
    engine, sessionmaker
) -> None:
    app = build_app(engine, sessionmaker=sessionmaker, webhook_secret=SECRET)
    budget = app[WEBHOOK_KEY].budget
    assert budget.limit == MAX_UNVERIFIED_BYTES >= MAX_WEBHOOK_BODY
    size, sent_first = 8 * 1024**2, 6 * 1024**2
    connections = 12  # 12 x 6 MB sent at once: more than the 64 MB budget
    body = bytes(size)
    head = raw_request(body, *standard(), sign_as="not-the-secret")[: -len(body)]
    async with TestClient(TestServer(app)) as client:
        streams = [await asyncio.open_connection("127.0.0.1", client.server.port) for _ in range(connections)]
        for _, writer in streams:
            writer.write(head + body[:sent_first])
        await asyncio.gather(*(writer.drain() for _, writer in streams))
        # Wait until the server has taken in what it will: the budget is full and stops moving.
        assert await eventually(lambda: budget.peak > budget.limit - 1024**2, timeout=20)
        last = -1
        while budget.held != last:
            last = budget.held
            await asyncio.sleep(0.3)
        assert budget.peak <= budget.limit

        async def finish(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, dict[str, str]]:
            with contextlib.suppress(ConnectionError):  # a refused upload may be cut off
                writer.write(body[sent_first:])
                await writer.drain()
            status, headers, _ = await asyncio.wait_for(read_answer(reader), 20)
            writer.close()
            return status, headers

        answers = await asyncio.gather(*(finish(*stream) for stream in streams))
        statuses = sorted(status for status, _ in answers)
        assert set(statuses) == {401, 503}
        assert all(headers.get("retry-after") for status, headers in answers if status == 503)
        assert budget.held == 0
        assert budget.peak <= budget.limit

        signed = big_signed_body(MAX_WEBHOOK_BODY)
        response = await client.post(URL, data=signed, headers=github_headers(signed, delivery="d-big"))
        assert response.status == 202
        assert budget.held == 0
    [row] = await all_rows(sessionmaker)
    assert (row.delivery_id, hashlib.sha256(row.body).digest()) == ("d-big", hashlib.sha256(signed).digest())


async def test_a_missing_or_malformed_signature_is_401_before_the_body_is_read(client: TestClient) -> None:
    for signature in (None, "sha256=not-hex", "sha1=" + "0" * 40):
        lines = [b"POST /github/webhook HTTP/1.1", b"Host: x", b"Connection: close", b"Content-Type: application/json"]
        lines += [b"X-GitHub-Event: issues", b"X-GitHub-Delivery: d-1", b"Content-Length: 1000000"]
        if signature is not None:
            lines.append(b"X-Hub-Signature-256: " + signature.encode())
        # Only the headers: an answer proves the body was not waited for.
        status, _, _ = await send_raw(client.server.port, b"\r\n".join(lines) + b"\r\n\r\n", timeout=3)
        assert status == 401
        assert client.app[WEBHOOK_KEY].budget.peak == 0


async def test_a_body_that_stalls_is_408_and_gives_its_bytes_back(engine, sessionmaker) -> None:
    app = build_app(engine, sessionmaker=sessionmaker, webhook_secret=SECRET, body_timeout=0.3)
    body = b'{"action": "opened"}'
    async with TestClient(TestServer(app)) as client:
        status, _, answer = await send_raw(client.server.port, raw_request(body, *standard())[:-5], timeout=5)
        assert status == 408
        assert json.loads(answer)["ok"] is False
        assert app[WEBHOOK_KEY].budget.held == 0
    assert await row_count(sessionmaker) == 0


async def test_a_body_that_breaks_off_gives_its_bytes_back(client: TestClient, caplog) -> None:
    body = bytes(1024**2)
    _, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(raw_request(body, *standard())[: -len(body) // 2])
    await writer.drain()
    budget = client.app[WEBHOOK_KEY].budget
    assert await eventually(lambda: budget.held > 0)
    writer.close()
    assert await eventually(lambda: budget.held == 0)
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


# --- 6. Retention: processed bodies go after DELIVERY_RETENTION_DAYS; the delivery id stays for dedupe.


async def test_retention_drops_only_processed_bodies_past_the_window_and_a_redelivery_is_still_200(
    client: TestClient, sessionmaker, wakeups
) -> None:
    old = NOW - timedelta(days=15)
    bodies = {}
    for delivery, event_name, path in [
        ("old-done", "release", "release/published.payload.json"),
        ("old-failed", "issues", "issues/opened.payload.json"),
        ("recent-done", "issues", "issues/labeled.payload.json"),
        ("old-pending", "pull_request", "pull_request/opened.payload.json"),
    ]:
        body = bodies[delivery] = load(path)
        response = await client.post(URL, data=body, headers=github_headers(body, event=event_name, delivery=delivery))
        assert response.status == 202
    table = WebhookDelivery.__table__
    async with transaction(sessionmaker) as session:
        for delivery, status, processed_at in [
            ("old-done", "done", old),
            ("old-failed", "failed", old),
            ("recent-done", "done", NOW - timedelta(days=13)),
        ]:
            await session.execute(
                update(table).where(table.c.delivery_id == delivery).values(status=status, processed_at=processed_at)
            )
        # Pending for weeks (a processor that was down): received long ago, never processed.
        await session.execute(update(table).where(table.c.delivery_id == "old-pending").values(received_at=old))

    result = await retention.prune(sessionmaker, days=14, now=NOW)

    assert (result.bodies, result.batches) == (2, 1)
    rows = {row.delivery_id: row for row in await all_rows(sessionmaker)}
    assert rows["old-done"].body == b"" and rows["old-failed"].body == b""
    assert rows["recent-done"].body == bodies["recent-done"]
    assert rows["old-pending"].body == bodies["old-pending"]
    # What stays of a pruned delivery: its id, event, status and GitHub's headers (never a signature).
    assert rows["old-done"].headers["x-github-delivery"] == "old-done"
    assert not any("signature" in name for name in rows["old-done"].headers)
    assert rows["old-failed"].status == "failed"

    # GitHub redelivers the pruned one: seen before, 200, nothing stored, nothing woken.
    calls = wakeups.calls
    body = bodies["old-done"]
    again = await client.post(URL, data=body, headers=github_headers(body, event="release", delivery="old-done"))
    assert again.status == 200
    assert (await again.json())["duplicate"] is True
    assert await row_count(sessionmaker) == 4
    assert wakeups.calls == calls
    [row] = [r for r in await all_rows(sessionmaker) if r.delivery_id == "old-done"]
    assert (row.body, row.status) == (b"", "done")
    # A second pass finds nothing left to do.
    assert await retention.prune(sessionmaker, days=14, now=NOW) == retention.Pruned()


async def test_retention_drops_bodies_in_bounded_batches(sessionmaker) -> None:
    body = load("pull_request/closed.payload.json")
    async with transaction(sessionmaker) as session:
        session.add_all(
            WebhookDelivery(
                delivery_id=f"d{n}",
                event="pull_request",
                headers={},
                body=body,
                status="done",
                received_at=NOW - timedelta(days=30),
                processed_at=NOW - timedelta(days=30),
            )
            for n in range(23)
        )
    batches: list[int] = []

    @event.listens_for(sessionmaker.kw["bind"].sync_engine, "commit")
    def count(_conn) -> None:
        batches.append(1)

    result = await retention.prune(sessionmaker, days=14, now=NOW, batch=10)
    event.remove(sessionmaker.kw["bind"].sync_engine, "commit", count)
    assert (result.bodies, result.batches) == (23, 3)  # 10 + 10 + 3, each its own transaction
    assert len(batches) >= 3
    assert {row.body for row in await all_rows(sessionmaker)} == {b""}


async def test_a_batch_with_one_bad_delivery_processes_the_rest_and_counts_the_bad_ones_attempt(sessionmaker) -> None:
    await link_codertocat(sessionmaker)
    async with transaction(sessionmaker) as session:
        # A real database error for PR #666 only (see the test above), and a body no code can read.
        message = await add_poison_trigger(
            session, "poison", "BEFORE INSERT", "merged_prs", "NEW.number = 666", fault=True
        )
    deliveries = [("good-1", merged_pr_payload(number=1)), ("poison", merged_pr_payload(number=666))]
    deliveries += [("unreadable", b"{not json"), ("good-2", merged_pr_payload(number=2))]
    for delivery_id, body in deliveries:
        assert await store_delivery(
            sessionmaker, delivery_id=delivery_id, event="pull_request", headers={}, body=body, now=NOW
        )

    with pytest.raises(DBAPIError) as raised:  # raised once the others are through: the loop backs off
        await events.process_batch(sessionmaker, now=NOW)
    assert webhooks.is_database_fault(raised.value)
    rows = await delivery_rows(sessionmaker)
    assert rows["good-1"] == ("done", 1, None) and rows["good-2"] == ("done", 1, None)
    assert rows["unreadable"][:2] == ("failed", 1)  # failed alone, at once
    status, attempts, error = rows["poison"]
    assert (status, attempts) == ("pending", 1) and message in error
    async with transaction(sessionmaker) as session:
        assert sorted((await session.scalars(select(MergedPullRequest.number))).all()) == [1, 2]

    # Its later tries are batches of one; at the last it is failed, not raised.
    for _ in range(2, events.MAX_ATTEMPTS):
        with pytest.raises(DBAPIError) as raised:
            await events.process_batch(sessionmaker, now=NOW)
        assert webhooks.is_database_fault(raised.value)
    assert await events.process_batch(sessionmaker, now=NOW) == 1
    assert await events.process_batch(sessionmaker, now=NOW) == 0
    assert (await delivery_rows(sessionmaker))["poison"][:2] == ("failed", events.MAX_ATTEMPTS)


async def test_a_batch_applies_many_deliveries_in_one_transaction(sessionmaker) -> None:
    await link_codertocat(sessionmaker)
    for number in range(1, 26):
        assert await store_delivery(
            sessionmaker,
            delivery_id=f"d-{number}",
            event="pull_request",
            headers={},
            body=merged_pr_payload(number=number),
            now=NOW,
        )
    assert await events.process_batch(sessionmaker, now=NOW) == events.BATCH_SIZE
    assert await events.process_batch(sessionmaker, now=NOW) == 25 - events.BATCH_SIZE
    assert await events.process_batch(sessionmaker, now=NOW) == 0
    assert {row[:2] for row in (await delivery_rows(sessionmaker)).values()} == {("done", 1)}
