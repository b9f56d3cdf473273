"""Share links: /v1/files/{id}/links, /v1/links/{id}, and the public /s/{token}."""

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from cloudnexus.auth.dependencies import PrincipalDep, require
from cloudnexus.auth.scopes import READ, WRITE
from cloudnexus.deps import SessionDep, SettingsDep, StorageDep
from cloudnexus.files.dependencies import FileDep
from cloudnexus.idempotency.dependencies import Idempotent
from cloudnexus.idempotency.route import IdempotentRoute
from cloudnexus.links.schemas import LinkCreate, LinkList, LinkOut
from cloudnexus.schemas import ErrorBody, error_responses, parse_id

if TYPE_CHECKING:
    from cloudnexus.links.models import ShareLink

router = APIRouter(tags=["share links"], route_class=IdempotentRoute)
public_router = APIRouter(tags=["share links"])


def link_out(link: "ShareLink", url: str | None) -> LinkOut:
    return LinkOut(id=link.id, file_id=link.file_id, url=url, created_at=link.created_at,
                   expires_at=link.expires_at, max_downloads=link.max_downloads,
                   downloads=link.downloads, revoked_at=link.revoked_at)


@router.post("/v1/files/{file_id}/links", status_code=201,
             dependencies=[Depends(require(WRITE))], responses=error_responses(403, 404, 409))
def create_link(body: LinkCreate, file: FileDep, db: SessionDep, request: Request,
                _: Idempotent) -> LinkOut:
    """Create a share link; its URL is shown only in this response."""
    from cloudnexus.links import service

    link, token = service.create(db, file=file, expires_in=body.expires_in,
                                 max_downloads=body.max_downloads)
    return link_out(link, str(request.url_for("open_share_link", token=token)))


@router.get("/v1/files/{file_id}/links", dependencies=[Depends(require(READ))],
            responses=error_responses(403, 404))
def list_links(file: FileDep, db: SessionDep) -> LinkList:
    """A file's share links, revoked and expired ones included (without their URLs)."""
    from cloudnexus.links import service

    return LinkList(items=[link_out(link, None) for link in service.list_links(db, file=file)])


@router.delete("/v1/links/{link_id}", status_code=204, dependencies=[Depends(require(WRITE))],
               responses=error_responses(403, 404))
def revoke_link(link_id: str, principal: PrincipalDep, db: SessionDep) -> Response:
    """Revoke a share link; it stops working at once."""
    from cloudnexus.links import service

    service.revoke(db, workspace_id=principal.workspace_id, link_id=parse_id(link_id, "Link"))
    return Response(status_code=204)


_OPENED: dict[int | str, dict[str, Any]] = {
    200: {"description": "A HEAD request or a link previewer: a page naming the file, no "
                         "download counted", "content": {"text/html": {}}},
    404: {"model": ErrorBody, "description": "Unknown or revoked link, or its file deleted"},
    410: {"model": ErrorBody, "description": "Expired or used up (the message says which)"},
}


@public_router.api_route("/s/{token}", methods=["GET", "HEAD"], status_code=302,
                         response_class=RedirectResponse, responses=_OPENED)
def open_share_link(token: str, request: Request, db: SessionDep, storage: StorageDep,
                    settings: SettingsDep) -> Response:
    """Follow a share link to a short-lived download URL (no key needed); link previewers and
    HEAD requests get a page naming the file, and use up no download."""
    from cloudnexus.files.paths import file_name
    from cloudnexus.links import service
    from cloudnexus.links.previewers import is_previewer, preview_page

    if is_previewer(request):
        return preview_page(file_name(service.redeem(db, token=token, count=False).path))
    file = service.redeem(db, token=token)
    url = storage.presign_get(file.storage_key, expires_in=settings.presign_expires,
                              download_name=file_name(file.path))
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
