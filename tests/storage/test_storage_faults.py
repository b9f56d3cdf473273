"""The S3 server going away mid-work, with the real servers: PostgreSQL, and moto behind a
proxy the test cuts. Completion and deletion answer 503, lose nothing, and finish on retry
(or, for a delete, by maintenance); no record ever says ready without its bytes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from fastapi.testclient import TestClient

from cloudnexus import maintenance
from cloudnexus.config import Settings
from tests.conftest import Tenant, client_of, running_app
from tests.tcp_proxy import TcpProxy

BODY = b"bytes that must not be lost\n" * 100


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[TcpProxy]:
    target = urlsplit(moto_endpoint)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 80) as running:
        yield running


@pytest.fixture
def app(make_settings: Any, postgres_url: str, moto_endpoint: str,
        proxy: TcpProxy) -> Iterator[Any]:
    """A bucket of its own on moto, reached through the proxy."""
    import boto3

    bucket = f"cnx-faults-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    settings: Settings = make_settings(database_url=postgres_url, log_level="CRITICAL",
                                       s3_bucket=bucket,
                                       s3_endpoint_url=f"http://127.0.0.1:{proxy.port}")
    yield from running_app(settings)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    yield from client_of(app)


@pytest.fixture
def tenant(app: Any, client: TestClient) -> Tenant:
    tenant = Tenant(app.state.runtime, f"faults-{uuid.uuid4().hex[:8]}")
    assert client.post("/v1/buckets", json={"name": "faults"},
                       headers=tenant.headers()).status_code == 201
    return tenant


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response.headers["Retry-After"]


def listed_paths(client: TestClient, tenant: Tenant) -> list[str]:
    page = client.get("/v1/buckets/faults/files", headers=tenant.headers()).json()
    return [item["path"] for item in page["items"]]


def uploaded_but_not_completed(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    upload = client.post("/v1/buckets/faults/uploads", headers=tenant.headers(), json={
        "path": "report.txt", "size": len(BODY), "content_type": "text/plain",
        "sha256": hashlib.sha256(BODY).hexdigest()}).json()
    put = requests.put(upload["url"], data=BODY, headers=upload["headers"], timeout=30)
    assert put.status_code == 200, put.text
    return upload  # type: ignore[no-any-return]


def test_completion_while_storage_is_away_is_503_and_completes_on_retry(
        client: TestClient, tenant: Tenant, proxy: TcpProxy) -> None:
    upload = uploaded_but_not_completed(client, tenant)
    proxy.stop()
    assert_unavailable(client.post(f"/v1/uploads/{upload['id']}/complete",
                                   headers=tenant.headers()))
    assert client.get(f"/v1/uploads/{upload['id']}",
                      headers=tenant.headers()).json()["status"] == "pending"
    assert client.get(f"/v1/files/{upload['file_id']}", headers=tenant.headers()).status_code \
        == 404
    assert listed_paths(client, tenant) == []

    proxy.start()
    done = client.post(f"/v1/uploads/{upload['id']}/complete", headers=tenant.headers())
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "ready" and listed_paths(client, tenant) == ["report.txt"]
    content = client.get(f"/v1/files/{upload['file_id']}/content", headers=tenant.headers(),
                         follow_redirects=False)
    assert requests.get(content.headers["location"], timeout=30).content == BODY


def completed_file(client: TestClient, tenant: Tenant) -> str:
    upload = uploaded_but_not_completed(client, tenant)
    done = client.post(f"/v1/uploads/{upload['id']}/complete", headers=tenant.headers())
    assert done.status_code == 200, done.text
    return str(done.json()["id"])


def storage_key(app: Any, file_id: str) -> str:
    from cloudnexus.files.models import File

    with app.state.runtime.session_factory() as db:
        return str(db.get(File, uuid.UUID(file_id)).storage_key)


def object_exists(app: Any, key: str) -> bool:
    from cloudnexus.storage.base import ObjectNotFound

    try:
        app.state.runtime.storage.head(key)
    except ObjectNotFound:
        return False
    return True


def delete_while_storage_is_away(app: Any, client: TestClient, tenant: Tenant,
                                 proxy: TcpProxy) -> tuple[str, str]:
    """A ready file whose delete meets the outage: 503, and its bytes still stored and named."""
    file_id = completed_file(client, tenant)
    key = storage_key(app, file_id)
    proxy.stop()
    assert_unavailable(client.delete(f"/v1/files/{file_id}", headers=tenant.headers()))
    assert listed_paths(client, tenant) == []  # being deleted: no longer offered
    proxy.start()
    assert object_exists(app, key)
    return file_id, key


def assert_gone(app: Any, client: TestClient, tenant: Tenant, file_id: str, key: str) -> None:
    assert not object_exists(app, key)
    assert client.get(f"/v1/files/{file_id}", headers=tenant.headers()).status_code == 404
    usage = client.get("/v1/buckets/faults", headers=tenant.headers()).json()["usage"]
    assert usage == {"bytes": 0, "files": 0, "derived_bytes": 0}


def test_delete_while_storage_is_away_is_503_and_completes_on_retry(
        app: Any, client: TestClient, tenant: Tenant, proxy: TcpProxy) -> None:
    file_id, key = delete_while_storage_is_away(app, client, tenant, proxy)
    assert client.delete(f"/v1/files/{file_id}", headers=tenant.headers()).status_code == 204
    assert_gone(app, client, tenant, file_id, key)
    assert client.delete(f"/v1/files/{file_id}", headers=tenant.headers()).status_code == 404


def test_delete_interrupted_by_storage_is_finished_by_maintenance(
        app: Any, client: TestClient, tenant: Tenant, proxy: TcpProxy) -> None:
    file_id, key = delete_while_storage_is_away(app, client, tenant, proxy)
    report = maintenance.run(app.state.runtime)
    assert report.finished_deletes >= 1  # (the database is shared: others may be finished too)
    assert_gone(app, client, tenant, file_id, key)
