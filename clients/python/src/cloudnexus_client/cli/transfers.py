"""cp, mv, rm and sync: planned as jobs, run in parallel, summed up at the end."""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from cloudnexus_client.cli.app import (
    JsonOption,
    NoProgressOption,
    app,
    attempt,
    command,
    exact_file,
    make_client,
)
from cloudnexus_client.cli.output import Output, Summary
from cloudnexus_client.cli.paths import (
    Remote,
    UsageError,
    file_name,
    is_remote,
    local_files,
    parse_remote,
    relative_under,
)
from cloudnexus_client.cli.progress import Bars
from cloudnexus_client.client import Client
from cloudnexus_client.models import File

STDIO = "-"
BATCH_DELETE_MAX = 1000
HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Job:
    """One file to move: an upload (local → remote), download or server-side copy."""

    kind: str  # "upload", "download" or "copy"
    source: str
    destination: str
    size: int
    remote_file: File | None = None


ParallelOption = Annotated[int, typer.Option("--parallel", min=1, max=64,
                                             help="Files (and parts) in flight at once.")]
RecursiveOption = Annotated[bool, typer.Option("-r", "--recursive", help="Whole folders.")]


def _local_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _remote_tree(client: Client, root: Remote) -> dict[str, File]:
    prefix = root.folder()
    return {relative_under(file.path, prefix): file
            for file in client.files.list(root.bucket, prefix=prefix or None)}


def _plan_cp(client: Client, source: str, destination: str, recursive: bool) -> list[Job]:
    if not is_remote(source) and not is_remote(destination):
        raise UsageError("one of SRC and DST must be a cnx:// path")
    if not is_remote(source):
        target = parse_remote(destination)
        if source == STDIO:
            if target.is_folder:
                raise UsageError("copying standard input needs a file path as DST")
            return [Job("upload", STDIO, str(target), 0)]
        local = Path(source)
        if local.is_dir():
            if not recursive:
                raise UsageError(f"{source} is a folder: use -r")
            return [Job("upload", str(path), str(target.child(relative)), path.stat().st_size)
                    for relative, path in local_files(local).items()]
        if not local.is_file():
            raise UsageError(f"no such file: {source}")
        remote = target.child(local.name) if target.is_folder else target
        return [Job("upload", str(local), str(remote), local.stat().st_size)]
    origin = parse_remote(source)
    kind = "copy" if is_remote(destination) else "download"
    if recursive:
        tree = _remote_tree(client, origin)
        return [Job(kind, str(Remote(origin.bucket, file.path)),
                    _beneath(destination, relative), file.size, file)
                for relative, file in tree.items()]
    if origin.is_folder:
        raise UsageError(f"{source} is a folder: use -r")
    file = exact_file(client, origin)
    return [Job(kind, source, _into(destination, file_name(file.path)), file.size, file)]


def _beneath(destination: str, relative: str) -> str:
    if is_remote(destination):
        return str(parse_remote(destination).child(relative))
    return str(Path(destination) / relative)


def _into(destination: str, name: str) -> str:
    """A single file's destination: into DST when it is a folder."""
    if is_remote(destination):
        remote = parse_remote(destination)
        return str(remote.child(name) if remote.is_folder else remote)
    if destination != STDIO and (destination.endswith("/") or Path(destination).is_dir()):
        return str(Path(destination) / name)
    return destination


def _run_job(client: Client, job: Job, bars: Bars, summary: Summary, output: Output,
             parallel: int) -> None:
    update, finish = bars.file(file_name(job.destination if job.kind != "download"
                                         else job.source), job.size)
    try:
        if job.kind == "upload":
            remote = parse_remote(job.destination)
            source = sys.stdin.buffer if job.source == STDIO else Path(job.source)
            uploaded = client.files.upload_with_outcome(
                remote.bucket, remote.path, source, overwrite=True, progress=update,
                concurrency=parallel)
            summary.add("uploaded", sent=uploaded.sent, resumed=uploaded.resumed)
            size, resumed = uploaded.file.size, uploaded.resumed
        elif job.kind == "download":
            if job.remote_file is None:
                raise UsageError("nothing to download")
            target = sys.stdout.buffer if job.destination == STDIO else Path(job.destination)
            downloaded = client.files.download_with_outcome(job.remote_file.id, target,
                                                            progress=update)
            summary.add("downloaded", sent=downloaded.received, resumed=downloaded.resumed)
            size, resumed = downloaded.file.size, downloaded.resumed
        else:
            if job.remote_file is None:
                raise UsageError("nothing to copy")
            remote = parse_remote(job.destination)
            client.files.copy(job.remote_file.id, remote.path, bucket=remote.bucket,
                              overwrite=True)
            summary.add("copied")
            size, resumed = job.size, False
    finally:
        finish()
    if job.destination != STDIO:
        output.line(f"{job.kind}: {job.source} to {job.destination}",
                    {"action": job.kind, "source": job.source, "destination": job.destination,
                     "size": size, "resumed": resumed})


def _failed_counter(output: Output, summary: Summary) -> Callable[[str, Callable[[], None]],
                                                                   None]:
    def run(what: str, action: Callable[[], None]) -> None:
        before = output.failures
        attempt(output, what, action)
        if output.failures > before:
            summary.add("failed")

    return run


@app.command()
def cp(source: str, destination: str, recursive: RecursiveOption = False,
       parallel: ParallelOption = 4, json_output: JsonOption = False,
       no_progress: NoProgressOption = False) -> None:
    """Copy local → remote, remote → local or remote → remote (server-side); -r for folders."""
    with command(json_output, not no_progress) as output:
        client = make_client(parallel)
        jobs = _plan_cp(client, source, destination, recursive)
        summary = Summary()
        run = _failed_counter(output, summary)
        with Bars(output.show_progress, sum(job.size for job in jobs)) as bars, \
                ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(lambda job: run(job.source, lambda: _run_job(
                client, job, bars, summary, output, parallel)), jobs))
        output.summary(summary)


@app.command()
def mv(source: str, destination: str, json_output: JsonOption = False) -> None:
    """Rename a remote file (metadata only; across buckets: copy, then delete)."""
    with command(json_output) as output:
        origin, target = parse_remote(source), parse_remote(destination)
        client = make_client()
        file = exact_file(client, origin)
        if target.is_folder:
            target = target.child(file_name(file.path))
        if target.bucket == origin.bucket:
            moved = client.files.update(file.id, path=target.path, if_match=file.etag)
        else:
            moved = client.files.copy(file.id, target.path, bucket=target.bucket)
            client.files.delete(file.id)
        output.line(f"move: {source} to {target}", moved.to_json())


@app.command()
def rm(paths: Annotated[list[str], typer.Argument(help="cnx:// paths.")],
       recursive: RecursiveOption = False, json_output: JsonOption = False) -> None:
    """Delete files; -r deletes everything under a folder (in batches, server-side)."""
    with command(json_output) as output:
        client = make_client()
        summary = Summary()
        run = _failed_counter(output, summary)
        for text in paths:
            remote = parse_remote(text)
            if recursive:
                run(text, functools.partial(_remove_tree, client, remote, summary, output))
            elif remote.is_folder:
                raise UsageError(f"{text} is a folder: use -r")
            else:
                run(text, functools.partial(_remove_one, client, remote, summary, output))
        output.summary(summary)


def _remove_one(client: Client, remote: Remote, summary: Summary, output: Output) -> None:
    client.files.delete(exact_file(client, remote).id)
    summary.add("deleted")
    output.line(f"delete: {remote}", {"action": "delete", "path": str(remote)})


def _remove_tree(client: Client, remote: Remote, summary: Summary, output: Output) -> None:
    prefix = remote.folder()
    if prefix:
        count = client.files.delete_many(remote.bucket, prefix=prefix)
    else:  # the whole bucket: a prefix must not be empty, so by ids
        ids = [file.id for file in client.files.list(remote.bucket)]
        count = sum(client.files.delete_many(remote.bucket, ids=ids[start:start + BATCH_DELETE_MAX])
                    for start in range(0, len(ids), BATCH_DELETE_MAX))
    summary.add("deleted", count)
    output.line(f"delete: {count} files under {remote.bucket}/{prefix}",
                {"action": "delete", "path": f"cnx://{remote.bucket}/{prefix}", "count": count})


@app.command()
def sync(source: str, destination: str,
         delete: Annotated[bool, typer.Option("--delete", help="Remove what SRC lacks.")] = False,
         dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what.")] = False,
         parallel: ParallelOption = 4, json_output: JsonOption = False,
         no_progress: NoProgressOption = False) -> None:
    """Make DST like SRC; files whose size and SHA-256 already match are skipped."""
    with command(json_output, not no_progress) as output:
        client = make_client(parallel)
        summary = Summary()
        jobs, extra = _plan_sync(client, source, destination, summary)
        if dry_run:
            for job in jobs:
                output.line(f"(dry run) {job.kind}: {job.source} to {job.destination}",
                            {"action": job.kind, "source": job.source,
                             "destination": job.destination, "dry_run": True})
            for path, _ in extra if delete else []:
                output.line(f"(dry run) delete: {path}",
                            {"action": "delete", "path": path, "dry_run": True})
            output.summary(summary)
            return
        run = _failed_counter(output, summary)
        with Bars(output.show_progress, sum(job.size for job in jobs)) as bars, \
                ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(lambda job: run(job.source, lambda: _run_job(
                client, job, bars, summary, output, parallel)), jobs))
        if delete and extra:
            run(destination, lambda: _delete_extra(client, destination, extra, summary, output))
        output.summary(summary)


def _plan_sync(client: Client, source: str, destination: str,
               summary: Summary) -> tuple[list[Job], list[tuple[str, str | None]]]:
    """The jobs that make DST like SRC, and DST's paths that SRC lacks."""
    if is_remote(source) == is_remote(destination) and not is_remote(source):
        raise UsageError("one of SRC and DST must be a cnx:// path")
    source_files: dict[str, tuple[int, str | None, File | None]]
    extra_paths: dict[str, tuple[str, str | None]]
    if is_remote(source):
        origin = parse_remote(source)
        source_files = {relative: (file.size, file.sha256, file)
                        for relative, file in _remote_tree(client, origin).items()}
    else:
        root = Path(source)
        if not root.is_dir():
            raise UsageError(f"not a folder: {source}")
        source_files = {relative: (path.stat().st_size, None, None)
                        for relative, path in local_files(root).items()}
    if is_remote(destination):
        tree = _remote_tree(client, parse_remote(destination))
        existing = {relative: (file.size, file.sha256) for relative, file in tree.items()}
        extra_paths = {relative: (str(parse_remote(destination).child(relative)), file.id)
                       for relative, file in tree.items()}
    else:
        local_tree = local_files(Path(destination)) if Path(destination).is_dir() else {}
        existing = {relative: (path.stat().st_size, None) for relative, path in local_tree.items()}
        extra_paths = {relative: (str(path), None) for relative, path in local_tree.items()}
    jobs: list[Job] = []
    for relative, (size, sha256, file) in source_files.items():
        if relative in existing and existing[relative][0] == size and \
                _same_bytes(source, destination, relative, sha256, existing[relative][1]):
            summary.add("skipped")
            continue
        kind = "upload" if not is_remote(source) else (
            "copy" if is_remote(destination) else "download")
        origin_text = str(Path(source) / relative) if not is_remote(source) else \
            str(parse_remote(source).child(relative))
        jobs.append(Job(kind, origin_text, _beneath(destination, relative), size, file))
    extra = [extra_paths[relative] for relative in existing if relative not in source_files]
    return jobs, extra


def _same_bytes(source: str, destination: str, relative: str, source_sha: str | None,
                destination_sha: str | None) -> bool:
    if source_sha is None:
        source_sha = _local_sha256(Path(source) / relative)
    if destination_sha is None:
        destination_sha = _local_sha256(Path(destination) / relative)
    return source_sha == destination_sha


def _delete_extra(client: Client, destination: str, extra: list[tuple[str, str | None]],
                  summary: Summary, output: Output) -> None:
    if not is_remote(destination):
        for path, _ in extra:
            Path(path).unlink()
            summary.add("deleted")
            output.line(f"delete: {path}", {"action": "delete", "path": path})
        return
    root = parse_remote(destination)
    ids = [file_id for _, file_id in extra if file_id]
    for start in range(0, len(ids), BATCH_DELETE_MAX):
        summary.add("deleted", client.files.delete_many(
            root.bucket, ids=ids[start:start + BATCH_DELETE_MAX]))
    for path, _ in extra:
        output.line(f"delete: {path}", {"action": "delete", "path": path})
