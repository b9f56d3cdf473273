"""`cloudnexus doctor`: where each setting comes from, and whether each dependency answers."""

from __future__ import annotations

import os
from collections.abc import Iterator

from pydantic import SecretStr

from cloudnexus.config import Settings
from cloudnexus.runtime import Runtime

SECRET_SETTINGS = {"db_pass", "database_url"}


def _mask(name: str, value: object) -> str:
    if value is None:
        return "-"
    if name in SECRET_SETTINGS or isinstance(value, SecretStr):
        return "********"
    if isinstance(value, list):
        return ",".join(str(item) for item in value) or "-"
    return str(value)


def configuration_rows(settings: Settings) -> Iterator[tuple[str, str, str]]:
    """(VARIABLE, value with secrets masked, source) for every setting."""
    for name in type(settings).model_fields:
        variable = name.upper()
        source = "environment" if variable in os.environ or name in os.environ else "default"
        yield variable, _mask(name, getattr(settings, name)), source


def run_checks(settings: Settings) -> Iterator[tuple[str, bool, str]]:
    """(check, ok, detail): the health checks, and whether the migrations are at the newest."""
    from cloudnexus.health import run_checks as health_checks
    from cloudnexus.health import timed_check
    from cloudnexus.migrations import current_revision, head_revision

    runtime = Runtime(settings)

    def migrations() -> None:
        current, head = current_revision(runtime.engine), head_revision()
        if current != head:
            raise RuntimeError(f"at {current or 'none'}, newest is {head}: run cloudnexus migrate")

    try:
        checks = health_checks(runtime).checks
        checks.pop("schema", None)  # the migrations row below says it, and more strictly
        checks["migrations"] = timed_check(migrations)
        for name, check in checks.items():
            yield name, check.status == "ok", check.error or f"{check.latency_ms} ms"
    finally:
        runtime.close()
    if settings.s3_bucket is None:
        yield from _local_metadata(settings)


def _local_metadata(settings: Settings) -> Iterator[tuple[str, bool, str]]:
    """Where the local backend keeps each object's metadata, which decides how its folder
    must be copied (nothing when the folder cannot be written: the storage check said so)."""
    from cloudnexus.storage.local import LocalStorage
    from cloudnexus.storage.staging import takes_attributes

    try:
        on_files = takes_attributes(LocalStorage.from_settings(settings).root)
    except OSError:
        return
    yield "local metadata", True, (
        "on each file, as an extended attribute: copy DATA_DIR with cp -a, rsync -aX or "
        "tar --xattrs" if on_files else
        "in sidecar files (this filesystem takes no user extended attributes)")
