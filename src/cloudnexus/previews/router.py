"""/v1/files/{id}/preview: a derived image, made on the first request, then only signed."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from cloudnexus.auth.dependencies import require
from cloudnexus.auth.scopes import READ
from cloudnexus.deps import SettingsDep, StorageDep
from cloudnexus.files.dependencies import ReadableFileDep
from cloudnexus.previews.schemas import VariantDep
from cloudnexus.runtime import run_blocking, runtime_of
from cloudnexus.schemas import error_responses

router = APIRouter(tags=["files"])


@router.get("/v1/files/{file_id}/preview", dependencies=[Depends(require(READ, "read"))],
            status_code=302, response_class=RedirectResponse,
            responses=error_responses(403, 404, 413, 415))
async def preview_file(file: ReadableFileDep, variant: VariantDep, storage: StorageDep,
                       settings: SettingsDep, request: Request) -> RedirectResponse:
    """Redirect to a preview of an image (JPEG, PNG, WebP, GIF), made on the first request."""
    from cloudnexus.previews import service

    key, runtime = service.made_key(file, variant), runtime_of(request)
    if key is None:
        key = await run_blocking(runtime, service.make_now, runtime, storage, settings,
                                 file=file, variant=variant)
    url = await service.signed(runtime, key, expires_in=settings.presign_expires)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
