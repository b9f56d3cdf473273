"""`cloudnexus workspace ...` and `cloudnexus key ...`: the only way to make a first admin key."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from cloudnexus.cli_common import err_console, fail, settings_or_exit
from cloudnexus.errors import AppError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

workspace_app = typer.Typer(help="Create and list workspaces, set their quotas.",
                            no_args_is_help=True)
key_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
console = Console()
SCOPES = ("files:read", "files:write", "admin")
UNLIMITED = "unlimited"


def check_database_or_exit(engine: Engine, *, migrated: bool = True) -> None:
    """One line, not a traceback, when the database cannot be reached or (when `migrated`
    is asked for) its schema is not this code's."""
    from sqlalchemy.exc import OperationalError

    from cloudnexus.migrations import schema_problem

    try:
        with engine.connect() as connection:
            problem = schema_problem(connection) if migrated else None
    except OperationalError as exc:
        reason = (str(exc.orig).strip().splitlines() or ["no answer"])[0]
        fail(f"cannot reach the database ({engine.url.render_as_string()}): {reason}")
    if problem is not None:
        fail(problem)


@contextmanager
def session() -> Iterator[Session]:
    """A database session from the environment's settings; AppErrors end the command."""
    from cloudnexus.db.engine import create_db_engine, create_session_factory

    engine = create_db_engine(settings_or_exit())
    try:
        check_database_or_exit(engine)
        with create_session_factory(engine)() as db:
            yield db
    except AppError as exc:
        fail(exc.message)
    finally:
        engine.dispose()


def parse_limit(value: str | None) -> int | None:
    if value is None or value.lower() == UNLIMITED:
        return None
    if not value.isdigit():
        raise typer.BadParameter(f"'{value}' is not a whole number or '{UNLIMITED}'")
    return int(value)


def parse_byte_limit(value: str | None) -> int | None:
    """A number of bytes, a size such as 130MB or 2GiB (pydantic's ByteSize), or unlimited."""
    if value is None or value.lower() == UNLIMITED:
        return None
    from pydantic import ByteSize, TypeAdapter, ValidationError

    try:
        return int(TypeAdapter(ByteSize).validate_python(value))
    except ValidationError:
        raise typer.BadParameter(f"'{value}' is not a size (5000, 130MB, 2GiB) or "
                                 f"'{UNLIMITED}'") from None


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
ByteLimit = Annotated[str | None, typer.Option(
    help=f"Bytes: a number or a size such as 130MB, 2GiB; or '{UNLIMITED}'.")]


@workspace_app.command("create")
def workspace_create(name: str, max_bytes: ByteLimit = None, max_files: Limit = None) -> None:
    """Create a workspace."""
    from cloudnexus.workspaces import service

    with session() as db:
        workspace = service.create(db, name=name, max_bytes=parse_byte_limit(max_bytes),
                                   max_files=parse_limit(max_files))
        console.print(f"workspace {workspace.name} created: {workspace.id}", highlight=False)


def print_rows(columns: list[str], rows: list[list[object]], *, as_json: bool) -> None:
    """A table for people (the id column never cut), or one JSON object per row for scripts."""
    if as_json:
        for row in rows:
            print(json.dumps(dict(zip(columns, row, strict=True)), default=str))
        return
    table = Table()
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*("-" if value is None else str(value) for value in row))
    # As wide as the cells need: an id cut to "5f3a…" could not be given to `key revoke`.
    natural = console.measure(table, options=console.options.update_width(1000)).maximum
    Console(width=max(console.width, natural)).print(table)


def show_time(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


AsJson = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@workspace_app.command("list")
def workspace_list(as_json: AsJson = False) -> None:
    """List workspaces with their usage and quota."""
    from cloudnexus.workspaces import service

    with session() as db:
        rows: list[list[object]] = [
            [ws.name, ws.id, ws.used_files, ws.used_bytes, ws.max_files, ws.max_bytes,
             show_time(ws.created_at)] for ws in service.list_workspaces(db)]
    print_rows(["name", "id", "files", "bytes", "max_files", "max_bytes", "created_at"], rows,
               as_json=as_json)


@workspace_app.command("set-quota")
def workspace_set_quota(name: str, max_bytes: ByteLimit = None,
                        max_files: Limit = None) -> None:
    """Set a workspace's limits; an option left out keeps its limit."""
    from cloudnexus.workspaces import service

    changes = {field: parse(value) for field, value, parse in
               (("max_bytes", max_bytes, parse_byte_limit), ("max_files", max_files, parse_limit))
               if value is not None}
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
def key_list(workspace: Annotated[str, typer.Option(help="The workspace's name.")],
             as_json: AsJson = False) -> None:
    """List a workspace's keys (never their secrets)."""
    from cloudnexus.auth import service as keys
    from cloudnexus.workspaces import service as workspaces

    with session() as db:
        owner = workspaces.get_by_name(db, name=workspace)
        rows: list[list[object]] = [
            [key.id, key.name, ",".join(key.scopes), *map(show_time, (
                key.created_at, key.expires_at, key.last_used_at, key.revoked_at))]
            for key in keys.list_keys(db, workspace_id=owner.id)]
    print_rows(["id", "name", "scopes", "created_at", "expires_at", "last_used_at",
                "revoked_at"], rows, as_json=as_json)


@key_app.command("revoke")
def key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, or a unique start of it.")],
    workspace: Annotated[str, typer.Option(help="The workspace's name.")],
) -> None:
    """Revoke a key; it stops working at once."""
    from cloudnexus.auth import service as keys
    from cloudnexus.workspaces import service as workspaces

    with session() as db:
        owner = workspaces.get_by_name(db, name=workspace)
        matches = [key.id for key in keys.list_keys(db, workspace_id=owner.id)
                   if str(key.id).startswith(key_id.lower())]
        if len(matches) != 1:
            fail(f"no key of workspace {workspace} has an id starting with '{key_id}'"
                 if not matches else
                 f"'{key_id}' starts {len(matches)} key ids of workspace {workspace}: "
                 "give more of it")
        keys.revoke(db, workspace_id=owner.id, key_id=matches[0])
    console.print(f"key {matches[0]} revoked", highlight=False)
