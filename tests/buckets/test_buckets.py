"""Buckets: named containers in a workspace with their own rules."""

from __future__ import annotations

from typing import Any

import pytest

from cloudnexus.buckets.rules import content_type_allowed
from tests.conftest import Tenant, client_of, running_app


def create(client: Any, tenant: Tenant, **body: Any) -> Any:
    return client.post("/v1/buckets", json=body, headers=tenant.headers())


def test_create_get_and_list(client: Any, tenant: Tenant) -> None:
    created = create(client, tenant, name="photos", public=True, max_file_size=1000,
                     allowed_content_types=["image/*", "Application/PDF"])
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "photos" and body["public"] is True
    assert body["max_file_size"] == 1000
    assert body["allowed_content_types"] == ["image/*", "application/pdf"]
    assert body["usage"] == {"bytes": 0, "files": 0, "derived_bytes": 0}
    reader = tenant.headers(tenant.key("files:read"))
    assert client.get("/v1/buckets/photos", headers=reader).json() == body
    assert client.get("/v1/buckets", headers=reader).json() == {"items": [body]}


def test_defaults(client: Any, tenant: Tenant) -> None:
    body = create(client, tenant, name="docs").json()
    assert (body["public"], body["max_file_size"], body["allowed_content_types"]) == (
        False, None, None)


@pytest.mark.parametrize("name", ["ab", "-abc", "abc-", "ABC", "a_b", "a.b", "a" * 64, "", "é-b"])
def test_bad_names_are_422(client: Any, tenant: Tenant, name: str) -> None:
    response = create(client, tenant, name=name)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["body", "name"]


@pytest.mark.parametrize("name", ["abc", "a1-b2", "0" * 63, "my-bucket-2026"])
def test_good_names(client: Any, tenant: Tenant, name: str) -> None:
    assert create(client, tenant, name=name).status_code == 201


@pytest.mark.parametrize("body", [
    {"name": "x1x", "max_file_size": 0}, {"name": "x1x", "allowed_content_types": []},
    {"name": "x1x", "allowed_content_types": ["image"]},
    {"name": "x1x", "allowed_content_types": ["*/*"]}, {"name": "x1x", "color": "red"},
])
def test_bad_rules_are_422(client: Any, tenant: Tenant, body: dict[str, Any]) -> None:
    assert client.post("/v1/buckets", json=body, headers=tenant.headers()).status_code == 422


def test_names_are_unique_per_workspace(client: Any, tenant_factory: Any) -> None:
    a, b = tenant_factory("a-corp"), tenant_factory("b-corp")
    assert create(client, a, name="shared").status_code == 201
    duplicate = create(client, a, name="shared")
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "conflict"
    assert create(client, b, name="shared").status_code == 201
    assert [x["name"] for x in client.get("/v1/buckets", headers=b.headers()).json()["items"]
            ] == ["shared"]


def test_patch_changes_only_the_given_fields(client: Any, tenant: Tenant) -> None:
    create(client, tenant, name="media", max_file_size=10, allowed_content_types=["video/*"])
    patched = client.patch("/v1/buckets/media", json={"max_file_size": None},
                           headers=tenant.headers())
    assert patched.status_code == 200
    body = patched.json()
    assert body["max_file_size"] is None and body["allowed_content_types"] == ["video/*"]
    assert body["updated_at"] >= body["created_at"]
    public = client.patch("/v1/buckets/media", json={"public": True}, headers=tenant.headers())
    assert public.json()["public"] is True


def test_delete_then_404(client: Any, tenant: Tenant) -> None:
    create(client, tenant, name="tmp-bucket")
    assert client.delete("/v1/buckets/tmp-bucket", headers=tenant.headers()).status_code == 204
    gone = client.get("/v1/buckets/tmp-bucket", headers=tenant.headers())
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert client.delete("/v1/buckets/tmp-bucket", headers=tenant.headers()).status_code == 404


@pytest.mark.parametrize("name", ["%00", "a%00b", "a" * 1200, "UPPER", "ab"])
def test_a_name_no_bucket_can_have_names_none(client: Any, tenant: Tenant, name: str) -> None:
    """404 on every route that takes one (a NUL once reached PostgreSQL: 500)."""
    h = tenant.headers()
    once = {**h, "Idempotency-Key": "k"}
    responses = [
        client.get(f"/v1/buckets/{name}", headers=h),
        client.patch(f"/v1/buckets/{name}", json={"public": True}, headers=h),
        client.delete(f"/v1/buckets/{name}", headers=h),
        client.get(f"/v1/buckets/{name}/files", headers=h),
        client.post(f"/v1/buckets/{name}/uploads", json={"path": "a", "size": 1}, headers=h),
        client.post(f"/v1/buckets/{name}/files", files={"file": ("a", b"x")}, headers=h),
        client.post(f"/v1/buckets/{name}/files", files={"file": ("a", b"x")}, headers=once),
    ]
    assert [r.status_code for r in responses] == [404] * len(responses)
    assert {r.json()["error"]["code"] for r in responses} == {"not_found"}


def test_a_copy_into_a_name_no_bucket_can_have_is_404(client: Any, tenant: Tenant) -> None:
    create(client, tenant, name="docs")
    file = client.post("/v1/buckets/docs/files", files={"file": ("a.txt", b"x")},
                       headers=tenant.headers()).json()
    copied = client.post(f"/v1/files/{file['id']}/copy", json={"bucket": "a\u0000", "path": "b"},
                         headers=tenant.headers())
    assert copied.status_code == 404 and copied.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("content_type", "allowed", "expected"), [
    ("image/png", ["image/*"], True), ("image/png; q=1", ["image/png"], True),
    ("IMAGE/PNG", ["image/png"], True), ("text/plain", ["image/*"], False),
    ("imagex/png", ["image/*"], False), ("anything/at-all", None, True),
    ("application/pdf", ["image/*", "application/pdf"], True),
])
def test_content_type_rules(content_type: str, allowed: list[str] | None,
                            expected: bool) -> None:
    assert content_type_allowed(content_type, allowed) is expected


def test_an_upload_started_during_a_forced_delete_gives_its_quota_back(
        app: Any, client: Any, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its row went with the bucket's while the quota it held stayed reserved for good.
    (PostgreSQL: SQLite writes one transaction at a time, so there the upload waits.)"""
    from fastapi.testclient import TestClient

    from cloudnexus.files import deletion
    from cloudnexus.uploads.models import Upload
    from cloudnexus.workspaces import service as workspaces

    if app.state.runtime.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serializes the two")
    create(client, tenant, name="gone")
    client.post("/v1/buckets/gone/files", headers=tenant.headers(), files={"file": ("a", b"x")})
    finishing, started = deletion.purge_deleting, []

    def start_an_upload_first(*args: Any, **kwargs: Any) -> Any:
        if not started:  # the files are gone, the bucket not yet
            with TestClient(app) as other:
                started.append(other.post("/v1/buckets/gone/uploads", headers=tenant.headers(),
                                          json={"path": "late.bin", "size": 1000,
                                                "content_type": "text/plain"}).status_code)
        return finishing(*args, **kwargs)

    monkeypatch.setattr(deletion, "purge_deleting", start_an_upload_first)
    deleted = client.delete("/v1/buckets/gone?force=true", headers=tenant.headers())
    assert (started, deleted.status_code) == ([201], 204)
    with app.state.runtime.session_factory() as db:
        workspace = workspaces.get(db, workspace_id=tenant.workspace_id)
        assert (workspace.reserved_bytes, workspace.reserved_files) == (0, 0)
        assert db.query(Upload).count() == 0
    assert client.post("/v1/buckets/gone/uploads", headers=tenant.headers(), json={
        "path": "a", "size": 1, "content_type": "text/plain"}).status_code == 404


def test_a_forced_delete_and_a_complete_of_one_of_its_uploads_do_not_deadlock(
        app: Any, client: Any, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The complete holds its upload's row while it checks the object (a HEAD, an assembly),
    then takes the usage rows; the delete took those, then reached the upload's row by the
    cascade: one of them was a 503. Now the delete takes the uploads' rows first."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from cloudnexus.files import deletion
    from cloudnexus.uploads import checks

    if app.state.runtime.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serializes the two")
    create(client, tenant, name="gone")
    checking, finishing = checks.check_stored, deletion.purge_deleting

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)
        return checking(*args, **kwargs)

    def complete(upload_id: str) -> int:
        with TestClient(app) as other:
            return int(other.post(f"/v1/uploads/{upload_id}/complete",
                                  headers=tenant.headers()).status_code)

    pool, completing = ThreadPoolExecutor(1), []

    def start_a_complete_first(*args: Any, **kwargs: Any) -> Any:
        if not completing:  # the files are gone, the bucket not yet
            upload = client.post("/v1/buckets/gone/uploads", headers=tenant.headers(), json={
                "path": "late.txt", "size": 5, "content_type": "text/plain"}).json()
            client.put(upload["url"], content=b"hello", headers=upload["headers"])
            completing.append(pool.submit(complete, upload["id"]))
            time.sleep(0.5)  # it holds the upload's row, checking the object
        return finishing(*args, **kwargs)

    monkeypatch.setattr(checks, "check_stored", slow_check)
    monkeypatch.setattr(deletion, "purge_deleting", start_a_complete_first)
    deleted = client.delete("/v1/buckets/gone?force=true", headers=tenant.headers())
    assert (completing[0].result(30), deleted.status_code) == (200, 409)
    assert client.get("/v1/workspace", headers=tenant.headers()).json()["usage"] == {
        "bytes": 5, "files": 1, "derived_bytes": 0}


def test_without_public_buckets_a_public_bucket_is_refused_naming_the_setting(
        make_settings: Any, database_url: str) -> None:
    settings = make_settings(database_url=database_url, log_level="WARNING", public_buckets=False)
    for app in running_app(settings):
        for client in client_of(app):
            tenant = Tenant(app.state.runtime, "acme")
            refused = create(client, tenant, name="avatars", public=True)
            assert refused.status_code == 422
            error = refused.json()["error"]
            assert error["code"] == "validation_error" and "PUBLIC_BUCKETS=false" in error["message"]
            assert "PublicUploads" in error["message"]
            assert [detail["loc"] for detail in error["details"]] == [["body", "public"]]
            assert create(client, tenant, name="private").status_code == 201
            patched = client.patch("/v1/buckets/private", json={"public": True},
                                   headers=tenant.headers())
            assert patched.status_code == 422
            assert client.get("/v1/buckets/private", headers=tenant.headers()).json()[
                "public"] is False
            assert client.patch("/v1/buckets/private", json={"public": False},
                                headers=tenant.headers()).status_code == 200
