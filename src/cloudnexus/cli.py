"""The `cloudnexus` command: serve, migrate, doctor (and the admin commands of each domain)."""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cloudnexus.admin_cli import key_app, workspace_app
from cloudnexus.cli_common import fail, settings_or_exit
from cloudnexus.config import Settings
from cloudnexus.serving import BODY_TIMEOUT_SECONDS, HEAD_MAX_BYTES, HEAD_TIMEOUT_SECONDS

app = typer.Typer(help="CloudNexus: file storage and metadata API.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console()
app.add_typer(workspace_app, name="workspace")
app.add_typer(key_app, name="key")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
    head_max_bytes: Annotated[int, typer.Option(
        min=1024, help="Longest request line and headers, in bytes; longer ones get 431.")
    ] = HEAD_MAX_BYTES,
    head_timeout: Annotated[float, typer.Option(
        min=0.1, help="Seconds a client has to send a request's head; then it is closed.")
    ] = HEAD_TIMEOUT_SECONDS,
    body_timeout: Annotated[float, typer.Option(
        min=0.1, help="Seconds a body may pause between two pieces; then it is closed.")
    ] = BODY_TIMEOUT_SECONDS,
) -> None:
    """Run the API on uvicorn; with nothing configured, on SQLite and a folder in ./.cloudnexus/."""
    import uvicorn

    from cloudnexus.serving import ClientLimits, protocol_with

    if "PUBLIC_URL" not in os.environ:
        os.environ["PUBLIC_URL"] = f"http://{reachable_host(host)}:{port}"
    settings = settings_or_exit()
    port_free_or_exit(host, port)
    if settings.uses_embedded_database:
        _migrate(settings)
        console.print(f"embedded database: {settings.sqlalchemy_url()}", highlight=False)
    if settings.uses_local_storage:
        console.print(f"local storage: {(settings.data_dir / 'objects').resolve()}",
                      highlight=False)
    limits = ClientLimits(head_max_bytes=head_max_bytes, head_timeout=head_timeout,
                          body_timeout=body_timeout)
    uvicorn.run("cloudnexus.asgi:app", host=host, port=port, reload=reload,
                access_log=False, log_config=None, proxy_headers=True,
                # uvicorn takes a protocol factory too; its annotation names only classes
                http=protocol_with(limits))  # type: ignore[arg-type]


def port_free_or_exit(host: str, port: int) -> None:
    """One line naming the way out when the port is taken, not uvicorn's log and a make error."""
    import errno
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            fail(f"{host}:{port} is already in use: choose another port with --port "
                 "(make run PORT=8001)")


def reachable_host(host: str) -> str:
    """The address a browser can use: a server on every interface is reached on 127.0.0.1."""
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        return host
    return "127.0.0.1" if unspecified else host


def _migrate(settings: Settings) -> None:
    from cloudnexus.admin_cli import check_database_or_exit
    from cloudnexus.db.engine import create_db_engine
    from cloudnexus.migrations import upgrade

    engine = create_db_engine(settings)
    try:
        check_database_or_exit(engine, migrated=False)
        upgrade(engine)
    finally:
        engine.dispose()


@app.command()
def migrate() -> None:
    """Apply the database migrations up to the newest."""
    settings = settings_or_exit()
    _migrate(settings)
    console.print("database is at the newest migration")


@app.command()
def doctor(
    aws: Annotated[str | None, typer.Option(
        help="Check a deployed function against the AWS checklist instead.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region of --aws.")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="AWS endpoint (tests).")] = None,
) -> None:
    """Show each setting's source (secrets masked); check database, migrations, storage."""
    if aws is not None:
        _doctor_aws(aws, region, endpoint_url)
        return
    from cloudnexus.doctor import configuration_rows, run_checks

    # The table reports every failed check; the checks' own log warnings would say it again
    # as stray plain-text lines on stderr (the CLI configures no logging).
    logging.getLogger("cloudnexus").addHandler(logging.NullHandler())
    settings = settings_or_exit()
    table = Table("setting", "value", "source", title="configuration")
    for name, value, source in configuration_rows(settings):
        table.add_row(name, value, source)
    console.print(table)
    _print_checks([(name, ok, detail) for name, ok, detail in run_checks(settings)])


def _doctor_aws(function_name: str, region: str | None, endpoint_url: str | None) -> None:
    from cloudnexus.aws_verify import run

    checks = run(function_name, region=region, endpoint_url=endpoint_url)
    _print_checks([(check.name, check.ok, check.detail) for check in checks])


def _print_checks(checks: list[tuple[str, bool, str]]) -> None:
    """A table of checks; exit 1 when any failed."""
    results = Table("check", "result", "detail", title="checks")
    for name, ok, detail in checks:
        results.add_row(name, "[green]ok[/green]" if ok else "[red]FAIL[/red]", detail)
    console.print(results)
    if not all(ok for _, ok, _ in checks):
        raise typer.Exit(1)


@app.command()
def maintenance(
    dry_run: Annotated[bool, typer.Option(help="Only report what would be done.")] = False,
    grace_minutes: Annotated[int, typer.Option(
        help="Leave objects without a record alone until they are this old.")] = 60,
) -> None:
    """Expire uploads, finish interrupted deletes, reconcile storage and database."""
    import json
    from datetime import timedelta

    from cloudnexus.admin_cli import check_database_or_exit
    from cloudnexus.maintenance import run
    from cloudnexus.runtime import Runtime

    runtime = Runtime(settings_or_exit())
    try:
        check_database_or_exit(runtime.engine)
        report = run(runtime, dry_run=dry_run, orphan_grace=timedelta(minutes=grace_minutes))
    finally:
        runtime.close()
    console.print_json(json.dumps(report.as_dict()))


def main() -> None:  # pragma: no cover - console entry for `python -m cloudnexus`
    app(prog_name="cloudnexus")


if __name__ == "__main__":  # pragma: no cover
    main()
