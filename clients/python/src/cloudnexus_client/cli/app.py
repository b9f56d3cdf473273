"""The typer application and what every command shares: options, the client, exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import typer

from cloudnexus_client.cli.output import Output
from cloudnexus_client.cli.paths import Remote, UsageError
from cloudnexus_client.client import Client
from cloudnexus_client.errors import NotFound
from cloudnexus_client.models import File

EXIT_FAILED = 1
EXIT_USAGE = 2
T = TypeVar("T")

app = typer.Typer(name="cnx", add_completion=False, no_args_is_help=True,
                  help="CloudNexus from the command line: buckets, files, transfers, sync.",
                  context_settings={"help_option_names": ["-h", "--help"]})


@dataclass
class Connection:
    url: str | None = None
    key: str | None = None
    profile: str | None = None


connection_options = Connection()


@app.callback()
def connection(
    url: Annotated[str | None, typer.Option(help="The service (else CLOUDNEXUS_URL).")] = None,
    key: Annotated[str | None, typer.Option(help="An API key (else CLOUDNEXUS_KEY).")] = None,
    profile: Annotated[str | None, typer.Option(help="The saved profile to use.")] = None,
) -> None:
    """Where the service is: --url/--key/--profile, else the environment, else the profile."""
    connection_options.url, connection_options.key, connection_options.profile = url, key, profile


JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
NoProgressOption = Annotated[bool, typer.Option("--no-progress", help="No progress bars.")]


def make_client(concurrency: int = 4) -> Client:
    try:
        options = connection_options
        return Client(options.url, key=options.key, profile=options.profile,
                      concurrency=concurrency)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@contextmanager
def command(as_json: bool, progress: bool = True) -> Iterator[Output]:
    """Run a command body: usage errors exit 2, API errors are named and exit 1."""
    output = Output(as_json=as_json, progress=progress)
    try:
        yield output
    except UsageError as exc:
        print(f"cnx: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is reported, then exit 1
        output.fail("error", exc)
        raise typer.Exit(EXIT_FAILED) from None
    if output.failures:
        raise typer.Exit(EXIT_FAILED)


def attempt(output: Output, what: str, action: Callable[[], T]) -> T | None:
    """Run one item's action; a failure is named and counted, the others go on."""
    try:
        return action()
    except Exception as exc:  # noqa: BLE001 - reported per item
        output.fail(what, exc)
        return None


def parse_duration(text: str) -> int:
    """Seconds from 90, 90s, 15m, 1h or 7d."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    if not number.isdigit():
        raise UsageError(f"not a duration (like 1h, 30m, 7d): {text}")
    return int(number) * units[unit]


def record_of(value: Any) -> dict[str, Any]:
    """A result as JSON: its to_json() or its fields."""
    if hasattr(value, "to_json"):
        return dict(value.to_json())
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


def exact_file(client: Client, remote: Remote) -> File:
    """The file at exactly this remote path; NotFound when there is none."""
    file = client.files.find(remote.bucket, remote.path)
    if file is None:
        raise NotFound(404, "not_found", f"no file at {remote}")
    return file
