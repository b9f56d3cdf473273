"""The Lambda entry points: `main.handler`, and `main.dispatch` for the dispatcher function.

API Gateway events (HTTP API v2, REST API v1) go through Mangum to the FastAPI app; an
EventBridge scheduled event runs maintenance instead, `{"cloudnexus": "migrate"}` (a
one-off `aws lambda invoke` after a deploy) applies the migrations, and
`{"cloudnexus": ["workspace", "create", "acme"]}` runs an admin command of the CLI
(admin_event.py). The app is built at
import (cheap: no database, no boto3); the engine and storage clients are made on first use
and then reused.
"""

from __future__ import annotations

import gc

# Init allocates only long-lived objects (modules, routes, validators): collecting while it
# runs frees nothing and cost ~10% of `import main`. After it, they are frozen out of every
# later collection, so requests do not pay to re-scan them either.
gc.disable()

import logging
from typing import Any

from mangum import Mangum

from cloudnexus.app import create_app
from cloudnexus.config import load_settings
from cloudnexus.logs import aws_request_id_var

try:
    settings = load_settings()
    app = create_app(settings)
finally:
    gc.freeze()
    gc.enable()
# Mangum's defaults return JSON and text/* as text and everything else base64-encoded.
_api = Mangum(app, lifespan="off", api_gateway_base_path=settings.api_base_path)
logger = logging.getLogger("cloudnexus.handler")


def is_scheduled_event(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    )


def is_api_event(event: Any) -> bool:
    return isinstance(event, dict) and "requestContext" in event and (
        "httpMethod" in event or "routeKey" in event or "rawPath" in event
    )


def dispatch(event: Any, context: Any) -> dict[str, Any]:
    """The dispatcher function's handler (deploy/template.yaml): its queue's batches (nudges
    after commits, S3's ObjectCreated notifications) and the sweep's schedule; see
    cloudnexus/dispatch.py."""
    token = aws_request_id_var.set(getattr(context, "aws_request_id", None))
    try:
        from cloudnexus.dispatch import handle

        return handle(app.state.runtime, event, context)
    finally:
        aws_request_id_var.reset(token)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Route one Lambda invocation."""
    if is_api_event(event):
        return _api(event, context)
    token = aws_request_id_var.set(getattr(context, "aws_request_id", None))
    try:
        if is_scheduled_event(event):
            from cloudnexus.maintenance import run_scheduled

            return run_scheduled(app.state.runtime)
        if isinstance(event, dict) and event.get("cloudnexus") == "migrate":
            from cloudnexus.migrations import current_revision, upgrade

            upgrade(app.state.runtime.engine)  # a one-off invoke after each deploy
            return {"migrated": current_revision(app.state.runtime.engine)}
        from cloudnexus.admin_event import is_admin_command, run_admin_command

        if is_admin_command(event):
            return run_admin_command(event["cloudnexus"])
        kind = type(event).__name__
        keys = sorted(event)[:10] if isinstance(event, dict) else []
        logger.error("Unsupported event", extra={"event_type": kind, "event_keys": keys})
        return {"error": {"code": "unsupported_event", "message": "Not an API Gateway event, "
                          "an EventBridge scheduled event, {\"cloudnexus\": \"migrate\"} or "
                          "{\"cloudnexus\": [\"workspace\", \"create\", \"NAME\"]}"}}
    finally:
        aws_request_id_var.reset(token)
