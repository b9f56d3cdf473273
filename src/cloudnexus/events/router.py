"""/v1/events and /v1/webhooks: the workspace's changes behind a cursor, and where they are
sent."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from cloudnexus.auth.dependencies import Admin, require
from cloudnexus.auth.scopes import ADMIN
from cloudnexus.db.sessions import reads_only
from cloudnexus.deps import SessionDep, SettingsDep
from cloudnexus.events.dependencies import WebhookDep
from cloudnexus.events.schemas import (
    DeliveryList,
    DeliveryOut,
    EventPage,
    Queued,
    Replay,
    SecretOut,
    WebhookCreate,
    WebhookList,
    WebhookOut,
    WebhookUpdate,
)
from cloudnexus.schemas import error_responses

router = APIRouter(tags=["events"], dependencies=[Depends(require(ADMIN))])


@router.get("/v1/events", responses=error_responses(400, 403, 422))
def list_events(
    principal: Admin, db: SessionDep,
    after: Annotated[str | None, Query(description="The previous page's next_cursor")] = None,
    type: Annotated[str | None, Query(
        description="Comma-separated types, or a family such as file.*")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    """The workspace's events after the cursor, oldest first, each exactly once."""
    from cloudnexus.events import service

    return service.list_events(db, workspace_id=principal.workspace_id, after=after,
                               type_=type, limit=limit)


@router.post("/v1/webhooks", status_code=201, responses=error_responses(403, 422))
def create_webhook(body: WebhookCreate, principal: Admin, db: SessionDep,
                   settings: SettingsDep) -> WebhookOut:
    """Send the workspace's events to a URL, signed with a secret shown only here."""
    from cloudnexus.events import webhooks

    webhook, secret = webhooks.create(db, settings, workspace_id=principal.workspace_id,
                                      **body.model_dump())
    return WebhookOut.from_model(webhook, secret=secret)


@router.get("/v1/webhooks", dependencies=[Depends(reads_only)], responses=error_responses(403))
def list_webhooks(principal: Admin, db: SessionDep) -> WebhookList:
    """The workspace's webhooks (without their secrets)."""
    from cloudnexus.events import webhooks

    found = webhooks.list_webhooks(db, workspace_id=principal.workspace_id)
    return WebhookList(items=[WebhookOut.from_model(webhook) for webhook in found])


@router.get("/v1/webhooks/{webhook_id}", dependencies=[Depends(reads_only)],
            responses=error_responses(403, 404))
def get_webhook(webhook: WebhookDep) -> WebhookOut:
    """A webhook (without its secret)."""
    return WebhookOut.from_model(webhook)


@router.patch("/v1/webhooks/{webhook_id}", responses=error_responses(403, 404, 422))
def update_webhook(body: WebhookUpdate, webhook: WebhookDep, db: SessionDep,
                   settings: SettingsDep) -> WebhookOut:
    """Change its URL, events, description, or disable it (enabling it starts afresh)."""
    from cloudnexus.events import webhooks

    changes = body.model_dump(include=body.model_fields_set)
    return WebhookOut.from_model(webhooks.update(db, settings, webhook=webhook, changes=changes))


@router.delete("/v1/webhooks/{webhook_id}", status_code=204,
               responses=error_responses(403, 404))
def delete_webhook(webhook: WebhookDep, db: SessionDep) -> Response:
    """Delete a webhook, its queue and its deliveries log."""
    from cloudnexus.events import webhooks

    webhooks.delete(db, webhook=webhook)
    return Response(status_code=204)


@router.post("/v1/webhooks/{webhook_id}/rotate-secret", responses=error_responses(403, 404))
def rotate_secret(webhook: WebhookDep, db: SessionDep) -> SecretOut:
    """A new secret; the old one keeps signing beside it for 24 h."""
    from cloudnexus.events import webhooks

    return SecretOut(secret=webhooks.rotate_secret(db, webhook=webhook))


@router.get("/v1/webhooks/{webhook_id}/deliveries", responses=error_responses(403, 404))
def list_deliveries(webhook: WebhookDep, db: SessionDep) -> DeliveryList:
    """The latest delivery attempts, newest first."""
    from cloudnexus.events import webhooks

    attempts = webhooks.deliveries(db, webhook=webhook)
    return DeliveryList(items=[DeliveryOut.from_model(attempt) for attempt in attempts])


@router.post("/v1/webhooks/{webhook_id}/replay", status_code=202,
             responses=error_responses(403, 404, 422))
def replay(body: Replay, webhook: WebhookDep, db: SessionDep) -> Queued:
    """Send again every event it subscribes to since `since` (as long as events are kept)."""
    from cloudnexus.events import webhooks

    return Queued(queued=webhooks.replay(db, webhook=webhook, since=body.since))
