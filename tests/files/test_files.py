"""Files: direct upload, read, download, change, copy, delete — as the contract says."""

from __future__ import annotations

import hashlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from cloudnexus.limits import AT_ONCE_MAX_BYTES
from tests.conftest import Tenant

FILE_FIELDS = {"id", "bucket", "path", "size", "content_type", "sha256", "etag", "metadata",
               "tags", "status", "created_at", "updated_at", "public_url", "created_by",
               "detected_content_type", "image"}


@pytest.fixture
def bucket(client: Any, tenant: Tenant) -> str:
    assert client.post("/v1/buckets", json={"name": "docs"},
                       headers=tenant.headers()).status_code == 201
    return "docs"


def upload(client: Any, tenant: Tenant, data: bytes = b"hello", *, name: str = "a.txt",
           bucket: str = "docs", content_type: str = "text/plain", **fields: Any) -> Any:
    return client.post(f"/v1/buckets/{bucket}/files", headers=tenant.headers(),
                       files={"file": (name, data, content_type)}, data=fields)


def test_direct_upload_round_trip_on_every_stack(stack_client: Any, stack_tenant: Tenant,
                                                 send: Any) -> None:
    headers = stack_tenant.headers()
    stack_client.post("/v1/buckets", json={"name": "docs"}, headers=headers)
    data = bytes(range(256)) * 12_000  # 3 MB: past the 1 MiB in memory, the spool goes to disk
    created = stack_client.post("/v1/buckets/docs/files", headers=headers,
                                files={"file": ("blob.bin", data, "application/octet-stream")},
                                data={"path": "raw/blob.bin", "tags": ["a", "b"],
                                      "metadata": json.dumps({"owner": "ci"})})
    assert created.status_code == 201, created.text
    file = created.json()
    assert set(file) == FILE_FIELDS
    assert (file["bucket"], file["path"], file["size"], file["status"]) == (
        "docs", "raw/blob.bin", len(data), "ready")
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    assert file["metadata"] == {"owner": "ci"} and file["tags"] == ["a", "b"]
    assert file["public_url"] is None
    assert file["created_by"] == f"key:{uuid.UUID(stack_tenant.admin.split('_')[1])}"
    redirect = stack_client.get(f"/v1/files/{file['id']}/content", headers=headers,
                                follow_redirects=False)
    assert redirect.status_code == 302
    assert send("GET", redirect.headers["location"]).content == data


def test_path_defaults_to_the_file_name(client: Any, tenant: Tenant, bucket: str) -> None:
    assert upload(client, tenant, name="notes.md").json()["path"] == "notes.md"


@pytest.mark.parametrize("path", ["/abs", "a//b", "a/../b", "./a", "a/.", "..", "a\x00b",
                                  "a\nb", "tab\there", "x" * 1025, "é" * 513])
def test_unsafe_paths_are_400(client: Any, tenant: Tenant, bucket: str, path: str) -> None:
    response = upload(client, tenant, path=path)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("path", ["a/b/c.txt", "日本/ファイル.txt", "עברית.txt", "x" * 1024,
                                  "with space/and'quote\".txt", "...hidden", "a/.b"])
def test_unusual_but_safe_paths_are_kept(client: Any, tenant: Tenant, bucket: str,
                                         path: str) -> None:
    response = upload(client, tenant, path=path)
    assert response.status_code == 201, response.text
    assert response.json()["path"] == path


def test_over_the_direct_limit_is_413_pointing_to_uploads(make_settings: Any, database_url: str,
                                                          tmp_path: Any) -> None:
    from cloudnexus.app import create_app

    app = create_app(make_settings(database_url=database_url, direct_upload_max_bytes=1000))
    tenant = Tenant(app.state.runtime, "acme")
    with TestClient(app) as client:
        client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
        response = upload(client, tenant, b"x" * 1001)
        assert response.status_code == 413
        assert "/uploads" in response.json()["error"]["message"]
        assert upload(client, tenant, b"x" * 1000).status_code == 201
        huge = upload(client, tenant, b"x" * 200_000)
        assert huge.status_code == 413
    app.state.runtime.close()


def test_bucket_rules_apply_to_direct_uploads(client: Any, tenant: Tenant) -> None:
    client.post("/v1/buckets", json={"name": "images", "max_file_size": 10,
                                     "allowed_content_types": ["image/*"]},
                headers=tenant.headers())
    too_big = upload(client, tenant, b"x" * 11, name="a.png", content_type="image/png",
                     bucket="images")
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    wrong_type = upload(client, tenant, b"x", bucket="images")
    assert wrong_type.status_code == 415
    assert wrong_type.json()["error"]["code"] == "unsupported_media_type"
    assert upload(client, tenant, b"x", name="a.png", content_type="image/png",
                  bucket="images").status_code == 201


def test_taken_path_is_409_unless_overwrite(client: Any, tenant: Tenant, bucket: str) -> None:
    first = upload(client, tenant, b"one").json()
    taken = upload(client, tenant, b"two")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "conflict"
    replaced = upload(client, tenant, b"three!", overwrite="true")
    assert replaced.status_code == 201 and replaced.json()["id"] == first["id"]
    shown = client.get(f"/v1/files/{first['id']}", headers=tenant.headers()).json()
    assert (shown["size"], shown["etag"]) == (6, replaced.json()["etag"])
    usage = client.get("/v1/workspace", headers=tenant.headers()).json()["usage"]
    assert usage == {"bytes": 6, "files": 1, "derived_bytes": 0}


@pytest.mark.parametrize(("fields", "status"), [
    ({"metadata": "not json"}, 400), ({"metadata": "[1, 2]"}, 422),
    ({"metadata": json.dumps({"k": "v" * 9000})}, 422),
    ({"tags": [f"t{i}" for i in range(51)]}, 422), ({"tags": ["x" * 65]}, 422),
    ({"tags": [""]}, 422),
])
def test_bad_metadata_and_tags(client: Any, tenant: Tenant, bucket: str,
                               fields: dict[str, Any], status: int) -> None:
    response = upload(client, tenant, **fields)
    assert response.status_code == status, response.text


def test_form_without_a_file_is_400(client: Any, tenant: Tenant, bucket: str) -> None:
    response = client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                           data={"path": "x"})
    assert response.status_code == 400
    not_a_form = client.post("/v1/buckets/docs/files", headers=tenant.headers(), json={})
    assert not_a_form.status_code == 400


def test_get_file_has_its_etag_header(client: Any, tenant: Tenant, bucket: str) -> None:
    file = upload(client, tenant).json()
    response = client.get(f"/v1/files/{file['id']}", headers=tenant.headers())
    assert response.json() == file
    assert response.headers["etag"] == f'"{file["etag"]}"'
    for missing in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert client.get(f"/v1/files/{missing}", headers=tenant.headers()).status_code == 404


@pytest.mark.parametrize("name", ['quo"te.txt', "new\nline.txt", "日本語.txt", "semi;colon.txt",
                                  "emoji 😀.txt", "back\\slash.txt"])
def test_download_as_attachment_keeps_the_name_safe(client: Any, tenant: Tenant, bucket: str,
                                                    name: str) -> None:
    path = name.replace("\n", " ")  # a path may not hold a newline; the header must cope anyway
    file = upload(client, tenant, path=path).json()
    redirect = client.get(f"/v1/files/{file['id']}/content?download=true",
                          headers=tenant.headers(), follow_redirects=False)
    assert redirect.status_code == 302
    fetched = client.get(redirect.headers["location"])
    disposition = fetched.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "\n" not in disposition
    disposition.encode("latin-1")
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == path
    assert fetched.content == b"hello"


def test_patch_renames_and_changes_metadata_and_tags(client: Any, tenant: Tenant,
                                                     bucket: str) -> None:
    file = upload(client, tenant).json()
    patched = client.patch(f"/v1/files/{file['id']}", headers=tenant.headers(),
                           json={"path": "renamed/b.txt", "metadata": {"v": 2}, "tags": ["x"]})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["path"], body["metadata"], body["tags"]) == ("renamed/b.txt", {"v": 2}, ["x"])
    assert body["etag"] != file["etag"] and patched.headers["etag"] == f'"{body["etag"]}"'
    redirect = client.get(f"/v1/files/{file['id']}/content", headers=tenant.headers(),
                          follow_redirects=False)
    assert client.get(redirect.headers["location"]).content == b"hello"  # a rename moves nothing


def test_patch_with_a_stale_if_match_is_412(client: Any, tenant: Tenant, bucket: str) -> None:
    file = upload(client, tenant).json()
    fresh = client.patch(f"/v1/files/{file['id']}", headers={
        **tenant.headers(), "If-Match": f'"{file["etag"]}"'}, json={"tags": ["one"]})
    assert fresh.status_code == 200
    stale = client.patch(f"/v1/files/{file['id']}", headers={
        **tenant.headers(), "If-Match": f'"{file["etag"]}"'}, json={"tags": ["two"]})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"


def test_patch_to_a_taken_path_is_409(client: Any, tenant: Tenant, bucket: str) -> None:
    upload(client, tenant, path="one.txt")
    two = upload(client, tenant, path="two.txt").json()
    response = client.patch(f"/v1/files/{two['id']}", headers=tenant.headers(),
                            json={"path": "one.txt"})
    assert response.status_code == 409
    bad = client.patch(f"/v1/files/{two['id']}", headers=tenant.headers(), json={"path": "../x"})
    assert bad.status_code == 400


def test_concurrent_patches_with_one_if_match_one_wins(app: Any, tenant: Tenant, client: Any,
                                                       bucket: str) -> None:
    file = upload(client, tenant).json()

    def patch(i: int) -> int:
        with TestClient(app) as own:
            return own.patch(f"/v1/files/{file['id']}", json={"tags": [f"t{i}"]}, headers={
                **tenant.headers(), "If-Match": f'"{file["etag"]}"'}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(patch, range(8)))
    assert statuses.count(200) == 1 and statuses.count(412) == 7, statuses


def test_concurrent_overwrites_of_one_path_all_succeed_and_one_file_stays(
        app: Any, tenant: Tenant, client: Any, bucket: str) -> None:
    upload(client, tenant, b"0")

    def overwrite(i: int) -> int:
        with TestClient(app) as own:
            return int(upload(own, tenant, b"x" * (i + 1), overwrite="true").status_code)

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(overwrite, range(16)))
    assert statuses == [201] * 16  # PostgreSQL answered some 409, "just taken"
    listed = client.get("/v1/buckets/docs/files", headers=tenant.headers()).json()["items"]
    assert len(listed) == 1
    usage = client.get("/v1/workspace", headers=tenant.headers()).json()["usage"]
    assert usage == {"bytes": listed[0]["size"], "files": 1, "derived_bytes": 0}


def test_patch_with_a_null_path_changes_nothing(client: Any, tenant: Tenant,
                                                bucket: str) -> None:
    file = upload(client, tenant).json()
    patched = client.patch(f"/v1/files/{file['id']}", json={"path": None, "tags": ["t"]},
                           headers=tenant.headers())
    assert patched.status_code == 200, patched.text
    assert (patched.json()["path"], patched.json()["tags"]) == (file["path"], ["t"])


def test_a_file_found_without_its_bytes_can_be_deleted_and_frees_its_path(
        app: Any, client: Any, tenant: Tenant, bucket: str) -> None:
    from sqlalchemy import update

    from cloudnexus.files.models import MISSING, File

    one = upload(client, tenant, b"12345", path="a.txt").json()
    upload(client, tenant, b"678", path="b/c.txt")
    with app.state.runtime.session_factory() as db:  # as maintenance marks them
        db.execute(update(File).values(status=MISSING))
        db.commit()
    taken = upload(client, tenant, b"new", path="a.txt")
    assert taken.status_code == 409 and one["id"] in taken.json()["error"]["message"]
    assert client.delete(f"/v1/files/{one['id']}", headers=tenant.headers()).status_code == 204
    batch = client.post("/v1/buckets/docs/files:delete", json={"prefix": "b/"},
                        headers=tenant.headers())
    assert batch.json() == {"deleted": 1}
    usage = client.get("/v1/workspace", headers=tenant.headers()).json()["usage"]
    assert usage == {"bytes": 0, "files": 0, "derived_bytes": 0}
    assert upload(client, tenant, b"new", path="a.txt").status_code == 201


def test_a_copy_whose_source_bytes_vanished_is_404(stack_app: Any, stack_client: Any,
                                                    stack_tenant: Tenant) -> None:
    headers, storage = stack_tenant.headers(), stack_app.state.runtime.storage
    stack_client.post("/v1/buckets", json={"name": "docs"}, headers=headers)
    file = upload(stack_client, stack_tenant).json()
    for info in storage.list_objects(f"private/{stack_tenant.workspace_id}/"):
        storage.delete(info.key)  # as a delete racing the copy would
    copied = stack_client.post(f"/v1/files/{file['id']}/copy", json={"path": "b.txt"},
                               headers=headers)
    assert copied.status_code == 404 and copied.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("content_type", ["text/" + "x" * 300, "text/plain; a=\x01b",
                                          "text/plain; charset=\u00e9", "text plain",
                                          "text/plain; a"])
def test_a_file_part_whose_type_is_no_media_type_is_422(client: Any, tenant: Tenant,
                                                         bucket: str, content_type: str) -> None:
    boundary = "b0undary"
    form = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
            f"Content-Type: {content_type}\r\n\r\nhello\r\n--{boundary}--\r\n").encode()
    response = client.post("/v1/buckets/docs/files", content=form, headers={
        **tenant.headers(), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(("sent", "kept"), [
    ('text/plain; name="a\\"b.txt"', 'text/plain; name="a\\"b.txt"'),  # a quoted-pair
    ("text/plain;", "text/plain;"),  # an empty parameter
    ("text/plain ; charset=utf-8 ", "text/plain; charset=utf-8"),  # white space around
    ("Text/Plain;Charset=UTF-8", "text/plain;Charset=UTF-8"),
])
def test_media_types_as_http_allows_them_are_kept_in_one_form(
        client: Any, tenant: Tenant, bucket: str, sent: str, kept: str) -> None:
    boundary = "b0undary"
    form = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
            f"Content-Type: {sent}\r\n\r\nhello\r\n--{boundary}--\r\n").encode()
    direct = client.post("/v1/buckets/docs/files", content=form, headers={
        **tenant.headers(), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert direct.status_code == 201, direct.text
    presigned = client.post("/v1/buckets/docs/uploads", headers=tenant.headers(), json={
        "path": "b.txt", "size": 5, "content_type": sent})
    assert presigned.status_code == 201, presigned.text
    assert direct.json()["content_type"] == presigned.json()["content_type"] == kept


def test_a_media_types_case_is_folded_so_filters_find_it(app: Any, client: Any, tenant: Tenant,
                                                         bucket: str) -> None:
    from sqlalchemy import update

    from cloudnexus.files.models import File

    file = upload(client, tenant, content_type="Image/PNG; Name=A").json()
    assert file["content_type"] == "image/png; Name=A"
    earlier = upload(client, tenant, path="b.png", content_type="image/png").json()
    with app.state.runtime.session_factory() as db:  # as versions before this one kept it
        db.execute(update(File).where(File.path == "b.png").values(content_type="IMAGE/Png"))
        db.commit()
    for wanted in ("image/png", "image/*", "IMAGE/PNG"):
        listed = client.get(f"/v1/buckets/docs/files?content_type={wanted}",
                            headers=tenant.headers()).json()["items"]
        assert [item["id"] for item in listed] == [file["id"], earlier["id"]], wanted


def test_batch_delete_with_a_nul_in_its_prefix_is_422(client: Any, tenant: Tenant,
                                                      bucket: str) -> None:
    response = client.post("/v1/buckets/docs/files:delete", json={"prefix": "a\u0000"},
                           headers=tenant.headers())
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"


def test_copy_within_and_across_buckets(client: Any, tenant: Tenant, bucket: str) -> None:
    file = upload(client, tenant, b"copy me", metadata=json.dumps({"k": 1})).json()
    same = client.post(f"/v1/files/{file['id']}/copy", json={"path": "copy.txt"},
                       headers=tenant.headers())
    assert same.status_code == 201, same.text
    assert same.json()["id"] != file["id"] and same.json()["sha256"] == file["sha256"]
    assert same.json()["metadata"] == {"k": 1}
    client.post("/v1/buckets", json={"name": "other"}, headers=tenant.headers())
    across = client.post(f"/v1/files/{file['id']}/copy", headers=tenant.headers(),
                         json={"bucket": "other", "path": "deep/copy.txt"})
    assert across.status_code == 201 and across.json()["bucket"] == "other"
    location = client.get(f"/v1/files/{across.json()['id']}/content", headers=tenant.headers(),
                          follow_redirects=False).headers["location"]
    assert client.get(location).content == b"copy me"
    client.delete(f"/v1/files/{file['id']}", headers=tenant.headers())
    assert client.get(location).content == b"copy me"  # a copy has bytes of its own
    taken = client.post(f"/v1/files/{same.json()['id']}/copy", json={"path": "copy.txt"},
                        headers=tenant.headers())
    assert taken.status_code == 409
    missing = client.post(f"/v1/files/{same.json()['id']}/copy", headers=tenant.headers(),
                          json={"bucket": "nope", "path": "x"})
    assert missing.status_code == 404
    assert client.get("/v1/workspace", headers=tenant.headers()).json()["usage"] == {
        "bytes": 14, "files": 2, "derived_bytes": 0}


def test_delete_then_a_second_delete_is_404(client: Any, tenant: Tenant, bucket: str) -> None:
    file = upload(client, tenant).json()
    assert client.delete(f"/v1/files/{file['id']}", headers=tenant.headers()).status_code == 204
    second = client.delete(f"/v1/files/{file['id']}", headers=tenant.headers())
    assert second.status_code == 404 and second.json()["error"]["code"] == "not_found"
    assert client.get("/v1/workspace", headers=tenant.headers()).json()["usage"] == {
        "bytes": 0, "files": 0, "derived_bytes": 0}


def test_batch_delete_by_ids_and_by_prefix(client: Any, tenant: Tenant, bucket: str) -> None:
    ids = [upload(client, tenant, path=f"keep/{i}.txt").json()["id"] for i in range(3)]
    for i in range(4):
        upload(client, tenant, path=f"tmp/{i}.txt")
    upload(client, tenant, path="tmpx.txt")
    by_prefix = client.post("/v1/buckets/docs/files:delete", json={"prefix": "tmp/"},
                            headers=tenant.headers())
    assert by_prefix.json() == {"deleted": 4}
    by_ids = client.post("/v1/buckets/docs/files:delete", headers=tenant.headers(),
                         json={"ids": [*ids[:2], "00000000-0000-0000-0000-000000000000"]})
    assert by_ids.json() == {"deleted": 2}
    left = client.get("/v1/buckets/docs/files", headers=tenant.headers()).json()["items"]
    assert sorted(f["path"] for f in left) == ["keep/2.txt", "tmpx.txt"]
    for body in ({}, {"ids": ids, "prefix": "x"}, {"ids": []},
                 {"ids": ["00000000-0000-0000-0000-000000000000"] * 1001}):
        response = client.post("/v1/buckets/docs/files:delete", json=body,
                               headers=tenant.headers())
        assert response.status_code == 422, body


def test_batch_delete_cannot_reach_another_bucket(client: Any, tenant: Tenant,
                                                  bucket: str) -> None:
    client.post("/v1/buckets", json={"name": "other"}, headers=tenant.headers())
    elsewhere = upload(client, tenant, bucket="other").json()
    response = client.post("/v1/buckets/docs/files:delete", json={"ids": [elsewhere["id"]]},
                           headers=tenant.headers())
    assert response.json() == {"deleted": 0}
    assert client.get(f"/v1/files/{elsewhere['id']}", headers=tenant.headers()).status_code == 200


def test_public_bucket_files_have_a_public_url(client: Any, tenant: Tenant) -> None:
    client.post("/v1/buckets", json={"name": "site", "public": True}, headers=tenant.headers())
    file = upload(client, tenant, b"<h1>hi</h1>", name="index.html", content_type="text/html",
                  bucket="site").json()
    assert file["public_url"] and "/uploads/" in file["public_url"]
    assert client.get(file["public_url"]).content == b"<h1>hi</h1>"
    private = client.post("/v1/buckets", json={"name": "secret"}, headers=tenant.headers())
    assert private.status_code == 201
    hidden = upload(client, tenant, bucket="secret").json()
    assert hidden["public_url"] is None


def test_visibility_changes_only_while_empty(client: Any, tenant: Tenant, bucket: str) -> None:
    upload(client, tenant)
    response = client.patch("/v1/buckets/docs", json={"public": True}, headers=tenant.headers())
    assert response.status_code == 409


def test_visibility_does_not_change_under_an_upload_in_flight(client: Any, tenant: Tenant,
                                                              bucket: str) -> None:
    """Its object key has the prefix of the visibility it began with: made public, a file
    completed under private/ had no public URL (500); made private, one under uploads/ was
    public."""
    started = client.post("/v1/buckets/docs/uploads", headers=tenant.headers(), json={
        "path": "a.txt", "size": 5, "content_type": "text/plain"}).json()
    response = client.patch("/v1/buckets/docs", json={"public": True}, headers=tenant.headers())
    assert response.status_code == 409
    assert client.delete(f"/v1/uploads/{started['id']}",
                         headers=tenant.headers()).status_code == 204
    response = client.patch("/v1/buckets/docs", json={"public": True}, headers=tenant.headers())
    assert response.status_code == 200


def test_a_direct_upload_whose_bucket_turns_public_meanwhile_is_409_and_keeps_nothing(
        app: Any, client: Any, tenant: Tenant, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its key was made private; recorded so, every read of the bucket was a 500. (PostgreSQL:
    SQLite writes one transaction at a time, so there the change waits for the upload.)"""
    from cloudnexus.storage.local import LocalStorage

    if app.state.runtime.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serializes the two")

    storing, changed = LocalStorage.put, []

    def put_after_the_change(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
        if not changed:  # the upload has made its key; an admin makes the bucket public now
            with TestClient(app) as admin:
                changed.append(admin.patch("/v1/buckets/docs", json={"public": True},
                                           headers=tenant.headers()).status_code)
        return storing(self, key, *args, **kwargs)

    monkeypatch.setattr(LocalStorage, "put", put_after_the_change)
    refused = upload(client, tenant)
    assert (changed, refused.status_code) == ([200], 409), refused.text
    listed = client.get("/v1/buckets/docs/files", headers=tenant.headers())
    assert listed.status_code == 200 and listed.json()["items"] == []
    storage = app.state.runtime.storage
    assert [*storage.list_objects(f"private/{tenant.workspace_id}/")] == []
    assert client.get("/v1/workspace", headers=tenant.headers()).json()["usage"] == {
        "bytes": 0, "files": 0, "derived_bytes": 0}


def test_an_overwrite_and_a_batch_delete_of_the_same_files_do_not_deadlock(
        app: Any, client: Any, tenant: Tenant, bucket: str) -> None:
    """The record holds the old file's row, then wants the workspace's; the delete marked
    the other file, counted it (the workspace's row), then wanted the old file's row."""
    import io
    import threading
    import time
    import uuid

    from cloudnexus.buckets import service as buckets
    from cloudnexus.db.columns import new_id
    from cloudnexus.files import deletion
    from cloudnexus.files import service as files

    made = sorted((upload(client, tenant, path=name).json() for name in ("a", "b")),
                  key=lambda file: uuid.UUID(file["id"]))
    runtime, outcome = app.state.runtime, {}

    def delete_both() -> None:
        with runtime.session_factory() as db:
            docs = buckets.get(db, workspace_id=tenant.workspace_id, name="docs")
            outcome["deleted"] = deletion.delete_many(
                db, runtime.storage, bucket=docs, ids=[uuid.UUID(f["id"]) for f in made])

    deleting = threading.Thread(target=delete_both)

    def bytes_still_arriving() -> None:  # as a forwarded part's last bytes
        deleting.start()
        time.sleep(1)

    with runtime.session_factory() as db:
        docs = buckets.get(db, workspace_id=tenant.workspace_id, name="docs")
        file_id = new_id()
        key = files.new_object_key(docs, file_id)
        runtime.storage.put(key, io.BytesIO(b"b"), content_type="text/plain")
        files.record(db, runtime.storage, files.NewFile(
            bucket=docs, file_id=file_id, path=made[1]["path"], size=1,
            content_type="text/plain", sha256=None, metadata={}, tags=[],
            storage_key=key, overwrite=True, created_by=None,
            bytes_stored=bytes_still_arriving))
        db.commit()
    deleting.join(30)
    # Both went: the delete reached "b" once it was replaced, and the new "b" keeps its id.
    assert outcome == {"deleted": 2}


def test_bucket_with_files_is_deleted_only_with_force(client: Any, tenant: Tenant,
                                                      bucket: str) -> None:
    file = upload(client, tenant).json()
    refused = client.delete("/v1/buckets/docs", headers=tenant.headers())
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    assert client.delete("/v1/buckets/docs?force=true", headers=tenant.headers()).status_code == 204
    assert client.get(f"/v1/files/{file['id']}", headers=tenant.headers()).status_code == 404
    assert client.get("/v1/workspace", headers=tenant.headers()).json()["usage"] == {
        "bytes": 0, "files": 0, "derived_bytes": 0}


def test_a_refused_direct_upload_leaves_no_bytes_behind(stack_app: Any, stack_client: Any,
                                                       stack_tenant: Tenant) -> None:
    """The path and the quota are checked after the bytes are stored: a refusal deletes them."""
    from cloudnexus.workspaces import service

    runtime, headers = stack_app.state.runtime, stack_tenant.headers()
    stack_client.post("/v1/buckets", json={"name": "docs"}, headers=headers)
    with runtime.session_factory() as db:
        service.set_quota(db, workspace=service.get(db, workspace_id=stack_tenant.workspace_id),
                          max_bytes=10, max_files=None)
    assert upload(stack_client, stack_tenant, b"12345", path="a").status_code == 201
    assert upload(stack_client, stack_tenant, b"67890", path="a").status_code == 409
    assert upload(stack_client, stack_tenant, b"123456", path="b").status_code == 403
    stored = [info.size for info in
              runtime.storage.list_objects(f"private/{stack_tenant.workspace_id}/")]
    assert stored == [5]


@pytest.mark.parametrize("size", [5, AT_ONCE_MAX_BYTES + 1])  # recorded on the loop, or not
def test_a_direct_upload_whose_record_fails_is_503_and_leaves_no_bytes(
        app: Any, client: Any, tenant: Tenant, bucket: str, monkeypatch: pytest.MonkeyPatch,
        size: int) -> None:
    """The database drops out as the record is sent: the bytes stored for it go too."""
    from sqlalchemy.exc import OperationalError

    from cloudnexus.files import service

    if not app.state.runtime.settings.uses_postgresql:
        pytest.skip("SQLite's record is not the one statement this fails")

    def dropped(*args: Any) -> Any:
        raise OperationalError("record", {}, Exception("server closed the connection"))

    async def dropped_on_loop(*args: Any) -> Any:
        dropped()

    monkeypatch.setattr(service, "fetch_at_once", dropped)
    monkeypatch.setattr(service, "fetch_at_once_awaited", dropped_on_loop)
    failed = upload(client, tenant, b"x" * size)
    assert failed.status_code == 503, failed.text
    assert failed.json()["error"]["code"] == "service_unavailable"
    monkeypatch.undo()
    storage = app.state.runtime.storage
    assert [*storage.list_objects(f"private/{tenant.workspace_id}/")] == []
    assert client.get("/v1/buckets/docs/files", headers=tenant.headers()).json()["items"] == []


def test_a_record_sent_from_the_loop_is_seen_through_when_its_request_is_cancelled(
        app: Any, tenant: Tenant, client: Any, bucket: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the record's statement is sent, the database may commit it whatever happens to
    the request: a cancelled request must not delete the bytes of a file recorded."""
    import io

    import anyio

    from cloudnexus.buckets import service as buckets
    from cloudnexus.buckets.reads import BucketSettings
    from cloudnexus.files import service
    from cloudnexus.files.direct import DirectUpload

    runtime = app.state.runtime
    if not runtime.settings.uses_postgresql:
        pytest.skip("SQLite's records are written in worker threads")
    awaited = service.fetch_at_once_awaited

    async def slow(*args: Any) -> Any:
        await anyio.sleep(0.3)  # the statement on its way
        return await awaited(*args)

    monkeypatch.setattr(service, "fetch_at_once_awaited", slow)
    with runtime.session_factory() as db:
        docs = buckets.get(db, workspace_id=tenant.workspace_id, name="docs")
        settings = BucketSettings(id=docs.id, workspace_id=docs.workspace_id, name=docs.name,
                                  public=docs.public, max_file_size=None,
                                  allowed_content_types=None)
        db.rollback()
        body = b"kept"
        made = DirectUpload(body=io.BytesIO(body), size=len(body),
                            sha256=hashlib.sha256(body).hexdigest(), filename="k.txt",
                            content_type="text/plain", path="k.txt", bucket=settings)

        async def cancelled() -> None:
            with anyio.move_on_after(0.05):
                await service.create_direct(runtime, db, runtime.storage, upload=made)

        anyio.run(cancelled)
    kept = client.get(f"/v1/files/{made.file_id}/content", headers=tenant.headers(),
                      follow_redirects=True)
    assert kept.status_code == 200 and kept.content == body


def test_direct_upload_respects_the_quota(client: Any, app: Any, tenant: Tenant,
                                          bucket: str) -> None:
    from cloudnexus.workspaces import service

    with app.state.runtime.session_factory() as db:
        service.set_quota(db, workspace=service.get(db, workspace_id=tenant.workspace_id),
                          max_bytes=10, max_files=2)
    assert upload(client, tenant, b"12345", path="a").status_code == 201
    over = upload(client, tenant, b"123456", path="b")
    assert over.status_code == 403 and over.json()["error"]["code"] == "quota_exceeded"
    assert over.json()["error"]["details"] == [
        {"quota": "max_bytes", "limit": 10, "used": 5, "requested": 6}]
    assert over.json()["error"]["message"] == (
        "The workspace's byte quota would be exceeded: 5 of 10 in use, this needs 6 more")
    assert upload(client, tenant, b"12345", path="c").status_code == 201
    full = upload(client, tenant, b"", path="d").json()["error"]
    assert full["code"] == "quota_exceeded"
    assert full["details"] == [{"quota": "max_files", "limit": 2, "used": 2, "requested": 1}]
