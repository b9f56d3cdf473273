"""main.handler fed real-shaped API Gateway (HTTP API v2, REST API v1) and EventBridge events."""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from fastapi import Request

from cloudnexus.logs import configure_logging
from tests.conftest import Tenant

EVENTS = Path(__file__).parent / "lambda_events"


def event(name: str, **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    document.update(changes)
    return document


def context(request_id: str = "8f5e2a1c-0000-4000-8000-00000000beef") -> Any:
    return SimpleNamespace(aws_request_id=request_id, function_name="cloudnexus",
                           memory_limit_in_mb=512,
                           invoked_function_arn="arn:aws:lambda:us-east-1:1:function:cloudnexus",
                           get_remaining_time_in_millis=lambda: 29_000)


def v2(method: str, path: str, *, query: str = "", headers: dict[str, str] | None = None,
       body: bytes | None = None, stage: str = "$default") -> dict[str, Any]:
    document = event("http_api_v2")
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    document.update(rawPath=raw_path, rawQueryString=query)
    document["headers"] = {**document["headers"], **(headers or {})}
    document["requestContext"] = {**document["requestContext"], "stage": stage,
                                  "http": {**document["requestContext"]["http"],
                                           "method": method, "path": raw_path}}
    if body is not None:
        document.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
        document["headers"]["content-length"] = str(len(body))
    return document


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Any:
    """The real main module, imported fresh with this test's environment."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PUBLIC_URL", "https://abcdef1234.execute-api.us-east-1.amazonaws.com")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    sys.modules.pop("main", None)
    module: ModuleType = importlib.import_module("main")
    yield module
    module.app.state.runtime.close()
    sys.modules.pop("main", None)


@pytest.fixture
def tenant_of(main: Any) -> Tenant:
    return Tenant(main.app.state.runtime, "acme")


def body_of(response: dict[str, Any]) -> bytes:
    raw = response.get("body") or ""
    return base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()


def test_http_api_v2_health(main: Any) -> None:
    response = main.handler(event("http_api_v2"), context())
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "ok"
    assert response["headers"]["x-request-id"] == "Cx3QbjHroAMEV3w="  # API Gateway's id
    assert response["headers"]["content-type"] == "application/json"
    assert response["isBase64Encoded"] is False


def test_rest_api_v1_health_on_a_named_stage(main: Any) -> None:
    response = main.handler(event("rest_api_v1"), context())
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["checks"]["database"]["status"] == "ok"
    assert response["headers"]["x-request-id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_http_api_named_stage_needs_its_base_path(monkeypatch: pytest.MonkeyPatch,
                                                  main: Any) -> None:
    staged = v2("GET", "/health", stage="prod")
    assert main.handler(staged, context())["statusCode"] == 404
    monkeypatch.setenv("API_BASE_PATH", "/prod")
    sys.modules.pop("main", None)
    with_base = importlib.import_module("main")
    try:
        assert with_base.handler(staged, context())["statusCode"] == 200
    finally:
        with_base.app.state.runtime.close()


def test_repeated_query_keys_and_cookies_reach_the_app(main: Any) -> None:
    def echo(request: Request) -> dict[str, Any]:
        return {"tags": request.query_params.getlist("tag"), "cookies": dict(request.cookies)}

    main.app.add_api_route("/_echo", echo, include_in_schema=False)
    response = main.handler(v2("GET", "/_echo", query="tag=a&tag=b%20c&x=1"), context())
    assert json.loads(response["body"]) == {"tags": ["a", "b c"],
                                            "cookies": {"session": "abc123", "theme": "dark"}}
    v1 = event("rest_api_v1", path="/_echo",
               multiValueQueryStringParameters={"tag": ["a", "b"]},
               queryStringParameters={"tag": "b"})
    assert json.loads(main.handler(v1, context())["body"])["tags"] == ["a", "b"]


def test_binary_request_and_response_bodies(main: Any, tenant_of: Tenant) -> None:
    headers = {**tenant_of.headers(), "content-type": "application/json"}
    created = main.handler(v2("POST", "/v1/buckets", headers=headers,
                              body=b'{"name": "blobs"}'), context())
    assert created["statusCode"] == 201, created
    payload = bytes(range(256)) * 64 + b"\x00\xff\xfe"
    boundary = "cnxboundary7MA4YWxkTrZu0gW"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"blob.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() \
        + payload + f"\r\n--{boundary}--\r\n".encode()
    uploaded = main.handler(v2("POST", "/v1/buckets/blobs/files", body=form, headers={
        **tenant_of.headers(), "content-type": f"multipart/form-data; boundary={boundary}"}),
        context())
    assert uploaded["statusCode"] == 201, uploaded
    file = json.loads(body_of(uploaded))
    assert file["size"] == len(payload)
    assert file["sha256"] == hashlib.sha256(payload).hexdigest()
    redirect = main.handler(v2("GET", f"/v1/files/{file['id']}/content",
                               headers=tenant_of.headers()), context())
    assert redirect["statusCode"] == 302
    location = redirect["headers"]["location"]
    path, _, query = location.removeprefix(
        "https://abcdef1234.execute-api.us-east-1.amazonaws.com").partition("?")
    downloaded = main.handler(v2("GET", path, query=query), context())
    assert downloaded["statusCode"] == 200
    assert downloaded["isBase64Encoded"] is True
    assert body_of(downloaded) == payload


def test_errors_keep_the_contract_shape_through_the_handler(main: Any) -> None:
    response = main.handler(v2("GET", "/v1/workspace"), context())
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["request_id"] == "Cx3QbjHroAMEV3w="
    missing = main.handler(v2("GET", "/nowhere"), context())
    assert json.loads(missing["body"])["error"]["code"] == "not_found"


def test_scheduled_event_runs_maintenance(main: Any) -> None:
    result = main.handler(event("scheduled"), context())
    assert result["maintenance"] == "ok"
    assert set(result["report"]) >= {"expired_uploads", "orphans_removed", "missing_marked"}


def test_migrate_event_applies_the_migrations(main: Any) -> None:
    from cloudnexus.migrations import head_revision

    result = main.handler({"cloudnexus": "migrate"}, context())
    assert result == {"migrated": head_revision(main.app.state.runtime.engine)}


@pytest.mark.parametrize("unknown", [{"foo": 1}, {"Records": [{"eventSource": "aws:sqs"}]},
                                     {"cloudnexus": "drop-everything"},
                                     [], "text", None])
def test_unknown_event_gets_a_clear_error(capfd: pytest.CaptureFixture[str], main: Any,
                                          unknown: Any) -> None:
    configure_logging("WARNING")  # onto the stdout capfd watches
    result = main.handler(copy.deepcopy(unknown), context("req-unknown"))
    assert result["error"]["code"] == "unsupported_event"
    out = capfd.readouterr().out
    logged = [json.loads(line) for line in out.splitlines() if line]
    assert any(entry["level"] == "ERROR" and entry.get("aws_request_id") == "req-unknown"
               for entry in logged), out


def test_engine_and_storage_are_made_once_and_reused(main: Any) -> None:
    runtime = main.app.state.runtime
    main.handler(event("http_api_v2"), context())
    engine, storage = runtime.engine, runtime.storage
    main.handler(event("http_api_v2"), context())
    assert runtime.engine is engine and runtime.storage is storage
