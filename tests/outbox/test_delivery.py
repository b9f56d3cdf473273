"""Webhook deliveries to real receivers on loopback: signed, retried, timed out, refused."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as Receiver

from tests.conftest import Tenant, client_of, running_app

NO_WAIT = (0.0,) * 7


class Hooks:
    """A receiver: answers each POST with what `answer` says, keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answer: Callable[[int], tuple[int, dict[str, str], float]] = \
            lambda _: (204, {}, 0.0)
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                hooks.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, headers, delay = hooks.answer(len(hooks.received))
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    receiver = Hooks()
    yield receiver
    receiver.close()


@pytest.fixture
def world(make_settings: Any, database_url: str) -> Iterator[tuple[Any, Any, Tenant]]:
    settings = make_settings(database_url=database_url, log_level="WARNING",
                             webhook_allow_private=True, webhook_allow_http=True,
                             webhook_timeout=3.0)  # lowered from 10 s; ample on loopback
    for application in running_app(settings):
        for test_client in client_of(application):
            yield application, test_client, Tenant(application.state.runtime, "acme")


def dispatch(application: Any, **overrides: Any) -> int:
    from cloudnexus.events.dispatcher import run_once

    runtime = application.state.runtime
    settings = runtime.settings.model_copy(update=overrides)
    return run_once(runtime.session_factory, settings, schedule=NO_WAIT)


def dispatch_until(application: Any, done: Callable[[], bool], **overrides: Any) -> None:
    """Dispatch until `done` (on PostgreSQL an event waits for the horizon: docs/events.md)."""
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, "not delivered"
        if not dispatch(application, **overrides):
            time.sleep(0.05)


def hook(client: Any, tenant: Tenant, url: str, **body: Any) -> dict[str, Any]:
    made = client.post("/v1/webhooks", json={"url": url, **body}, headers=tenant.headers())
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


def deliveries(client: Any, tenant: Tenant, webhook: dict[str, Any]) -> list[dict[str, Any]]:
    return client.get(f"/v1/webhooks/{webhook['id']}/deliveries",  # type: ignore[no-any-return]
                      headers=tenant.headers()).json()["items"]


def test_events_arrive_signed(world: Any, hooks: Hooks) -> None:
    application, client, tenant = world
    webhook = hook(client, tenant, hooks.url, events=["bucket.*"])
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                files={"file": ("a.txt", b"hi", "text/plain")})  # file.*: not subscribed
    client.patch("/v1/buckets/docs", json={"max_file_size": 9}, headers=tenant.headers())
    dispatch_until(application, lambda: len(hooks.received) >= 2)
    time.sleep(0.2)
    dispatch(application)
    assert len(hooks.received) == 2
    pulled = client.get("/v1/events", params={"type": "bucket.*"},
                        headers=tenant.headers()).json()["items"]
    for (headers, body), event in zip(hooks.received, pulled, strict=True):
        verified = Receiver(webhook["secret"]).verify(body, headers)
        assert verified == event  # the body is the Event as GET /v1/events shows it
        assert headers["webhook-id"] == event["id"]
        assert headers["content-type"] == "application/json"
    shown = deliveries(client, tenant, webhook)
    assert len(shown) == 2 and {d["status_code"] for d in shown} == {204}
    assert {d["attempt"] for d in shown} == {1} and all(d["error"] is None for d in shown)


def test_a_failing_receiver_gets_retries_with_the_same_id(world: Any, hooks: Hooks) -> None:
    application, client, tenant = world
    hooks.answer = lambda n: (500 if n < 3 else 200, {}, 0.0)
    webhook = hook(client, tenant, hooks.url)
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    dispatch_until(application, lambda: len(hooks.received) >= 3)
    assert len({headers["webhook-id"] for headers, _ in hooks.received}) == 1
    for headers, body in hooks.received:
        Receiver(webhook["secret"]).verify(body, headers)
    shown = sorted(deliveries(client, tenant, webhook), key=lambda d: d["attempt"])
    assert [(d["attempt"], d["status_code"]) for d in shown] == [(1, 500), (2, 500), (3, 200)]
    assert shown[0]["error"] == "answered 500"


def test_the_retry_schedule(world: Any, hooks: Hooks) -> None:
    from cloudnexus.events.delivery import Outcome
    from cloudnexus.events.dispatcher import JITTER, SCHEDULE, Claimed, record
    from cloudnexus.events.models import WebhookTask

    assert SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)
    application, client, tenant = world
    hooks.answer = lambda _: (503, {}, 0.0)
    webhook = hook(client, tenant, hooks.url)
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    dispatch_until(application, lambda: len(hooks.received) >= 1)
    sessions = application.state.runtime.session_factory
    with sessions() as db:
        task = db.query(WebhookTask).one()
        assert task.attempts == 1
        for attempt in range(2, 9):
            before = time.time()
            record(db, Claimed(task.id, task.webhook_id, attempt, "", [],
                               hooks.received[0][0]["webhook-id"], b""),
                   Outcome(503, "answered 503", 1))
            left = db.get(WebhookTask, task.id)
            if attempt <= len(SCHEDULE):
                assert left is not None
                wait = left.next_at.timestamp() - before
                step = SCHEDULE[attempt - 1]
                assert step * (1 - JITTER) - 1 <= wait <= step * (1 + JITTER) + 1
            else:
                assert left is None  # given up after the seventh retry
    assert len(deliveries(client, tenant, webhook)) == 8


def test_a_slow_receiver_counts_as_failed(world: Any, hooks: Hooks, app_settings: Any) -> None:
    assert app_settings.webhook_timeout == 10  # the default; this test lowers it to 3 s
    application, client, tenant = world
    hooks.answer = lambda n: (200, {}, 4.0 if n == 1 else 0.0)
    webhook = hook(client, tenant, hooks.url)
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    dispatch_until(application, lambda: len(deliveries(client, tenant, webhook)) >= 2)
    shown = sorted(deliveries(client, tenant, webhook), key=lambda d: d["attempt"])
    assert shown[0]["status_code"] is None and "within 3 s" in shown[0]["error"]
    assert shown[1]["status_code"] == 200


def test_redirects_are_not_followed(world: Any, hooks: Hooks) -> None:
    application, client, tenant = world
    hooks.answer = lambda _: (302, {"location": "http://169.254.169.254/latest/meta-data/"}, 0)
    webhook = hook(client, tenant, hooks.url)
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    dispatch_until(application, lambda: len(deliveries(client, tenant, webhook)) >= 1)
    first = deliveries(client, tenant, webhook)[0]
    assert (first["status_code"], first["error"]) == (302, "answered 302")
    assert len(hooks.received) == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_internal_addresses_are_refused_when_connecting(world: Any, hooks: Hooks,
                                                        host: str) -> None:
    """Saved while allowed, refused at delivery once not: the check is made again against
    the address the connection would use (a host resolving to 127.0.0.1 too)."""
    application, client, tenant = world
    url = hooks.url.replace("127.0.0.1", host)
    webhook = hook(client, tenant, url)
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    dispatch_until(application, lambda: len(deliveries(client, tenant, webhook)) >= 1,
                   webhook_allow_private=False)
    first = deliveries(client, tenant, webhook)[0]
    assert first["status_code"] is None and "internal address" in first["error"]
    assert hooks.received == []


def test_rotation_signs_with_both_secrets(world: Any, hooks: Hooks) -> None:
    application, client, tenant = world
    webhook = hook(client, tenant, hooks.url)
    new = client.post(f"/v1/webhooks/{webhook['id']}/rotate-secret",
                      headers=tenant.headers()).json()["secret"]
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    dispatch_until(application, lambda: len(hooks.received) >= 1)
    headers, body = hooks.received[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Receiver(webhook["secret"]).verify(body, headers)
    Receiver(new).verify(body, headers)


def test_disabled_after_failing_for_days(world: Any, hooks: Hooks) -> None:
    from datetime import timedelta

    from cloudnexus.db.columns import utcnow
    from cloudnexus.events.models import Webhook

    application, client, tenant = world
    hooks.answer = lambda _: (500, {}, 0.0)
    webhook = hook(client, tenant, hooks.url)
    with application.state.runtime.session_factory() as db:
        db.get(Webhook, uuid.UUID(webhook["id"])).failing_since = (
            utcnow() - timedelta(days=5))
        db.commit()
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    dispatch_until(application, lambda: len(hooks.received) >= 1)
    shown = client.get(f"/v1/webhooks/{webhook['id']}", headers=tenant.headers()).json()
    assert shown["disabled"] is True
    enabled = client.patch(f"/v1/webhooks/{webhook['id']}", json={"disabled": False},
                           headers=tenant.headers()).json()
    assert enabled["disabled"] is False


def test_serve_delivers_within_seconds_of_the_commit(make_settings: Any, database_url: str,
                                                     hooks: Hooks) -> None:
    settings = make_settings(database_url=database_url, log_level="WARNING",
                             webhook_allow_private=True, webhook_allow_http=True,
                             webhook_dispatch=True)
    for application in running_app(settings):
        for client in client_of(application):  # runs the lifespan, which starts delivering
            tenant = Tenant(application.state.runtime, "acme")
            hook(client, tenant, hooks.url)
            committed = time.monotonic()
            client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
            while not hooks.received and time.monotonic() - committed < 5:
                time.sleep(0.02)
            assert hooks.received, "not delivered within 5 s"
            assert json.loads(hooks.received[0][1])["type"] == "bucket.created"
