"""/console: the web console, plain files from the package (not part of the API's schema)."""

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from cloudnexus.console import assets
from cloudnexus.deps import SettingsDep

router = APIRouter(tags=["console"], include_in_schema=False)


@router.get("/console")
async def console_root() -> RedirectResponse:
    """The console lives at /console/ so that its files' relative URLs resolve under it."""
    return RedirectResponse("console/", status_code=308)


@router.get("/console/")
async def console_index(settings: SettingsDep) -> Response:
    return _serve("index.html", settings)


@router.get("/console/limits.json")
async def console_limits(settings: SettingsDep) -> dict[str, int]:
    """The upload limits the console chooses a way by (the API itself has no route for them)."""
    return {"direct_upload_max_bytes": settings.direct_upload_max_bytes,
            "multipart_threshold": settings.multipart_threshold}


@router.get("/console/{name}")
async def console_file(name: str, settings: SettingsDep) -> Response:
    """One of the console's files (cloudnexus.js among them)."""
    return _serve(name, settings)


def _serve(name: str, settings: SettingsDep) -> Response:
    """The file read now, not at start-up: the console adds nothing to a cold start."""
    content, media_type = assets.read(name)
    return Response(content, media_type=media_type, headers=assets.headers(settings))
