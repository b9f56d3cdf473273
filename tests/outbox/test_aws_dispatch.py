"""The AWS side of delivery, with real parts: the API's nudge goes to a real SQS API (moto's
server), the dispatcher's handler (`main.dispatch`) is fed the SQS and EventBridge event
documents Lambda sends — built from the messages really received from that queue — and
delivers to a real receiver on loopback, verified with the standardwebhooks library.
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook as Receiver

from tests.conftest import Tenant, client_of, free_port, running_app
from tests.outbox.test_delivery import Hooks, hooks
from tests.outbox.test_outbox_events import events
from tests.test_main_handler import context, load_main, v2
from tests.test_main_handler import event as document

__all__ = ["hooks", "load_main"]
REGION = "us-east-1"


class Queue:
    """An SQS queue on moto's server, and the messages it holds."""

    def __init__(self, endpoint: str, name: str) -> None:
        self.client = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        self.url = self.client.create_queue(QueueName=name)["QueueUrl"]
        self.arn = self.client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def receive(self, wait: int = 0) -> list[dict[str, Any]]:
        """The messages visible now (waiting up to `wait` s for the first), deleted, as the
        records of the SQS event Lambda hands the function."""
        got = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                          WaitTimeSeconds=wait, AttributeNames=["All"])
        records = []
        for message in got.get("Messages", []):
            self.client.delete_message(QueueUrl=self.url,
                                       ReceiptHandle=message["ReceiptHandle"])
            record = document("sqs_message")["Records"][0]
            record.update(messageId=message["MessageId"], body=message["Body"],
                          receiptHandle=message["ReceiptHandle"],
                          md5OfBody=message["MD5OfBody"], eventSourceARN=self.arn,
                          attributes=message["Attributes"], awsRegion=REGION)
            records.append(record)
        return records

    def delayed(self) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"])


@pytest.fixture
def queue(moto_endpoint: str, request: pytest.FixtureRequest) -> Queue:
    return Queue(moto_endpoint, f"events-{abs(hash(request.node.nodeid))}")


@pytest.fixture
def nudging(make_settings: Any, database_url: str, queue: Queue) -> Iterator[tuple[Any, Tenant]]:
    settings = make_settings(database_url=database_url, log_level="WARNING",
                             events_queue_url=queue.url)
    for application in running_app(settings):
        for client in client_of(application):
            yield client, Tenant(application.state.runtime, "acme")


def test_a_commit_that_wrote_events_nudges_the_queue(nudging: Any, queue: Queue) -> None:
    client, tenant = nudging
    made = client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    assert made.status_code == 201
    assert [json.loads(r["body"]) for r in queue.receive(wait=1)] == [{"cloudnexus": "events"}]
    assert client.get("/v1/buckets", headers=tenant.headers()).status_code == 200
    taken = client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    assert taken.status_code == 409  # rolled back: no event, so no nudge
    assert client.post("/v1/keys", json={"name": "k", "scopes": ["files:read"]},
                       headers=tenant.headers()).status_code == 201  # a commit, no event
    assert queue.receive() == []
    client.patch("/v1/buckets/docs", json={"max_file_size": 10}, headers=tenant.headers())
    assert len(queue.receive(wait=1)) == 1
    # A new file's record (on PostgreSQL a statement in a transaction of its own).
    assert client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                       files={"file": ("a.txt", b"abc", "text/plain")}).status_code == 201
    assert len(queue.receive(wait=1)) == 1


def test_a_nudge_that_cannot_be_sent_fails_nothing(make_settings: Any,
                                                    database_url: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/123456789012/events"
    settings = make_settings(database_url=database_url, log_level="WARNING",
                             events_queue_url=nowhere)
    for application in running_app(settings):
        for client in client_of(application):
            tenant = Tenant(application.state.runtime, "acme")
            started = time.monotonic()
            made = client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
            assert made.status_code == 201, made.text
            assert time.monotonic() - started < 5
            assert [e["type"] for e in events(client, tenant, 1)] == ["bucket.created"]


@pytest.fixture
def functions(load_main: Callable[..., Any], database_url: str, queue: Queue) -> Any:
    """main.py as the API function and the dispatcher function both load it (one package)."""
    return load_main(DATABASE_URL=database_url, EVENTS_QUEUE_URL=queue.url,
                     WEBHOOK_ALLOW_HTTP="true", WEBHOOK_ALLOW_PRIVATE="true",
                     WEBHOOK_TIMEOUT="3")


def _call(main: Any, tenant: Tenant, method: str, path: str,
          body: dict[str, Any] | None = None) -> dict[str, Any]:
    raw = None if body is None else json.dumps(body).encode()
    headers = {"authorization": f"Bearer {tenant.admin}", "content-type": "application/json"}
    response: dict[str, Any] = main.handler(v2(method, path, headers=headers, body=raw),
                                            context())
    return response


def _dispatch_until(main: Any, records: list[dict[str, Any]], done: Callable[[], bool]) -> None:
    """Hand the dispatcher the batch, again while not `done` (on PostgreSQL an event waits
    for the horizon of the whole cluster: docs/events.md)."""
    deadline = time.monotonic() + 30
    while True:
        assert main.dispatch({"Records": records}, context()) == {"batchItemFailures": []}
        if done():
            return
        assert time.monotonic() < deadline, "not delivered"
        time.sleep(0.1)


def test_the_dispatcher_delivers_on_the_nudge_and_retries_on_a_delayed_one(
        functions: Any, queue: Queue, hooks: Hooks) -> None:
    main = functions
    tenant = Tenant(main.app.state.runtime, "acme")
    hooks.answer = lambda n: (503 if n == 1 else 204, {}, 0.0)
    made = _call(main, tenant, "POST", "/v1/webhooks", {"url": hooks.url})
    assert made["statusCode"] == 201, made
    secret = json.loads(made["body"])["secret"]
    assert _call(main, tenant, "POST", "/v1/buckets", {"name": "docs"})["statusCode"] == 201
    nudges = queue.receive(wait=2)
    assert len(nudges) == 1 and json.loads(nudges[0]["body"]) == {"cloudnexus": "events"}

    _dispatch_until(main, nudges, lambda: len(hooks.received) >= 1)
    # The 503's retry, due in about 5 s: nudged for, delayed. (On a PostgreSQL cluster that
    # others share, a round held back behind their transactions may have nudged too.)
    assert queue.delayed() >= 1 and queue.receive() == []
    retry = queue.receive(wait=8)
    assert retry and {r["body"] for r in retry} == {json.dumps({"cloudnexus": "events"})}
    _dispatch_until(main, retry, lambda: len(hooks.received) >= 2)
    (first, _), (second, body) = hooks.received
    assert first["webhook-id"] == second["webhook-id"]
    delivered = Receiver(secret).verify(body, second)
    assert delivered["type"] == "bucket.created"
    assert delivered["data"]["bucket"]["name"] == "docs"
    attempts = _call(main, tenant, "GET", f"/v1/webhooks/{json.loads(made['body'])['id']}"
                                         "/deliveries")
    assert sorted((d["attempt"], d["status_code"]) for d in json.loads(attempts["body"])[
        "items"]) == [(1, 503), (2, 204)]


def test_the_sweep_delivers_what_a_lost_nudge_left(functions: Any, queue: Queue,
                                                   hooks: Hooks) -> None:
    main = functions
    tenant = Tenant(main.app.state.runtime, "acme")
    _call(main, tenant, "POST", "/v1/webhooks", {"url": hooks.url, "events": ["bucket.*"]})
    _call(main, tenant, "POST", "/v1/buckets", {"name": "docs"})
    queue.receive(wait=2)  # the nudge, lost
    deadline = time.monotonic() + 30
    while not hooks.received:
        assert time.monotonic() < deadline, "not delivered"
        assert main.dispatch(document("eventbridge_scheduled"), context()) == {
            "batchItemFailures": []}
    assert json.loads(hooks.received[0][1])["type"] == "bucket.created"


def test_an_event_held_back_by_an_older_transaction_is_nudged_for_shortly(
        functions: Any, queue: Queue, hooks: Hooks, database_url: str) -> None:
    """On PostgreSQL an event waits while an older transaction runs (docs/events.md): the
    dispatcher that found nothing to send looks again 2 s later, not at the next sweep."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite hands out every committed event at once")
    import psycopg

    main = functions
    tenant = Tenant(main.app.state.runtime, "acme")
    _call(main, tenant, "POST", "/v1/webhooks", {"url": hooks.url})
    with psycopg.connect(database_url.replace("+psycopg", "")) as older:
        older.execute("SELECT pg_current_xact_id()")  # takes its id, stays open
        assert _call(main, tenant, "POST", "/v1/buckets", {"name": "docs"})["statusCode"] \
            == 201
        nudge = queue.receive(wait=2)
        assert main.dispatch({"Records": nudge}, context()) == {"batchItemFailures": []}
        assert hooks.received == [] and queue.delayed() == 1
    again = queue.receive(wait=4)
    assert len(again) == 1
    _dispatch_until(main, again, lambda: len(hooks.received) == 1)
