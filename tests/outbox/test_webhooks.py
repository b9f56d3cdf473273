"""/v1/webhooks: saved with their address checked, changed, rotated, replayed."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Tenant, client_of, running_app

PUBLIC = "https://93.184.215.14/hooks"  # an address literal: no DNS in the test


def create(client: Any, tenant: Tenant, **body: Any) -> Any:
    return client.post("/v1/webhooks", json={"url": PUBLIC, **body}, headers=tenant.headers())


def test_create_shows_the_secret_once(client: Any, tenant: Tenant) -> None:
    made = create(client, tenant, events=["file.*", "bucket.deleted"], description="thumbs")
    assert made.status_code == 201, made.text
    body = made.json()
    assert set(body) == {"id", "url", "events", "description", "secret", "disabled",
                         "created_at"}
    assert (body["url"], body["events"], body["description"], body["disabled"]) == (
        PUBLIC, ["file.*", "bucket.deleted"], "thumbs", False)
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    shown = client.get(f"/v1/webhooks/{body['id']}", headers=tenant.headers()).json()
    assert shown == {**body, "secret": None}
    listed = client.get("/v1/webhooks", headers=tenant.headers()).json()
    assert listed == {"items": [shown]}
    assert create(client, tenant).json()["events"] == ["*"]


@pytest.mark.parametrize("events", [[], ["file.moved"], ["files.*"], ["*.created"]])
def test_unknown_event_types_are_422(client: Any, tenant: Tenant, events: list[str]) -> None:
    made = create(client, tenant, events=events)
    assert made.status_code == 422 and made.json()["error"]["code"] == "validation_error"


INTERNAL = ["https://127.0.0.1/", "https://10.1.2.3/", "https://172.16.0.1/",
            "https://192.168.1.1/", "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/", "https://224.0.0.1/", "https://0.0.0.0/", "https://[::1]/",
            "https://[fc00::1]/", "https://[fd12:3456::1]/", "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/", "https://[::ffff:169.254.169.254]/",
            "https://localhost/", "https://localhost.:8443/x"]


@pytest.mark.parametrize("url", [*INTERNAL, "http://93.184.215.14/", "ftp://93.184.215.14/",
                                 "https://user:pw@93.184.215.14/", "https:///nohost",
                                 "https://does-not-exist.invalid/", "not a url"])
def test_refused_addresses_are_422(client: Any, tenant: Tenant, url: str) -> None:
    made = client.post("/v1/webhooks", json={"url": url}, headers=tenant.headers())
    assert made.status_code == 422, made.text
    error = made.json()["error"]
    assert error["code"] == "validation_error" and error["details"][0]["loc"] == ["body", "url"]


def test_patch_checks_the_address_too(client: Any, tenant: Tenant) -> None:
    webhook = create(client, tenant).json()
    path = f"/v1/webhooks/{webhook['id']}"
    refused = client.patch(path, json={"url": "https://169.254.169.254/"},
                           headers=tenant.headers())
    assert refused.status_code == 422
    changed = client.patch(path, json={"events": ["bucket.*"], "disabled": True,
                                       "description": None}, headers=tenant.headers())
    assert changed.status_code == 200
    body = changed.json()
    assert (body["url"], body["events"], body["disabled"], body["description"]) == (
        PUBLIC, ["bucket.*"], True, None)


@pytest.fixture
def lenient(make_settings: Any, database_url: str) -> Iterator[tuple[Any, Tenant]]:
    settings = make_settings(database_url=database_url, log_level="WARNING",
                             webhook_allow_private=True, webhook_allow_http=True)
    for application in running_app(settings):
        for test_client in client_of(application):
            yield test_client, Tenant(application.state.runtime, "acme")


def test_allow_private_and_http_lift_the_rules(lenient: tuple[Any, Tenant]) -> None:
    client, tenant = lenient
    for url in ("http://127.0.0.1:9/", "https://localhost/", "https://[::1]/",
                "https://169.254.169.254/"):
        assert client.post("/v1/webhooks", json={"url": url},
                           headers=tenant.headers()).status_code == 201
    assert client.post("/v1/webhooks", json={"url": "ftp://127.0.0.1/"},
                       headers=tenant.headers()).status_code == 422


def test_the_defaults_refuse(app: Any) -> None:
    settings = app.state.runtime.settings
    assert (settings.webhook_allow_http, settings.webhook_allow_private) == (False, False)


def test_rotate_delete_and_deliveries(client: Any, tenant: Tenant) -> None:
    webhook = create(client, tenant).json()
    path = f"/v1/webhooks/{webhook['id']}"
    rotated = client.post(f"{path}/rotate-secret", headers=tenant.headers())
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert secret.startswith("whsec_") and secret != webhook["secret"]
    deliveries = client.get(f"{path}/deliveries", headers=tenant.headers())
    assert deliveries.status_code == 200 and deliveries.json() == {"items": []}
    assert client.delete(path, headers=tenant.headers()).status_code == 204
    assert client.get(path, headers=tenant.headers()).status_code == 404


def test_replay_queues_the_events_it_subscribes_to(client: Any, tenant: Tenant) -> None:
    since = "2020-01-01T00:00:00Z"
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    client.patch("/v1/buckets/docs", json={"max_file_size": 9}, headers=tenant.headers())
    webhook = create(client, tenant, events=["bucket.created"]).json()
    replayed = client.post(f"/v1/webhooks/{webhook['id']}/replay", json={"since": since},
                           headers=tenant.headers())
    assert replayed.status_code == 202 and replayed.json() == {"queued": 1}
    later = client.post(f"/v1/webhooks/{webhook['id']}/replay",
                        json={"since": "2999-01-01T00:00:00Z"}, headers=tenant.headers())
    assert later.json() == {"queued": 0}
    bad = client.post(f"/v1/webhooks/{webhook['id']}/replay", json={"since": "yesterday"},
                      headers=tenant.headers())
    assert bad.status_code == 422


def test_admin_only_and_per_workspace(client: Any, tenant_factory: Any) -> None:
    a, b = tenant_factory("a-corp"), tenant_factory("b-corp")
    webhook = create(client, a).json()
    writer = a.headers(a.key("files:read", "files:write"))
    assert client.get("/v1/webhooks", headers=writer).status_code == 403
    assert client.post("/v1/webhooks", json={"url": PUBLIC}, headers=writer).status_code == 403
    for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""),
                           ("POST", "/rotate-secret"), ("GET", "/deliveries")):
        response = client.request(method, f"/v1/webhooks/{webhook['id']}{suffix}",
                                  headers=b.headers(), json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, suffix)
    assert client.get("/v1/webhooks", headers=b.headers()).json() == {"items": []}
    assert client.get("/v1/webhooks/not-an-id", headers=a.headers()).status_code == 404
