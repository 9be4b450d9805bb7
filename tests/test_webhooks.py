"""GitHub webhook intake: signatures, the status of every refusal, storing once, on a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.models import WebhookDelivery
from bot.db.session import create_engine, create_sessionmaker, transaction
from bot.services.github import webhooks
from bot.web import MAX_WEBHOOK_BODY, build_app
from tests.conftest import NOW
from tests.github_fixtures import load, merged_pr_payload, sign

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
    app = build_app(engine, sessionmaker=sessionmaker, webhook_secret=SECRET, on_delivery=wakeups)
    async with TestClient(TestServer(app)) as client:
        yield client


# --- The service on its own.


def test_signature_matches_githubs_documented_example() -> None:
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert webhooks.verify_signature("It's a Secret to Everybody", b"Hello, World!", signature)


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
    assert not webhooks.verify_signature("It's a Secret to Everybody", b"Hello, World!", header)


def test_signature_refuses_an_empty_secret() -> None:
    assert not webhooks.verify_signature("", b"Hello, World!", sign("", b"Hello, World!"))


def test_signature_covers_every_byte() -> None:
    body = load("issues/opened.payload.json")
    assert webhooks.verify_signature(SECRET, body, sign(SECRET, body))
    assert not webhooks.verify_signature(SECRET, body + b" ", sign(SECRET, body))
    assert not webhooks.verify_signature("other-secret", body, sign(SECRET, body))


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
    assert await webhooks.store_delivery(sessionmaker, delivery_id="d-1", **store)
    assert not await webhooks.store_delivery(sessionmaker, delivery_id="d-1", **store)
    [row] = await all_rows(sessionmaker)
    assert (row.delivery_id, row.event, row.status, row.received_at) == ("d-1", "issues", "pending", NOW)
    assert row.body == body


async def test_store_deliveries_counts_a_repeated_id_in_one_batch_once(sessionmaker) -> None:
    def delivery(delivery_id: str) -> webhooks.Delivery:
        return webhooks.Delivery(delivery_id, "issues", {}, b"{}", NOW)

    await webhooks.store_delivery(sessionmaker, delivery_id="old", event="issues", headers={}, body=b"{}", now=NOW)
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


async def test_writer_passes_a_storage_error_to_its_callers(tmp_path) -> None:
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path}/unmigrated.db")  # no tables: every insert fails
    try:
        writer = webhooks.DeliveryWriter(create_sessionmaker(broken))
        with pytest.raises(OperationalError):
            await writer.store(webhooks.Delivery("d-1", "issues", {}, b"{}", NOW))
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


async def test_a_storage_failure_is_500_with_a_json_error(tmp_path, wakeups) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    broken = create_async_engine(f"sqlite+aiosqlite:///{blocker}/shiplog.db")
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
