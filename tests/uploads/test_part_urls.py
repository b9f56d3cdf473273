"""A multipart upload's part URLs come a bounded window at a time, so even a 5 TiB upload's
response stays far under Lambda's 6 MB and is signed quickly; the client pages on."""

from __future__ import annotations

import base64
import math
import os
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from cloudnexus.config import Settings
from tests.conftest import Tenant, client_of, running_app

MiB, GiB = 1024 * 1024, 1024 ** 3
LAMBDA_LIMIT = 6 * 1024 * 1024
WINDOW = 1000  # part URLs per response


def start_huge(client: Any, tenant: Tenant, size: int) -> Any:
    return client.post("/v1/buckets/media/uploads", headers=tenant.headers(), json={
        "path": f"huge-{size}.mp4", "size": size, "content_type": "video/mp4"})


def numbers(response: Any) -> list[int]:
    return [part["part_number"] for part in response.json()["parts"]]


def page(client: Any, tenant: Tenant, upload_id: str, marker: int | None = None) -> Any:
    query = "" if marker is None else f"?part_number_marker={marker}"
    response = client.get(f"/v1/uploads/{upload_id}{query}", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response


def test_huge_upload_lists_a_bounded_window_of_part_urls(
        stack_client: Any, stack_tenant: Tenant, bucket: str) -> None:
    created = start_huge(stack_client, stack_tenant, 5 * 1024 * GiB)  # 5 TiB, S3's largest
    assert created.status_code == 201, created.text
    upload = created.json()
    total = math.ceil(upload["size"] / upload["part_size"])
    assert total > 9_900 and len(created.content) < LAMBDA_LIMIT / 3
    assert numbers(created) == list(range(1, WINDOW + 1))
    assert (upload["parts_truncated"], upload["next_part_number_marker"]) == (True, 1000)
    following = page(stack_client, stack_tenant, upload["id"], upload["next_part_number_marker"])
    assert numbers(following) == list(range(1001, 2001))
    last = page(stack_client, stack_tenant, upload["id"], 9500)
    assert numbers(last) == list(range(9501, total + 1))
    assert (last.json()["parts_truncated"], last.json()["next_part_number_marker"]) == (
        False, None)


def test_part_urls_skip_received_parts_and_start_after_the_marker(
        stack_client: Any, stack_tenant: Tenant, bucket: str, send: Any) -> None:
    data = os.urandom(33 * MiB)  # parts of 16 MiB, 16 MiB and 1 MiB
    upload = stack_client.post("/v1/buckets/media/uploads", headers=stack_tenant.headers(),
                               json={"path": "clip.bin", "size": len(data),
                                     "content_type": "video/mp4", "multipart": True}).json()
    size = upload["part_size"]
    assert send("PUT", upload["parts"][1]["url"], data=data[size:2 * size]).status_code == 200
    everything = page(stack_client, stack_tenant, upload["id"])
    assert numbers(everything) == [1, 3]
    assert [part["part_number"] for part in everything.json()["parts_received"]] == [2]
    assert numbers(page(stack_client, stack_tenant, upload["id"], 1)) == [3]
    after_all = page(stack_client, stack_tenant, upload["id"], 3).json()
    assert (after_all["parts"], after_all["parts_truncated"]) == ([], False)
    refused = stack_client.get(f"/v1/uploads/{upload['id']}?part_number_marker=-1",
                               headers=stack_tenant.headers())
    assert refused.status_code == 422


def test_huge_upload_response_fits_lambda_with_a_session_token(
        monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings],
        database_url: str, moto_endpoint: str) -> None:
    """On Lambda the role's credentials carry a session token (~1,100 characters) in every
    URL: 9,638 part URLs for 160 GiB were 16 MB."""
    monkeypatch.setenv("AWS_SESSION_TOKEN", base64.b64encode(os.urandom(825)).decode())
    name = f"cnx-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=name)
    settings = make_settings(database_url=database_url, log_level="WARNING", s3_bucket=name,
                             s3_endpoint_url=moto_endpoint)
    for app in running_app(settings):
        tenant = Tenant(app.state.runtime, "acme")
        for client in client_of(app):
            client.post("/v1/buckets", headers=tenant.headers(), json={"name": "media"})
            created = start_huge(client, tenant, 160 * GiB)
            assert created.status_code == 201, created.text
            assert "X-Amz-Security-Token" in created.json()["parts"][0]["url"]
            assert len(created.content) < LAMBDA_LIMIT / 3
            assert len(created.json()["parts"]) == WINDOW


def test_openapi_documents_paging_through_part_urls(client: Any) -> None:
    document = client.get("/openapi.json").json()
    route = document["paths"]["/v1/uploads/{upload_id}"]["get"]
    assert "part_number_marker" in [parameter["name"] for parameter in route["parameters"]]
    assert "next_part_number_marker" in route["description"]
    fields = document["components"]["schemas"]["UploadOut"]["properties"]
    assert {"parts_truncated", "next_part_number_marker"} <= set(fields)
