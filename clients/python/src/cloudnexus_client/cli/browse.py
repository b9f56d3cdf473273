"""login, buckets, mb, rb, ls, stat, cat, share and usage."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cloudnexus_client.cli.app import (
    JsonOption,
    app,
    command,
    connection_options,
    exact_file,
    make_client,
    parse_duration,
    record_of,
)
from cloudnexus_client.cli.paths import UsageError, parse_remote
from cloudnexus_client.client import Client
from cloudnexus_client.config import DEFAULT_PROFILE, Profile, save_profile


@app.command()
def login(url: Annotated[str | None, typer.Option(help="The service's URL.")] = None,
          profile: Annotated[str, typer.Option(help="The profile to save.")] = DEFAULT_PROFILE,
          key: Annotated[str | None, typer.Option(help="The key (else asked, hidden).")] = None,
          json_output: JsonOption = False) -> None:
    """Ask for an API key, check it against the service, save the profile (mode 0600)."""
    with command(json_output) as output:
        service = url or connection_options.url
        if not service:
            raise UsageError("give the service with --url")
        secret = key or connection_options.key or typer.prompt("API key", hide_input=True)
        with Client(service, key=secret) as client:
            workspace = client.workspace()
        path = save_profile(profile, Profile(url=service.rstrip("/"), key=secret))
        output.line(f"logged in to workspace {workspace.name}; profile {profile!r} in {path}",
                    {"workspace": workspace.name, "profile": profile, "path": str(path)})


@app.command()
def buckets(json_output: JsonOption = False) -> None:
    """List the buckets."""
    with command(json_output) as output:
        for bucket in make_client().buckets.list():
            output.line(bucket.name, record_of(bucket))


@app.command()
def mb(name: str,
       public: Annotated[bool, typer.Option("--public", help="Files get a public URL.")] = False,
       max_file_size: Annotated[int | None, typer.Option(help="Bytes per file at most.")] = None,
       allow: Annotated[list[str] | None, typer.Option(help="Content type allowed (image/*).")]
       = None, json_output: JsonOption = False) -> None:
    """Make a bucket."""
    with command(json_output) as output:
        bucket = make_client().buckets.create(name, public=public, max_file_size=max_file_size,
                                              allowed_content_types=allow or None)
        output.line(f"made bucket {bucket.name}", record_of(bucket))


@app.command()
def rb(name: str,
       force: Annotated[bool, typer.Option("--force", help="Delete its files too.")] = False,
       json_output: JsonOption = False) -> None:
    """Remove a bucket (with --force, even one that holds files)."""
    with command(json_output) as output:
        make_client().buckets.delete(name, force=force)
        output.line(f"removed bucket {name}", {"removed": name})


@app.command()
def ls(path: Annotated[str | None, typer.Argument(help="cnx://BUCKET[/PREFIX]")] = None,
       long: Annotated[bool, typer.Option("-l", help="Size and date too.")] = False,
       recursive: Annotated[bool, typer.Option("-r", help="Everything under it.")] = False,
       sort: Annotated[str, typer.Option(help="path, size or created_at.")] = "path",
       desc: Annotated[bool, typer.Option("--desc", help="Descending.")] = False,
       json_output: JsonOption = False) -> None:
    """List buckets, one folder level (folders as PREFIX/), or everything under it with -r."""
    with command(json_output) as output:
        if sort not in ("path", "size", "created_at"):
            raise UsageError("--sort takes path, size or created_at")
        client = make_client()
        if path is None:
            for bucket in client.buckets.list():
                output.line(bucket.name, record_of(bucket))
            return
        remote = parse_remote(path)
        prefix = remote.folder()
        folders: set[str] = set()
        for file in client.files.list(remote.bucket, prefix=prefix or None, sort=sort,
                                      order="desc" if desc else "asc"):
            rest = file.path[len(prefix):]
            if not recursive and "/" in rest:
                folder = rest.split("/", 1)[0] + "/"
                if folder not in folders:
                    folders.add(folder)
                    output.line(f"{'':>12}  {'':20}  {folder}" if long else folder,
                                {"folder": prefix + folder})
                continue
            shown = file.path if recursive else rest
            created = file.created_at.strftime("%Y-%m-%d %H:%M:%S") if file.created_at else ""
            output.line(f"{file.size:>12}  {created:20}  {shown}" if long else shown,
                        file.to_json())


@app.command()
def stat(path: str, json_output: JsonOption = False) -> None:
    """Show the File record."""
    with command(json_output) as output:
        remote = parse_remote(path)
        client = make_client()
        file = exact_file(client, remote)
        output.record(file.to_json())


@app.command()
def cat(path: str) -> None:
    """Write a file's bytes to standard output."""
    with command(False):
        remote = parse_remote(path)
        client = make_client()
        file = exact_file(client, remote)
        client.files.download(file.id, sys.stdout.buffer)
        sys.stdout.buffer.flush()


@app.command()
def share(path: str,
          expires: Annotated[str, typer.Option(help="Lifetime: 90s, 15m, 1h, 7d.")] = "1h",
          max_downloads: Annotated[int | None, typer.Option(help="Downloads at most.")] = None,
          json_output: JsonOption = False) -> None:
    """Print a share link to a file."""
    with command(json_output) as output:
        remote = parse_remote(path)
        client = make_client()
        file = exact_file(client, remote)
        link = client.links.create(file.id, expires_in=parse_duration(expires),
                                   max_downloads=max_downloads)
        output.line(link.url or "", record_of(link))


@app.command()
def usage(json_output: JsonOption = False) -> None:
    """The workspace's usage against its quota."""
    with command(json_output) as output:
        workspace = make_client().workspace()
        quota, used = workspace.quota, workspace.usage
        limit_bytes = "unlimited" if quota.max_bytes is None else str(quota.max_bytes)
        limit_files = "unlimited" if quota.max_files is None else str(quota.max_files)
        output.line(f"{workspace.name}: {used.bytes} of {limit_bytes} bytes, "
                    f"{used.files} of {limit_files} files",
                    {"workspace": workspace.name, "usage": {"bytes": used.bytes,
                                                            "files": used.files},
                     "quota": {"max_bytes": quota.max_bytes, "max_files": quota.max_files}})
