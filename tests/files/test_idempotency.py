"""Idempotency-Key on creating POSTs: same key and body → the first response, nothing new;
same key with another body → 409."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from cloudnexus.db.columns import utcnow
from cloudnexus.files.models import File
from cloudnexus.idempotency.models import IdempotencyRecord
from tests.conftest import Tenant


def headers(tenant: Tenant, key: str) -> dict[str, str]:
    return {**tenant.headers(), "Idempotency-Key": key}


def test_bucket_create_is_replayed(client: Any, tenant: Tenant) -> None:
    first = client.post("/v1/buckets", json={"name": "once"}, headers=headers(tenant, "k1"))
    again = client.post("/v1/buckets", json={"name": "once"}, headers=headers(tenant, "k1"))
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post("/v1/buckets", json={"name": "twice"}, headers=headers(tenant, "k1"))
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"


def test_direct_upload_is_replayed_and_stored_once(client: Any, app: Any,
                                                   tenant: Tenant) -> None:
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    responses = [client.post("/v1/buckets/docs/files", headers=headers(tenant, "up-1"),
                             files={"file": ("a.txt", b"same bytes", "text/plain")})
                 for _ in range(2)]
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    with app.state.runtime.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(File)) == 1
    changed = client.post("/v1/buckets/docs/files", headers=headers(tenant, "up-1"),
                          files={"file": ("a.txt", b"other bytes", "text/plain")})
    assert changed.status_code == 409


def test_a_failed_request_does_not_hold_its_key(client: Any, tenant: Tenant) -> None:
    bad = client.post("/v1/buckets", json={"name": "x"}, headers=headers(tenant, "k2"))
    assert bad.status_code == 422
    client.post("/v1/buckets", json={"name": "taken"}, headers=tenant.headers())
    conflict = client.post("/v1/buckets", json={"name": "taken"}, headers=headers(tenant, "k3"))
    assert conflict.status_code == 409
    client.delete("/v1/buckets/taken", headers=tenant.headers())
    retried = client.post("/v1/buckets", json={"name": "taken"}, headers=headers(tenant, "k3"))
    assert retried.status_code == 201


def test_keys_are_per_workspace_and_kept_24_hours(client: Any, app: Any,
                                                   tenant_factory: Any) -> None:
    a, b = tenant_factory("a-corp"), tenant_factory("b-corp")
    assert client.post("/v1/buckets", json={"name": "one"},
                       headers=headers(a, "shared")).status_code == 201
    assert client.post("/v1/buckets", json={"name": "two"},
                       headers=headers(b, "shared")).status_code == 201
    with app.state.runtime.session_factory() as db:
        db.execute(update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=25)))
        db.commit()
    after_a_day = client.post("/v1/buckets", json={"name": "three"}, headers=headers(a, "shared"))
    assert after_a_day.status_code == 201


def test_created_key_is_replayed_only_to_its_workspace(client: Any, tenant_factory: Any) -> None:
    a, b = tenant_factory("a-corp"), tenant_factory("b-corp")
    body = {"name": "ci", "scopes": ["files:read"]}
    first = client.post("/v1/keys", json=body, headers=headers(a, "key-1"))
    other_workspace = client.post("/v1/keys", json=body, headers=headers(b, "key-1"))
    assert other_workspace.json()["key"] != first.json()["key"]
    reader = client.post("/v1/keys", json=body, headers={
        "Authorization": f"Bearer {a.key('files:read')}", "Idempotency-Key": "key-1"})
    assert reader.status_code == 403  # the scope is checked before any replay


def test_a_created_keys_secret_is_not_kept_and_its_replay_is_409(client: Any, app: Any,
                                                                 tenant: Tenant) -> None:
    body = {"name": "ci", "scopes": ["admin"]}
    first = client.post("/v1/keys", json=body, headers=headers(tenant, "key-2"))
    assert first.status_code == 201
    secret = first.json()["key"].split("_", 2)[2]  # the secret may hold "_"
    with app.state.runtime.session_factory() as db:
        stored = db.scalars(select(IdempotencyRecord)).one()
    assert secret not in repr(stored.body) and stored.body["id"] == first.json()["id"]
    again = client.post("/v1/keys", json=body, headers=headers(tenant, "key-2"))
    assert again.status_code == 409 and first.json()["id"] in again.json()["error"]["message"]
    listed = client.get("/v1/keys", headers=tenant.headers()).json()["items"]
    assert [item["name"] for item in listed].count("ci") == 1


def test_a_claim_whose_request_died_is_taken_over_after_15_minutes(client: Any, app: Any,
                                                                   tenant: Tenant) -> None:
    first = client.post("/v1/buckets", json={"name": "once"}, headers=headers(tenant, "k4"))
    with app.state.runtime.session_factory() as db:  # as if it had died before answering
        db.execute(update(IdempotencyRecord).values(status_code=None, body=None))
        db.commit()
    client.delete("/v1/buckets/once", headers=tenant.headers())
    retried = client.post("/v1/buckets", json={"name": "once"}, headers=headers(tenant, "k4"))
    assert first.status_code == 201 and retried.status_code == 409
    assert "in progress" in retried.json()["error"]["message"]
    with app.state.runtime.session_factory() as db:
        db.execute(update(IdempotencyRecord).values(created_at=utcnow() - timedelta(minutes=16)))
        db.commit()
    retried = client.post("/v1/buckets", json={"name": "once"}, headers=headers(tenant, "k4"))
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
