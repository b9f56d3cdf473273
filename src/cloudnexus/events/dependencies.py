"""The webhook named in the path, looked up in the caller's workspace (404 otherwise)."""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends

from cloudnexus.auth.dependencies import Admin
from cloudnexus.deps import SessionDep
from cloudnexus.schemas import parse_id

if TYPE_CHECKING:
    from cloudnexus.events.models import Webhook


def valid_webhook(webhook_id: str, principal: Admin, db: SessionDep) -> "Webhook":
    from cloudnexus.events import webhooks

    return webhooks.get(db, workspace_id=principal.workspace_id,
                        webhook_id=parse_id(webhook_id, "Webhook"))


if TYPE_CHECKING:
    WebhookDep = Annotated[Webhook, Depends(valid_webhook)]
else:
    WebhookDep = Annotated[Any, Depends(valid_webhook)]
