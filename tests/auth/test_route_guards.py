"""Every /v1 route: no key, malformed, revoked and expired keys → 401; a key without the
scope → 403; another workspace's ids → 404, indistinguishable from missing ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Tenant

READ, WRITE, ADMIN, ANY = "files:read", "files:write", "admin", None

# The scope each route needs. A route missing here fails test_every_route_is_guarded.
ROUTES: dict[tuple[str, str], str | None] = {
    ("GET", "/v1/workspace"): ANY,
    ("POST", "/v1/keys"): ADMIN,
    ("GET", "/v1/keys"): ADMIN,
    ("DELETE", "/v1/keys/{key_id}"): ADMIN,
    ("POST", "/v1/signing-keys"): ADMIN,
    ("GET", "/v1/signing-keys"): ADMIN,
    ("DELETE", "/v1/signing-keys/{signing_key_id}"): ADMIN,
    ("POST", "/v1/tokens"): ADMIN,
    ("POST", "/v1/buckets"): ADMIN,
    ("GET", "/v1/buckets"): READ,
    ("GET", "/v1/buckets/{bucket}"): READ,
    ("PATCH", "/v1/buckets/{bucket}"): ADMIN,
    ("DELETE", "/v1/buckets/{bucket}"): ADMIN,
    ("POST", "/v1/buckets/{bucket}/files"): WRITE,
    ("GET", "/v1/buckets/{bucket}/files"): READ,
    ("POST", "/v1/buckets/{bucket}/files:delete"): WRITE,
    ("GET", "/v1/files/{file_id}"): READ,
    ("PATCH", "/v1/files/{file_id}"): WRITE,
    ("DELETE", "/v1/files/{file_id}"): WRITE,
    ("GET", "/v1/files/{file_id}/content"): READ,
    ("GET", "/v1/files/{file_id}/preview"): READ,
    ("POST", "/v1/files/{file_id}/copy"): WRITE,
    ("POST", "/v1/buckets/{bucket}/uploads"): WRITE,
    ("GET", "/v1/uploads/{upload_id}"): WRITE,
    ("DELETE", "/v1/uploads/{upload_id}"): WRITE,
    ("POST", "/v1/uploads/{upload_id}/complete"): WRITE,
    ("POST", "/v1/files/{file_id}/links"): WRITE,
    ("GET", "/v1/files/{file_id}/links"): READ,
    ("DELETE", "/v1/links/{link_id}"): WRITE,
    ("GET", "/v1/events"): ADMIN,
    ("POST", "/v1/webhooks"): ADMIN,
    ("GET", "/v1/webhooks"): ADMIN,
    ("GET", "/v1/webhooks/{webhook_id}"): ADMIN,
    ("PATCH", "/v1/webhooks/{webhook_id}"): ADMIN,
    ("DELETE", "/v1/webhooks/{webhook_id}"): ADMIN,
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): ADMIN,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): ADMIN,
    ("POST", "/v1/webhooks/{webhook_id}/replay"): ADMIN,
}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/keys"): {"name": "ci", "scopes": ["files:read"]},
    ("POST", "/v1/signing-keys"): {"name": "app", "algorithm": "HS256"},
    ("POST", "/v1/tokens"): {"sub": "user-1", "expires_in": 60, "cnx": {
        "buckets": ["photos"], "prefix": "users/1/", "ops": ["read"]}},
    ("POST", "/v1/buckets"): {"name": "new-bucket"},
    ("PATCH", "/v1/buckets/{bucket}"): {"max_file_size": 1024},
    ("POST", "/v1/buckets/{bucket}/files:delete"): {"prefix": "nothing/"},
    ("PATCH", "/v1/files/{file_id}"): {"tags": ["seen"]},
    ("POST", "/v1/files/{file_id}/copy"): {"path": "copy.txt"},
    ("POST", "/v1/buckets/{bucket}/uploads"): {"path": "up.txt", "size": 3,
                                               "content_type": "text/plain"},
    ("POST", "/v1/files/{file_id}/links"): {"expires_in": 60},
    ("POST", "/v1/webhooks"): {"url": "https://93.184.215.14/hook"},
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"description": "changed"},
    ("POST", "/v1/webhooks/{webhook_id}/replay"): {"since": "2026-01-01T00:00:00Z"},
}
FORMS = {("POST", "/v1/buckets/{bucket}/files"): {"file": ("new.txt", b"new", "text/plain")}}
WITHOUT = {READ: ["files:write"], WRITE: ["files:read"], ADMIN: ["files:read", "files:write"]}
ROUTE_IDS = [f"{method} {path}" for method, path in ROUTES]


class World:
    """Workspace A with one of everything a path can name, and workspace B next to it."""

    def __init__(self, client: Any, a: Tenant, b: Tenant) -> None:
        self.client, self.a, self.b = client, a, b
        created = client.post("/v1/buckets", json={"name": "photos"}, headers=a.headers())
        assert created.status_code == 201, created.text
        extra_key = client.post("/v1/keys", json={"name": "x", "scopes": ["files:read"]},
                                headers=a.headers())
        file = client.post("/v1/buckets/photos/files", headers=a.headers(),
                           files={"file": ("a.txt", b"abc", "text/plain")})
        upload = client.post("/v1/buckets/photos/uploads", headers=a.headers(),
                             json={"path": "b.txt", "size": 3, "content_type": "text/plain"})
        link = client.post(f"/v1/files/{file.json()['id']}/links", json={"expires_in": 60},
                           headers=a.headers())
        signing_key = client.post("/v1/signing-keys", json={"name": "app", "algorithm": "HS256"},
                                  headers=a.headers())
        webhook = client.post("/v1/webhooks", json={"url": "https://93.184.215.14/hook"},
                              headers=a.headers())
        self.ids = {"bucket": "photos", "key_id": extra_key.json()["id"],
                    "webhook_id": webhook.json()["id"],
                    "signing_key_id": signing_key.json()["id"],
                    "file_id": file.json()["id"], "upload_id": upload.json()["id"],
                    "link_id": link.json()["id"]}

    def call(self, route: tuple[str, str], key: str | None = None,
             raw_authorization: str | None = None, follow_redirects: bool = True) -> Any:
        method, template = route
        headers = {"Authorization": raw_authorization} if raw_authorization else (
            {"Authorization": f"Bearer {key}"} if key else {})
        if route in FORMS:
            return self.client.request(method, template.format(**self.ids), headers=headers,
                                       files=FORMS[route], follow_redirects=follow_redirects)
        return self.client.request(method, template.format(**self.ids), headers=headers,
                                   json=BODIES.get(route), follow_redirects=follow_redirects)


@pytest.fixture
def world(client: Any, tenant_factory: Any) -> World:
    return World(client, tenant_factory("workspace-a"), tenant_factory("workspace-b"))


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["x-request-id"]


def test_every_route_is_guarded(app: Any) -> None:
    served = {(method.upper(), path) for path, operations in app.openapi()["paths"].items()
              if path.startswith("/v1") for method in operations}
    assert served == set(ROUTES)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_no_key_is_401(world: World, route: tuple[str, str]) -> None:
    response = world.call(route)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


MALFORMED = ["Bearer", "Bearer not-a-key", "Basic dXNlcjpwYXNz", "Bearer cnx_123_secret",
             "Bearer cnx_00000000000000000000000000000000_", "Token cnx_x_y"]


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_malformed_key_is_401(world: World, route: tuple[str, str]) -> None:
    for authorization in MALFORMED:
        assert_error(world.call(route, raw_authorization=authorization), 401, "unauthorized")


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_unknown_key_and_wrong_secret_are_401(world: World, route: tuple[str, str]) -> None:
    key_id = world.a.admin.split("_")[1]
    assert_error(world.call(route, key=f"cnx_{'0' * 32}_{'s' * 43}"), 401, "unauthorized")
    assert_error(world.call(route, key=f"cnx_{key_id}_{'s' * 43}"), 401, "unauthorized")


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_revoked_key_is_401(world: World, route: tuple[str, str]) -> None:
    assert_error(world.call(route, key=world.a.key("admin", revoked=True)), 401, "unauthorized")


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_expired_key_is_401(world: World, route: tuple[str, str]) -> None:
    expired = world.a.key("admin", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert_error(world.call(route, key=expired), 401, "unauthorized")


@pytest.mark.parametrize("route", [r for r in ROUTES if ROUTES[r]], ids=lambda r: " ".join(r))
def test_key_without_the_scope_is_403(world: World, route: tuple[str, str]) -> None:
    needed = ROUTES[route]
    assert needed is not None
    assert_error(world.call(route, key=world.a.key(*WITHOUT[needed])), 403, "forbidden")


@pytest.mark.parametrize("route", [r for r in ROUTES if "{" in r[1]], ids=lambda r: " ".join(r))
def test_another_workspaces_id_is_404_like_a_missing_one(world: World,
                                                         route: tuple[str, str]) -> None:
    foreign = world.call(route, key=world.b.admin)
    assert_error(foreign, 404, "not_found")
    foreign_bucket = world.ids.get("bucket")
    world.ids = {name: ("missing-bucket" if name == "bucket" else "0" * 32)
                 for name in world.ids}
    missing = world.call(route, key=world.b.admin)
    assert_error(missing, 404, "not_found")
    # The same message, but for the name the caller wrote (a bucket's 404 echoes it).
    said = missing.json()["error"]["message"]
    if foreign_bucket is not None:
        said = said.replace("'missing-bucket'", f"'{foreign_bucket}'")
    assert foreign.json()["error"]["message"] == said


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_the_right_key_passes_the_guards(world: World, route: tuple[str, str]) -> None:
    needed = ROUTES[route]
    key = world.a.key(needed) if needed else world.a.key("files:read")
    response = world.call(route, key=key, follow_redirects=False)
    assert response.status_code not in (401, 403, 404), response.text
