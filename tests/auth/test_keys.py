"""API keys: shown once, stored as a hash, scoped, expiring, revocable at once."""

from __future__ import annotations

import statistics
import timeit
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from cloudnexus.auth.models import ApiKey
from cloudnexus.auth.tokens import hash_secret, parse_key, secret_matches
from tests.conftest import Tenant


def test_created_key_is_shown_once_and_works(client: Any, tenant: Tenant) -> None:
    created = client.post("/v1/keys", json={"name": "ci", "scopes": ["files:read"]},
                          headers=tenant.headers())
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith(f"cnx_{body['id'].replace('-', '')}_")
    assert body["scopes"] == ["files:read"] and body["revoked_at"] is None
    listed = client.get("/v1/keys", headers=tenant.headers()).json()["items"]
    assert [item for item in listed if item["id"] == body["id"]]
    assert all("key" not in item and "secret_hash" not in item for item in listed)
    assert body["key"] not in client.get("/v1/keys", headers=tenant.headers()).text
    assert client.get("/v1/buckets", headers=tenant.headers(body["key"])).status_code == 200


def test_secret_has_256_bits_and_only_its_hash_is_stored(app: Any, tenant: Tenant) -> None:
    parsed = parse_key(tenant.admin)
    assert parsed is not None and len(parsed.secret) >= 43  # 32 bytes, base64url
    with app.state.runtime.session_factory() as db:
        row = db.get(ApiKey, parsed.key_id)
    assert row.secret_hash == hash_secret(parsed.secret)
    assert parsed.secret not in repr(vars(row))


def test_stored_hash_cannot_be_used_as_a_key(client: Any, app: Any, tenant: Tenant) -> None:
    with app.state.runtime.session_factory() as db:
        row = db.scalars(select(ApiKey).where(ApiKey.workspace_id == tenant.workspace_id)).one()
    for stolen in (row.secret_hash, f"cnx_{row.id.hex}_{row.secret_hash}"):
        response = client.get("/v1/workspace", headers={"Authorization": f"Bearer {stolen}"})
        assert response.status_code == 401


def test_revoked_key_stops_working_at_once(client: Any, tenant: Tenant) -> None:
    created = client.post("/v1/keys", json={"name": "tmp", "scopes": ["admin"]},
                          headers=tenant.headers()).json()
    assert client.get("/v1/workspace", headers=tenant.headers(created["key"])).status_code == 200
    assert client.delete(f"/v1/keys/{created['id']}", headers=tenant.headers()).status_code == 204
    assert client.get("/v1/workspace", headers=tenant.headers(created["key"])).status_code == 401
    listed = client.get("/v1/keys", headers=tenant.headers()).json()["items"]
    assert next(k for k in listed if k["id"] == created["id"])["revoked_at"] is not None


def test_key_expires(client: Any, tenant: Tenant) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    created = client.post("/v1/keys", json={"name": "t", "scopes": ["files:read"],
                                            "expires_at": soon.isoformat()},
                          headers=tenant.headers())
    assert created.status_code == 201
    assert created.json()["expires_at"].startswith(soon.strftime("%Y-%m-%dT%H:%M:%S"))
    past = tenant.key("admin", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert client.get("/v1/workspace", headers=tenant.headers(past)).json()["error"][
        "message"] == "API key expired"


def test_invalid_key_requests_are_422(client: Any, tenant: Tenant) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for body in ({"name": "x", "scopes": []}, {"name": "x", "scopes": ["root"]},
                 {"name": "", "scopes": ["admin"]}, {"name": "x", "scopes": ["admin"],
                                                     "expires_at": yesterday},
                 {"name": "x", "scopes": ["admin"], "expires_at": "2030-01-01T00:00:00"},
                 {"name": "x", "scopes": ["admin"], "expires_at": "9999-12-31T23:59:59-10:00"}):
        response = client.post("/v1/keys", json=body, headers=tenant.headers())
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"
        assert response.json()["error"]["details"]


def test_last_used_is_recorded_at_most_once_a_minute(client: Any, app: Any,
                                                      tenant: Tenant) -> None:
    key = tenant.key("files:read")
    parsed = parse_key(key)
    assert parsed is not None
    client.get("/v1/workspace", headers=tenant.headers(key))
    with app.state.runtime.session_factory() as db:
        first = db.get(ApiKey, parsed.key_id).last_used_at
    client.get("/v1/workspace", headers=tenant.headers(key))
    with app.state.runtime.session_factory() as db:
        assert db.get(ApiKey, parsed.key_id).last_used_at == first
    assert first is not None


def test_wrong_secret_timing_does_not_depend_on_how_much_is_right() -> None:
    """Hash-then-compare_digest: a nearly right secret costs what a wholly wrong one does."""
    secret = "A" * 43
    stored = hash_secret(secret)
    nearly_right, wholly_wrong = "A" * 42 + "B", "B" * 43

    def fastest(candidate: str) -> float:
        # The fastest run: the others measure what else the machine was doing meanwhile.
        return min(timeit.repeat(lambda: secret_matches(candidate, stored), number=2000,
                                 repeat=15))

    fastest(wholly_wrong)  # warm up
    ratios = [fastest(nearly_right) / fastest(wholly_wrong) for _ in range(5)]
    assert 0.8 < statistics.median(ratios) < 1.25, ratios
    assert not secret_matches(nearly_right, stored) and secret_matches(secret, stored)


def test_a_malformed_key_id_is_404_like_any_other_id(client: Any, tenant: Tenant) -> None:
    for key_id in ("not-a-uuid", "%00"):
        response = client.delete(f"/v1/keys/{key_id}", headers=tenant.headers())
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
