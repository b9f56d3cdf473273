"""Security properties that cut across routes: no key in the logs, presigned URLs that expire
within PRESIGN_EXPIRES, and SQL-looking input taken as data."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, running_app

SQLISH = ["'; DROP TABLE files; --", "' OR '1'='1", "x%' OR path LIKE '%", "\\'; --", "_%"]
PRESIGN_EXPIRES = 120


def test_keys_and_authorization_headers_never_reach_the_logs(
        make_settings: Callable[..., Any], database_url: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    """At DEBUG, a request with a good key, one with a wrong secret and one malformed."""
    for application in running_app(make_settings(database_url=database_url, log_level="DEBUG")):
        with TestClient(application) as client:
            tenant = Tenant(application.state.runtime, "logs")
            good = tenant.admin
            prefix, key_id, secret = good.split("_", 2)  # the secret may hold "_" itself
            wrong = f"{prefix}_{key_id}_{'x' * len(secret)}"
            for key, status in ((good, 200), (wrong, 401), ("not-a-key-at-all", 401)):
                assert client.get("/v1/workspace",
                                  headers={"Authorization": f"Bearer {key}"}).status_code == status
    captured = capfd.readouterr()
    logged = captured.out + captured.err
    assert '"path": "/v1/workspace"' in logged  # the requests were logged...
    for secret_text in (good, secret, wrong, "not-a-key-at-all", "Bearer"):
        assert secret_text not in logged  # ...without their keys


def test_share_link_tokens_never_reach_the_logs(
        make_settings: Callable[..., Any], database_url: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    """A share link's token is a credential: the access line names the route, not the token."""
    for application in running_app(make_settings(database_url=database_url, log_level="DEBUG")):
        with TestClient(application) as client:
            headers = Tenant(application.state.runtime, "links").headers()
            client.post("/v1/buckets", json={"name": "shared"}, headers=headers)
            file = client.post("/v1/buckets/shared/files", headers=headers,
                               files={"file": ("a.txt", b"abc", "text/plain")}).json()
            link = client.post(f"/v1/files/{file['id']}/links", headers=headers,
                               json={"expires_in": 60}).json()
            token = link["url"].rsplit("/", 1)[1]
            assert client.get(f"/s/{token}", follow_redirects=False).status_code == 302
    server_lines = [line for line in "".join(capfd.readouterr()).splitlines()
                    if '"logger": "httpx"' not in line]  # the test client's own request log
    logged = "\n".join(server_lines)
    assert '"path": "/s/{token}"' in logged and token not in logged


def expires_in_seconds(url: str) -> int:
    """How long a presigned URL lives, read off the URL itself (S3 or the local backend)."""
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    if "X-Amz-Expires" in query:
        return int(query["X-Amz-Expires"])
    return int(query["expires"]) - int(time.time())


def test_presigned_urls_expire_within_presign_expires(
        make_settings: Callable[..., Any], database_url: str,
        storage_settings: dict[str, Any]) -> None:
    settings = make_settings(database_url=database_url, log_level="WARNING",
                             presign_expires=PRESIGN_EXPIRES, **storage_settings)
    for application in running_app(settings):
        with TestClient(application) as client:
            tenant = Tenant(application.state.runtime, "expiry")
            headers = tenant.headers()
            client.post("/v1/buckets", json={"name": "expiry"}, headers=headers)
            single = client.post("/v1/buckets/expiry/uploads", headers=headers, json={
                "path": "a.txt", "size": 3, "content_type": "text/plain"}).json()
            multipart = client.post("/v1/buckets/expiry/uploads", headers=headers, json={
                "path": "b.bin", "size": 3, "content_type": "application/octet-stream",
                "multipart": True}).json()
            direct = client.post("/v1/buckets/expiry/files", headers=headers,
                                 files={"file": ("c.txt", b"abc", "text/plain")}).json()
            content = client.get(f"/v1/files/{direct['id']}/content", headers=headers,
                                 follow_redirects=False)
            urls = [single["url"], content.headers["location"],
                    *(part["url"] for part in multipart["parts"])]
    for url in urls:
        assert 0 < expires_in_seconds(url) <= PRESIGN_EXPIRES, url


@pytest.mark.parametrize("text", SQLISH)
def test_sql_looking_input_is_data(client: TestClient, tenant: Tenant, text: str) -> None:
    """Stored and read back verbatim in a path, metadata and tags; matched literally by every
    filter; and the tables are all still there afterwards."""
    headers = tenant.headers()
    client.post("/v1/buckets", json={"name": "sqlish"}, headers=headers)
    plain = client.post("/v1/buckets/sqlish/files", headers=headers,
                        files={"file": ("plain.txt", b"x", "text/plain")}).json()
    stored = client.post("/v1/buckets/sqlish/files", headers=headers,
                         data={"path": f"dir/{text}", "metadata": f'{{"note": "{text}"}}'
                               if '"' not in text and "\\" not in text else "{}",
                               "tags": [text]},
                         files={"file": ("f.txt", b"y", "text/plain")})
    assert stored.status_code == 201, stored.text
    assert stored.json()["path"] == f"dir/{text}" and stored.json()["tags"] == [text]
    for name in ("q", "prefix", "tag"):
        value = {"prefix": f"dir/{text}"}.get(name, text)
        page = client.get("/v1/buckets/sqlish/files", params={name: value}, headers=headers)
        assert page.status_code == 200, page.text
        assert [item["id"] for item in page.json()["items"]] == [stored.json()["id"]], name
    odd_type = client.get("/v1/buckets/sqlish/files", params={"content_type": text},
                          headers=headers)
    assert odd_type.status_code in (200, 400)
    assert odd_type.status_code == 400 or odd_type.json()["items"] == []
    everything = client.get("/v1/buckets/sqlish/files", headers=headers).json()["items"]
    assert {item["id"] for item in everything} == {plain["id"], stored.json()["id"]}
    assert client.get("/v1/workspace", headers=headers).json()["usage"]["files"] == 2
