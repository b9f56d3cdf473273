"""The real `main.handler`, fed the event documents API Gateway and EventBridge send.

The documents in tests/events/ follow AWS's published examples: HTTP API payload format 2.0
(`rawPath`, `rawQueryString`, `cookies`, stage `$default`) and REST API payload format 1.0
(`httpMethod`, `path` without the stage, `multiValueQueryStringParameters`, stage `prod`).
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request, Response

from tests.conftest import TEST_BUCKET, Tenant

EVENTS = Path(__file__).parent / "events"
GATEWAY_URL = "https://abcdef1234.execute-api.us-east-1.amazonaws.com"
OCTETS = bytes(range(256)) + b"\r\n\x00\xff"
LoadMain = Callable[..., ModuleType]


def event(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return document


def context(request_id: str = "8f5e2a1c-0000-4000-8000-00000000beef") -> Any:
    """What the Lambda runtime passes as `context` (the attributes Mangum and we read)."""
    return SimpleNamespace(aws_request_id=request_id, function_name="cloudnexus",
                           memory_limit_in_mb=512, function_version="$LATEST",
                           invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:"
                                                "function:cloudnexus",
                           get_remaining_time_in_millis=lambda: 29_000)


def v2(method: str, path: str, *, query: str = "", headers: dict[str, str] | None = None,
       body: bytes | None = None) -> dict[str, Any]:
    """An HTTP API v2 event for any request, built from the GET /health document."""
    document = event("http_api_v2_get_health")
    document.update(rawPath=path, rawQueryString=query)
    document["headers"] = {**document["headers"], **(headers or {})}
    document["requestContext"]["http"].update(method=method, path=path)
    if body is not None:
        document.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
        document["headers"]["content-length"] = str(len(body))
    return document


def at(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The same v1 or v2 request, for another path."""
    if "rawPath" in document:
        document["rawPath"] = document["requestContext"]["http"]["path"] = path
    else:
        document["path"] = path
    return document


def body_of(response: dict[str, Any]) -> bytes:
    raw = response.get("body") or ""
    return base64.b64decode(raw) if response["isBase64Encoded"] else raw.encode()


def add_test_routes(app: FastAPI) -> None:
    """Routes that only echo what reached the app, so the tests see what Mangum delivered."""
    router = APIRouter(prefix="/_test")

    @router.get("/echo")
    def echo(request: Request) -> dict[str, Any]:
        return {"tag": request.query_params.getlist("tag"),
                "prefix": request.query_params.get("prefix"), "cookies": dict(request.cookies)}

    @router.post("/sha256")
    async def sha256(request: Request) -> dict[str, Any]:
        data = await request.body()
        return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    @router.get("/octets")
    def octets() -> Response:
        return Response(OCTETS, media_type="application/octet-stream")

    app.include_router(router)


@pytest.fixture
def load_main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
              sqlite_template: Path) -> Iterator[LoadMain]:
    """Import the real main module afresh with an environment, as a new container would.

    By default that is the embedded default (a migrated SQLite file and a local folder)."""
    loaded: list[ModuleType] = []

    def load(**env: str | None) -> ModuleType:
        data_dir = tmp_path / "data"
        if not (data_dir / "cloudnexus.db").exists():
            data_dir.mkdir(exist_ok=True)
            shutil.copy(sqlite_template, data_dir / "cloudnexus.db")
        environment = {"DATA_DIR": str(data_dir), "PUBLIC_URL": GATEWAY_URL,
                       "LOG_LEVEL": "WARNING", "API_BASE_PATH": None, **env}
        for name, value in environment.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        sys.modules.pop("main", None)
        module = importlib.import_module("main")
        add_test_routes(module.app)
        loaded.append(module)
        return module

    yield load
    for module in loaded:
        module.app.state.runtime.close()
    sys.modules.pop("main", None)


@pytest.fixture
def main(load_main: LoadMain) -> ModuleType:
    return load_main()


def test_http_api_v2_get_health(main: ModuleType) -> None:
    response = main.handler(event("http_api_v2_get_health"), context())
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert response["headers"]["content-type"] == "application/json"
    assert response["headers"]["x-content-type-options"] == "nosniff"
    body = json.loads(response["body"])
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok", "storage": "ok", "schema": "ok"}


def test_rest_api_v1_get_health_on_a_named_stage(main: ModuleType) -> None:
    response = main.handler(event("rest_api_v1_get_health"), context())
    assert response["statusCode"] == 200, response
    assert "multiValueHeaders" in response  # the v1 response format
    assert json.loads(response["body"])["status"] == "ok"


@pytest.mark.parametrize("name", ["http_api_v2_get_health", "rest_api_v1_get_health"])
def test_x_request_id_is_api_gateways_request_id(main: ModuleType, name: str) -> None:
    document = event(name)
    response = main.handler(document, context())
    assert response["headers"]["x-request-id"] == document["requestContext"]["requestId"]


def test_health_on_postgresql_and_s3(load_main: LoadMain, postgres_url: str,
                                     moto_endpoint: str) -> None:
    main = load_main(DATABASE_URL=postgres_url, S3_BUCKET=TEST_BUCKET,
                     S3_ENDPOINT_URL=moto_endpoint)
    for name in ("http_api_v2_get_health", "rest_api_v1_get_health"):
        response = main.handler(event(name), context())
        assert response["statusCode"] == 200, response
        checks = json.loads(response["body"])["checks"]
        assert checks["database"]["status"] == checks["storage"]["status"] == "ok"


def _v1_with_stage_in_path() -> dict[str, Any]:
    """The shape a custom domain's base path mapping `prod` gives a REST API: `path` keeps it."""
    return at(event("rest_api_v1_get_health"), "/prod/health")


@pytest.mark.parametrize(("make_event", "base_path", "status"), [
    # HTTP API: a named stage is in rawPath, so the app needs API_BASE_PATH to find /health.
    (lambda: event("http_api_v2_named_stage"), None, 404),
    (lambda: event("http_api_v2_named_stage"), "/prod", 200),
    (lambda: event("http_api_v2_get_health"), "/prod", 200),  # $default: nothing to strip
    # REST API: `path` leaves the stage out, so it works with or without the setting.
    (lambda: event("rest_api_v1_get_health"), None, 200),
    (lambda: event("rest_api_v1_get_health"), "/prod", 200),
    (_v1_with_stage_in_path, None, 404),
    (_v1_with_stage_in_path, "/prod", 200),
], ids=["v2-prod", "v2-prod-base", "v2-default-base", "v1-prod", "v1-prod-base",
        "v1-mapped", "v1-mapped-base"])
def test_named_stages_and_api_base_path(load_main: LoadMain, make_event: Callable[[], Any],
                                        base_path: str | None, status: int) -> None:
    main = load_main(API_BASE_PATH=base_path)
    response = main.handler(make_event(), context())
    assert response["statusCode"] == status, response
    if status == 404:
        assert json.loads(response["body"])["error"]["code"] == "not_found"


@pytest.mark.parametrize("name", ["http_api_v2_query_and_cookies",
                                  "rest_api_v1_query_and_cookies"])
def test_repeated_query_keys_arrive_as_a_list_and_cookies_arrive(main: ModuleType,
                                                                 name: str) -> None:
    response = main.handler(event(name), context())
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {
        "tag": ["a", "b c"], "prefix": "docs/",
        "cookies": {"session": "abc123", "theme": "dark"}}


@pytest.mark.parametrize("name", ["http_api_v2_binary_post", "rest_api_v1_binary_post"])
def test_base64_request_body_arrives_as_the_original_bytes(main: ModuleType, name: str) -> None:
    document = event(name)
    sent = base64.b64decode(document["body"])
    assert b"\x00" in sent and b"\xff" in sent  # not valid UTF-8: it must stay binary
    response = main.handler(document, context())
    assert json.loads(response["body"]) == {"size": len(sent),
                                            "sha256": hashlib.sha256(sent).hexdigest()}


@pytest.mark.parametrize("name", ["http_api_v2_get_health", "rest_api_v1_get_health"])
def test_binary_response_comes_back_base64(main: ModuleType, name: str) -> None:
    response = main.handler(at(event(name), "/_test/octets"), context())
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == OCTETS


@pytest.mark.parametrize("blocks", [64, 6_000], ids=["16 KiB", "1.5 MiB, forwarded"])
def test_binary_upload_and_download_through_the_contract_routes(main: ModuleType,
                                                                 blocks: int) -> None:
    tenant = Tenant(main.app.state.runtime, "acme")
    created = main.handler(v2("POST", "/v1/buckets", body=b'{"name": "blobs"}', headers={
        **tenant.headers(), "content-type": "application/json"}), context())
    assert created["statusCode"] == 201, created
    payload = bytes(range(256)) * blocks + b"\x00\xff\xfe"
    boundary = "cnxboundary7MA4YWxkTrZu0gW"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"blob.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() \
        + payload + f"\r\n--{boundary}--\r\n".encode()
    uploaded = main.handler(v2("POST", "/v1/buckets/blobs/files", body=form, headers={
        **tenant.headers(), "content-type": f"multipart/form-data; boundary={boundary}"}),
        context())
    assert uploaded["statusCode"] == 201, uploaded
    file = json.loads(body_of(uploaded))
    assert (file["size"], file["sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())
    redirect = main.handler(v2("GET", f"/v1/files/{file['id']}/content",
                               headers=tenant.headers()), context())
    assert redirect["statusCode"] == 302
    path, _, query = redirect["headers"]["location"].removeprefix(GATEWAY_URL).partition("?")
    downloaded = main.handler(v2("GET", path, query=query), context())
    assert downloaded["statusCode"] == 200 and downloaded["isBase64Encoded"] is True
    assert body_of(downloaded) == payload


@pytest.mark.parametrize("function_name", ["cloudnexus", None])
def test_a_lambda_container_does_its_blocking_work_on_the_event_loop(
        load_main: LoadMain, monkeypatch: pytest.MonkeyPatch, function_name: str | None) -> None:
    """A container serves one request at a time: the hot routes start no worker thread (each
    would be started for that invocation alone). Elsewhere they hand it to worker threads."""
    import anyio.to_thread

    main = load_main(AWS_LAMBDA_FUNCTION_NAME=function_name)
    tenant = Tenant(main.app.state.runtime, "acme")
    json_headers = {**tenant.headers(), "content-type": "application/json"}
    assert main.handler(v2("POST", "/v1/buckets", body=b'{"name": "docs"}',
                           headers=json_headers), context())["statusCode"] == 201
    boundary = "cnxboundary7MA4YWxkTrZu0gW"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            f"--{boundary}--\r\n").encode()
    requests = [
        v2("POST", "/v1/buckets/docs/files", body=form, headers={
            **tenant.headers(), "content-type": f"multipart/form-data; boundary={boundary}"}),
        v2("GET", "/v1/buckets/docs/files", query="limit=100", headers=tenant.headers()),
        v2("POST", "/v1/buckets/docs/uploads", headers=json_headers,
           body=b'{"path": "b.txt", "size": 5, "content_type": "text/plain"}'),
        v2("GET", "/health")]
    for request in requests:  # warm: the first request of each kind makes what it uses
        assert main.handler(request, context())["statusCode"] in (200, 201)
    trips: list[Any] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(*args: Any, **kwargs: Any) -> Any:
        trips.append(args[0])
        return await run_sync(*args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    requests[0] = v2("POST", "/v1/buckets/docs/files", body=form.replace(b"a.txt", b"c.txt"),
                     headers=requests[0]["headers"])
    for request in requests:
        assert main.handler(request, context())["statusCode"] in (200, 201)
    assert (trips == []) == (function_name is not None), trips


def test_a_json_body_over_the_bound_is_refused_under_lambda_too(main: ModuleType) -> None:
    """API Gateway lets 10 MB through (Lambda 6 MB); the app's own bound is 1 MiB."""
    from cloudnexus.middleware import JSON_BODY_MAX_BYTES

    tenant = Tenant(main.app.state.runtime, "acme")
    padded = b'{"name": "roomy"' + b" " * JSON_BODY_MAX_BYTES + b"}"
    refused = main.handler(v2("POST", "/v1/buckets", body=padded, headers={
        **tenant.headers(), "content-type": "application/json"}), context())
    assert refused["statusCode"] == 413, refused
    assert json.loads(body_of(refused))["error"]["code"] == "payload_too_large"
    listed = main.handler(v2("GET", "/v1/buckets", headers=tenant.headers()), context())
    assert json.loads(body_of(listed))["items"] == []


def test_errors_keep_the_contract_shape_through_the_handler(main: ModuleType) -> None:
    unauthorized = main.handler(v2("GET", "/v1/workspace"), context())
    assert unauthorized["statusCode"] == 401
    error = json.loads(unauthorized["body"])["error"]
    assert (error["code"], error["request_id"]) == ("unauthorized", "Cx3QbjHroAMEV3w=")
    missing = main.handler(v2("GET", "/nowhere"), context())
    assert json.loads(missing["body"])["error"]["code"] == "not_found"


def test_log_lines_carry_both_request_ids(capfd: pytest.CaptureFixture[str],
                                          load_main: LoadMain) -> None:
    main = load_main(LOG_LEVEL="INFO")  # configure_logging now writes to capfd's stdout
    main.handler(event("http_api_v2_get_health"), context("lambda-invocation-1"))
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line]
    access = [line for line in lines if line["logger"] == "cloudnexus.access"]
    assert len(access) == 1
    assert access[0]["request_id"] == "Cx3QbjHroAMEV3w="
    assert access[0]["aws_request_id"] == "lambda-invocation-1"


@pytest.fixture
def no_mangum(main: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Fail loudly if an event that is not an API request reaches Mangum."""
    def refuse(event: Any, context: Any) -> Any:
        raise AssertionError("this event must not go through Mangum")

    monkeypatch.setattr(main, "_api", refuse)
    return main


def test_scheduled_event_runs_maintenance(no_mangum: ModuleType) -> None:
    storage = no_mangum.app.state.runtime.storage
    orphan = f"private/{uuid.uuid4()}/{uuid.uuid4()}/{uuid.uuid4()}"
    storage.put(orphan, io.BytesIO(b"left behind"), content_type="text/plain")
    two_hours_ago = time.time() - 7200
    os.utime(storage.path_of(orphan), (two_hours_ago, two_hours_ago))

    result = no_mangum.handler(event("eventbridge_scheduled"), context())
    assert result["maintenance"] == "ok"
    assert result["report"]["orphans_removed"] == 1
    assert not storage.path_of(orphan).exists()


def test_migrate_event_applies_the_migrations(no_mangum: ModuleType) -> None:
    from cloudnexus.migrations import head_revision

    result = no_mangum.handler({"cloudnexus": "migrate"}, context())
    assert result == {"migrated": head_revision()}


@pytest.mark.parametrize("unknown", [
    {"foo": 1}, event("sqs_message"), {"cloudnexus": "drop-everything"}, [], "text", None,
], ids=["foo", "sqs", "other-command", "list", "string", "none"])
def test_an_unknown_event_gets_a_clear_error_and_a_log_line(
        capfd: pytest.CaptureFixture[str], load_main: LoadMain, monkeypatch: pytest.MonkeyPatch,
        unknown: Any) -> None:
    main = load_main()  # at WARNING, onto capfd's stdout
    monkeypatch.setattr(main, "_api", lambda *_: pytest.fail("reached Mangum"))
    result = main.handler(unknown, context("req-unknown"))
    assert result["error"]["code"] == "unsupported_event"
    assert "API Gateway" in result["error"]["message"]
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1 and errors[0]["aws_request_id"] == "req-unknown"
    assert errors[0]["event_type"] == type(unknown).__name__


def test_engine_and_storage_are_made_once_and_reused(main: ModuleType) -> None:
    runtime = main.app.state.runtime
    main.handler(event("http_api_v2_get_health"), context())
    engine, storage = runtime.engine, runtime.storage
    main.handler(event("rest_api_v1_get_health"), context())
    assert runtime.engine is engine and runtime.storage is storage


def test_an_idempotency_key_with_nul_is_400(main: ModuleType) -> None:
    """A Lambda event may carry what no HTTP parser would pass (PostgreSQL's text cannot)."""
    tenant = Tenant(main.app.state.runtime, "acme")
    created = main.handler(v2("POST", "/v1/buckets", body=b'{"name": "blobs"}', headers={
        **tenant.headers(), "content-type": "application/json", "idempotency-key": "a\x00b"}),
        context())
    assert created["statusCode"] == 400, created
    assert json.loads(created["body"])["error"]["code"] == "bad_request"


def test_admin_commands_run_through_an_invoke(no_mangum: ModuleType) -> None:
    """An operator without a host in the VPC: `aws lambda invoke` with the CLI's arguments."""
    def invoke(*arguments: str) -> dict[str, Any]:
        return no_mangum.handler({"cloudnexus": list(arguments)}, context())  # type: ignore[no-any-return]

    assert invoke("migrate")["exit_code"] == 0
    created = invoke("workspace", "create", "ops", "--max-bytes", "1GiB")
    assert created["exit_code"] == 0 and "workspace ops created" in created["stdout"]
    assert invoke("workspace", "create", "ops")["exit_code"] == 1  # already exists
    made = invoke("key", "create", "--workspace", "ops", "--scope", "admin")
    assert made["exit_code"] == 0 and "not shown again" in made["stderr"]
    key = made["stdout"].split()[-1]
    from fastapi.testclient import TestClient

    with TestClient(no_mangum.app) as client:
        workspace = client.get("/v1/workspace", headers={"Authorization": f"Bearer {key}"})
    assert workspace.status_code == 200 and workspace.json()["quota"]["max_bytes"] == 2**30
    listed = invoke("key", "list", "--workspace", "ops", "--json")
    assert json.loads(listed["stdout"])["scopes"] == "admin"
    usage = invoke("key", "create", "--workspace", "ops", "--scope", "root")
    assert usage["exit_code"] == 2 and "unknown scope" in usage["stderr"]


@pytest.mark.parametrize(("arguments", "message"), [
    (["serve"], "'serve' cannot be invoked"), (["doctor"], "'doctor' cannot be invoked"),
    ([], "must be a list of strings"), (["workspace", 1], "must be a list of strings")])
def test_other_commands_cannot_be_invoked(no_mangum: ModuleType, arguments: list[Any],
                                          message: str) -> None:
    result = no_mangum.handler({"cloudnexus": arguments}, context())
    assert result["error"]["code"] == "bad_request" and message in result["error"]["message"]
