"""API Gateway HTTP API (payload 2.0) events and a Lambda context, as the handler gets them."""

from __future__ import annotations

import base64
import uuid
from types import SimpleNamespace
from typing import Any


def v2_event(method: str, path: str, *, query: str = "", headers: dict[str, str] | None = None,
             body: bytes | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"host": "bench.execute-api.us-east-1.amazonaws.com",
                    "x-forwarded-proto": "https", "x-forwarded-port": "443", **(headers or {})},
        "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "bench"},
                           "requestId": uuid.uuid4().hex, "stage": "$default",
                           "domainName": "bench.execute-api.us-east-1.amazonaws.com",
                           "apiId": "bench", "accountId": "123456789012"},
        "isBase64Encoded": False,
    }
    if body is not None:
        event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    return event


def context() -> Any:
    return SimpleNamespace(aws_request_id=uuid.uuid4().hex, function_name="bench",
                           memory_limit_in_mb=512, get_remaining_time_in_millis=lambda: 30000,
                           invoked_function_arn="arn:aws:lambda:us-east-1:1:function:bench")
