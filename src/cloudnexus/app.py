"""create_app(settings): routers, middleware and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from cloudnexus import __version__, health
from cloudnexus.auth.router import router as keys_router
from cloudnexus.buckets.router import router as buckets_router
from cloudnexus.config import Settings
from cloudnexus.console.router import router as console_router
from cloudnexus.delegation.router import router as delegation_router
from cloudnexus.errors import install_error_handlers
from cloudnexus.events.router import router as events_router
from cloudnexus.files.router import router as files_router
from cloudnexus.links.router import public_router as share_router
from cloudnexus.links.router import router as links_router
from cloudnexus.logs import configure_logging
from cloudnexus.middleware import (
    BodyLimitMiddleware,
    CORSMiddleware,
    RequestContextMiddleware,
    UnexpectedErrorMiddleware,
)
from cloudnexus.previews.router import router as previews_router
from cloudnexus.runtime import Runtime
from cloudnexus.schemas import error_schemas
from cloudnexus.uploads.router import router as uploads_router
from cloudnexus.workspaces.router import router as workspace_router


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Resources are made on first use; with WEBHOOK_DISPATCH (`cloudnexus serve`) the
    webhook deliveries start here. At shutdown, close the idle database connections.
    (Lambda runs no lifespan: its container ends with them.)"""
    runtime = app.state.runtime
    dispatcher = None
    if runtime.settings.webhook_dispatch:
        from cloudnexus.events.dispatcher import Dispatcher

        dispatcher = Dispatcher(runtime.session_factory, runtime.settings)
        dispatcher.start()
    yield
    if dispatcher is not None:
        dispatcher.stop()
    runtime.close_connections()


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document, built on first request as before, with the error body's schema,
    which every route names by reference (see schemas.error_responses)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            build().setdefault("components", {}).setdefault("schemas", {}).update(
                error_schemas())  # build() keeps what it returns as app.openapi_schema
        # build() has just set it (FastAPI types the attribute as possibly None).
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def create_app(settings: Settings) -> FastAPI:
    configure_logging(settings.log_level, settings.log_format)
    app = FastAPI(
        lifespan=_lifespan,
        title="CloudNexus",
        version=__version__,
        summary="File storage and metadata API",
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        docs_url=None,  # served from the package instead of a CDN: apidocs/
        redoc_url=None,
    )
    app.state.runtime = Runtime(settings)
    install_error_handlers(app)
    _document_errors(app)
    routers = [health.router, workspace_router, keys_router, delegation_router, buckets_router,
               files_router, previews_router, uploads_router, links_router, share_router,
               events_router, console_router]
    if settings.docs_enabled:
        from cloudnexus.apidocs.router import router as docs_router

        routers.append(docs_router)
    if settings.uses_local_storage:
        from cloudnexus.storage.local_router import router as local_storage_router
        from cloudnexus.uploads.arrivals import object_arrived

        # First: Starlette tries the routes in turn, and the objects' GETs and PUTs are most
        # of the requests under load (a download is the API's redirect, then one of these).
        routers.insert(0, local_storage_router)
        app.state.object_arrived = object_arrived  # its PUT completes single uploads
    for router in routers:
        # The routes as the routers built them (prefix, tags and dependencies applied):
        # include_router would analyse each route a second time, on the first request.
        app.router.routes.extend(router.routes)

    # Added innermost first: errors are rendered inside CORS (so browsers can read them),
    # and the request id wraps everything (so every response carries it).
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match",
                           "X-Request-Id"],
            expose_headers=["ETag", "X-Request-Id", "Retry-After", "Idempotent-Replayed"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware)
    return app
