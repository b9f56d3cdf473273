"""`cloudnexus workspace ...` and `cloudnexus key ...`: the only way to make a first admin key."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from cloudnexus.cli_common import err_console, settings_or_exit
from cloudnexus.errors import AppError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

workspace_app = typer.Typer(help="Create and list workspaces, set their quotas.",
                            no_args_is_help=True)
key_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
console = Console()
SCOPES = ("files:read", "files:write", "admin")
UNLIMITED = "unlimited"


@contextmanager
def session() -> Iterator[Session]:
    """A database session from the environment's settings; AppErrors end the command."""
    from cloudnexus.db.engine import create_db_engine, create_session_factory

    engine = create_db_engine(settings_or_exit())
    try:
        with create_session_factory(engine)() as db:
            yield db
    except AppError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def parse_limit(value: str | None) -> int | None:
    if value is None or value.lower() == UNLIMITED:
        return None
    if not value.isdigit():
        raise typer.BadParameter(f"'{value}' is not a whole number or '{UNLIMITED}'")
    return int(value)


def show_limit(value: int | None) -> str:
    return UNLIMITED if value is None else str(value)


def parse_expiry(value: str | None) -> datetime | None:
    """An RFC 3339 time, or a duration from now like 30d, 12h, 90m."""
    if value is None:
        return None
    try:
        if match := re.fullmatch(r"(\d+)([dhm])", value):
            unit = {"d": "days", "h": "hours", "m": "minutes"}[match[2]]
            return datetime.now(UTC) + timedelta(**{unit: int(match[1])})
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        moment = (moment.replace(tzinfo=UTC) if moment.tzinfo is None
                  else moment.astimezone(UTC))
    except OverflowError:
        raise typer.BadParameter(f"'{value}' is out of range (years 1 to 9999, in UTC)") from None
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a time (2027-01-01T00:00:00Z) or a "
                                 "duration (30d, 12h, 90m)") from None
    if moment <= datetime.now(UTC):
        raise typer.BadParameter("the expiry is in the past")
    return moment


Limit = Annotated[str | None, typer.Option(help=f"A number, or '{UNLIMITED}'.")]


@workspace_app.command("create")
def workspace_create(name: str, max_bytes: Limit = None, max_files: Limit = None) -> None:
    """Create a workspace."""
    from cloudnexus.workspaces import service

    with session() as db:
        workspace = service.create(db, name=name, max_bytes=parse_limit(max_bytes),
                                   max_files=parse_limit(max_files))
        console.print(f"workspace {workspace.name} created: {workspace.id}", highlight=False)


@workspace_app.command("list")
def workspace_list() -> None:
    """List workspaces with their usage and quota."""
    from cloudnexus.workspaces import service

    table = Table("name", "id", "files", "bytes", "max files", "max bytes", "created")
    with session() as db:
        for ws in service.list_workspaces(db):
            table.add_row(ws.name, str(ws.id), str(ws.used_files), str(ws.used_bytes),
                          show_limit(ws.max_files), show_limit(ws.max_bytes),
                          ws.created_at.isoformat(timespec="seconds"))
    console.print(table)


@workspace_app.command("set-quota")
def workspace_set_quota(name: str, max_bytes: Limit = None, max_files: Limit = None) -> None:
    """Set a workspace's limits; an option left out keeps its limit."""
    from cloudnexus.workspaces import service

    changes = {field: parse_limit(value) for field, value in
               (("max_bytes", max_bytes), ("max_files", max_files)) if value is not None}
    with session() as db:
        workspace = service.set_quota(db, workspace=service.get_by_name(db, name=name),
                                      **changes)
        console.print(f"workspace {workspace.name}: max_bytes={show_limit(workspace.max_bytes)}"
                      f", max_files={show_limit(workspace.max_files)}", highlight=False)


@key_app.command("create")
def key_create(
    workspace: Annotated[str, typer.Option(help="The workspace's name.")],
    scope: Annotated[list[str], typer.Option(help="files:read, files:write or admin; repeat.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    expires: Annotated[str | None, typer.Option(help="RFC 3339 time or 30d/12h/90m.")] = None,
) -> None:
    """Create a key and print it: this is the only time it is shown."""
    from cloudnexus.auth import service as keys
    from cloudnexus.workspaces import service as workspaces

    unknown = sorted(set(scope) - set(SCOPES))
    if unknown:
        raise typer.BadParameter(f"unknown scope {unknown[0]!r}; use {', '.join(SCOPES)}")
    with session() as db:
        owner = workspaces.get_by_name(db, name=workspace)
        key, full_key = keys.create(db, workspace_id=owner.id, name=name, scopes=scope,
                                    expires_at=parse_expiry(expires))
    err_console.print(f"key {key.id} ({', '.join(key.scopes)}) for workspace {workspace}; "
                      "store it now, it is not shown again:", highlight=False)
    print(full_key)


@key_app.command("list")
def key_list(workspace: Annotated[str, typer.Option(help="The workspace's name.")]) -> None:
    """List a workspace's keys (never their secrets)."""
    from cloudnexus.auth import service as keys
    from cloudnexus.workspaces import service as workspaces

    table = Table("id", "name", "scopes", "created", "expires", "last used", "revoked")
    with session() as db:
        owner = workspaces.get_by_name(db, name=workspace)
        for key in keys.list_keys(db, workspace_id=owner.id):
            table.add_row(str(key.id), key.name, ",".join(key.scopes), *(
                moment.isoformat(timespec="seconds") if moment else "-"
                for moment in (key.created_at, key.expires_at, key.last_used_at,
                               key.revoked_at)))
    console.print(table)


@key_app.command("revoke")
def key_revoke(key_id: uuid.UUID,
               workspace: Annotated[str, typer.Option(help="The workspace's name.")]) -> None:
    """Revoke a key; it stops working at once."""
    from cloudnexus.auth import service as keys
    from cloudnexus.workspaces import service as workspaces

    with session() as db:
        owner = workspaces.get_by_name(db, name=workspace)
        keys.revoke(db, workspace_id=owner.id, key_id=key_id)
    console.print(f"key {key_id} revoked", highlight=False)
