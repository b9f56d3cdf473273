"""GET /docs and its assets: Swagger UI's files as the fastapi-swagger package ships them,
read only when asked for (nothing at start-up), never from a CDN."""

import functools
from importlib import resources

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

from cloudnexus.errors import NotFound

router = APIRouter(include_in_schema=False)

# Swagger UI sets style attributes as it draws, hence 'unsafe-inline' for styles only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
       "form-action 'none'")
# name: (package, file in it, media type)
ASSETS = {
    "swagger-ui-bundle.js": ("fastapi_swagger", "resources/swagger-ui-bundle.js",
                             "text/javascript"),
    "swagger-ui.css": ("fastapi_swagger", "resources/swagger-ui.css", "text/css"),
    "favicon.png": ("fastapi_swagger", "resources/favicon-32x32.png", "image/png"),
    "init.js": ("cloudnexus.apidocs", "static/init.js", "text/javascript"),
}
# Relative URLs: under a base path (/prod/docs) they stay under it.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CloudNexus API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="docs/swagger-ui.css"><link rel="icon" href="docs/favicon.png">
</head><body><div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script><script src="docs/init.js"></script>
</body></html>
"""


@functools.cache
def asset(name: str) -> tuple[bytes, str]:
    """An asset's bytes and media type, read once per process."""
    package, path, media_type = ASSETS[name]
    return (resources.files(package) / path).read_bytes(), media_type


@router.get("/docs")
def docs_page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": CSP,
                                       "X-Content-Type-Options": "nosniff"})


@router.get("/docs/{name}")
def docs_asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound()
    content, media_type = asset(name)
    return Response(content, media_type=media_type,
                    headers={"Cache-Control": "public, max-age=86400",
                             "X-Content-Type-Options": "nosniff"})
