"""A large direct upload's file part is sent on to storage while it arrives, when it is the
form's last part; otherwise, or when the part is not as long as foreseen, it is stored once it
has arrived. Either way the stored bytes are the part's, and a refused or broken upload leaves
nothing in storage."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudnexus.files.forwarding import Forward, PartMismatch, SpoolPipe
from tests.conftest import Tenant

DATA = bytes(range(251)) * 6_000  # 1.4 MiB: large enough to forward
BOUNDARY = "cloudnexus-test-boundary"


# --- the pipe between the spool being written and the upload reading it ---------------------

@pytest.fixture
def spool() -> Iterator[Any]:
    with tempfile.TemporaryFile(buffering=0) as file:
        yield file


def _read_all(pipe: SpoolPipe, out: list[Any]) -> None:
    try:
        out.append(b"".join(iter(lambda: pipe.read(4), b"")))
    except PartMismatch as error:
        out.append(error)


def _reader(pipe: SpoolPipe) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=_read_all, args=(pipe, out))
    thread.start()
    return thread, out


def test_the_pipe_holds_the_last_byte_until_the_part_ends_at_its_length(spool: Any) -> None:
    pipe = SpoolPipe(spool, 10)
    thread, out = _reader(pipe)
    spool.write(b"0123456789")
    pipe.wrote(10)
    thread.join(0.3)
    assert thread.is_alive(), "the last byte went before the part had ended"
    pipe.end(10)
    thread.join(5)
    assert out == [b"0123456789"]


@pytest.mark.parametrize("ended", [9, 11, -1])
def test_a_part_of_another_length_breaks_the_pipe(spool: Any, ended: int) -> None:
    pipe = SpoolPipe(spool, 10)
    thread, out = _reader(pipe)
    spool.write(b"0123456789X"[:max(ended, 9)])
    pipe.wrote(max(ended, 9))
    pipe.end(ended)
    thread.join(5)
    assert len(out) == 1 and isinstance(out[0], PartMismatch)


# --- through the app, on every stack ----------------------------------------------------------

@pytest.fixture
def forwards(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What became of each forward: 'stored', 'not stored' or 'abandoned' (the local backend
    made to take forwards as S3 does, so that every stack shows them)."""
    from cloudnexus.storage.local import LocalStorage

    monkeypatch.setattr(LocalStorage, "remote", True)
    seen: list[str] = []
    wait, abandon = Forward.wait, Forward.abandon

    def recorded_wait(self: Forward) -> bool:
        result = wait(self)
        seen.append("stored" if result else "not stored")
        return result

    async def recorded_abandon(self: Forward) -> None:
        seen.append("abandoned")
        await abandon(self)

    monkeypatch.setattr(Forward, "wait", recorded_wait)
    monkeypatch.setattr(Forward, "abandon", recorded_abandon)
    return seen


def _form(*parts: tuple[str, bytes, bool], epilogue: bytes = b"\r\n") -> bytes:
    """A multipart/form-data body of (name, value, is_file) parts, in this order."""
    body = b""
    for name, value, is_file in parts:
        disposition = f'form-data; name="{name}"' + ('; filename="blob.bin"' if is_file else "")
        body += (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n" +
                 ("Content-Type: application/octet-stream\r\n" if is_file else "") +
                 "\r\n").encode() + value + b"\r\n"
    return body + f"--{BOUNDARY}--".encode() + epilogue


FILE_LAST = _form(("path", b"a/blob.bin", False), ("file", DATA, True))


def _post(client: Any, tenant: Tenant, body: bytes) -> Any:
    headers = {**tenant.headers(), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return client.post("/v1/buckets/docs/files", headers=headers, content=body)


def _read_back(client: Any, tenant: Tenant, send: Any, file_id: str) -> bytes:
    redirect = client.get(f"/v1/files/{file_id}/content", headers=tenant.headers(),
                          follow_redirects=False)
    content: bytes = send("GET", redirect.headers["location"]).content
    return content


def _stored(app: Any, tenant: Tenant) -> list[int]:
    return [info.size for info in
            app.state.runtime.storage.list_objects(f"private/{tenant.workspace_id}/")]


@pytest.fixture
def docs(stack_client: Any, stack_tenant: Tenant) -> None:
    assert stack_client.post("/v1/buckets", json={"name": "docs"},
                             headers=stack_tenant.headers()).status_code == 201


@pytest.mark.parametrize(("body", "outcome"), [
    (FILE_LAST, "stored"),
    # Fields after the file: the part is shorter than the rest of the body foresaw.
    (_form(("file", DATA, True), ("path", b"a/blob.bin", False)), "not stored"),
    # No line break after the closing boundary: the part is 2 bytes longer than foreseen.
    (_form(("path", b"a/blob.bin", False), ("file", DATA, True), epilogue=b""), "not stored"),
], ids=["last part", "fields after it", "no epilogue"])
def test_the_stored_bytes_are_the_parts_forwarded_or_not(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, docs: None, send: Any,
        forwards: list[str], body: bytes, outcome: str) -> None:
    created = _post(stack_client, stack_tenant, body)
    assert created.status_code == 201, created.text
    file = created.json()
    assert forwards == [outcome]
    assert (file["path"], file["size"]) == ("a/blob.bin", len(DATA))
    assert file["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert _read_back(stack_client, stack_tenant, send, file["id"]) == DATA
    assert _stored(stack_app, stack_tenant) == [len(DATA)]


def test_the_local_backend_takes_a_large_part_once_it_has_arrived(
        client: Any, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local disk writes the part faster whole than handed over to a thread as it arrives."""
    started: list[object] = []
    start = Forward.start
    monkeypatch.setattr(Forward, "start", lambda *args: started.append(args) or start(*args))
    assert client.post("/v1/buckets", json={"name": "docs"},
                       headers=tenant.headers()).status_code == 201
    created = _post(client, tenant, FILE_LAST)
    assert created.status_code == 201, created.text
    assert started == []
    assert _read_back(client, tenant, lambda method, url: client.request(method, url),
                      created.json()["id"]) == DATA


def test_a_part_does_not_wait_for_a_forward_while_all_are_taken(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, docs: None,
        forwards: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import cloudnexus.files.forwarding as forwarding

    taken = threading.BoundedSemaphore(1)
    taken.acquire()  # as if by a slow client's upload
    monkeypatch.setattr(forwarding, "_free", taken)
    created = _post(stack_client, stack_tenant, FILE_LAST)
    assert created.status_code == 201, created.text
    assert forwards == []
    assert _stored(stack_app, stack_tenant) == [len(DATA)]


def test_a_forwarded_part_refused_by_its_record_is_deleted_once_stored(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, docs: None,
        forwards: list[str]) -> None:
    """A taken path or a full quota is found while the part may still be on its way to the
    store; the bytes go once they are there."""
    from cloudnexus.workspaces import service

    assert _post(stack_client, stack_tenant, FILE_LAST).status_code == 201
    assert _post(stack_client, stack_tenant, FILE_LAST).status_code == 409
    with stack_app.state.runtime.session_factory() as db:
        service.set_quota(db, workspace=service.get(db, workspace_id=stack_tenant.workspace_id),
                          max_bytes=len(DATA) + 10, max_files=None)
    other = _form(("path", b"b/blob.bin", False), ("file", DATA, True))
    assert _post(stack_client, stack_tenant, other).status_code == 403
    assert _stored(stack_app, stack_tenant) == [len(DATA)]


def test_a_refused_form_leaves_nothing_of_a_forwarded_part(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, docs: None,
        forwards: list[str]) -> None:
    body = _form(("metadata", b"not json", False), ("file", DATA, True))
    refused = _post(stack_client, stack_tenant, body)
    assert refused.status_code == 400, refused.text
    assert forwards == ["abandoned"]
    assert _stored(stack_app, stack_tenant) == []


def test_a_large_part_whose_type_is_no_media_type_is_not_forwarded(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, docs: None,
        forwards: list[str]) -> None:
    body = FILE_LAST.replace(b"application/octet-stream", b"text/plain; a=\x01")
    refused = _post(stack_client, stack_tenant, body)
    assert refused.status_code == 422, refused.text
    assert forwards == [] and _stored(stack_app, stack_tenant) == []


def test_a_part_longer_than_foreseen_is_not_stored_short_while_the_rest_is_on_its_way(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, docs: None, send: Any,
        forwards: list[str]) -> None:
    """The last byte waits for the part's end: its first `length` bytes, all there before the
    rest arrives, must not make a whole (short) object."""
    body = _form(("path", b"a/blob.bin", False), ("file", DATA, True), epilogue=b"")
    status, answer = asyncio.run(_call(stack_app, stack_tenant, body, pause_before=16))
    assert status == 201, answer
    assert forwards == ["not stored"]
    file_id = json.loads(answer)["id"]
    assert _read_back(stack_client, stack_tenant, send, file_id) == DATA


def test_a_bucket_deleted_while_its_upload_arrives_keeps_nothing_of_it(
        stack_app: Any, stack_tenant: Tenant, docs: None, forwards: list[str]) -> None:
    from sqlalchemy import delete

    from cloudnexus.buckets.models import Bucket

    def delete_bucket() -> None:
        with stack_app.state.runtime.session_factory() as db:
            db.execute(delete(Bucket).where(Bucket.name == "docs"))
            db.commit()

    body = FILE_LAST
    status, answer = asyncio.run(_call(stack_app, stack_tenant, body, pause_before=16,
                                       meanwhile=delete_bucket))
    assert status == 404, answer
    assert forwards == ["stored"]  # it had gone on to storage, and was deleted after
    assert _stored(stack_app, stack_tenant) == []


def test_a_bucket_made_public_while_its_first_upload_arrives_keeps_it_under_its_new_prefix(
        stack_app: Any, stack_client: Any, stack_tenant: Tenant, docs: None, send: Any,
        forwards: list[str]) -> None:
    """An empty bucket may change visibility: the part went on under the private prefix, but
    the file's key (and a public bucket's public-read prefix) follows the bucket as it is when
    the file is recorded."""
    from sqlalchemy import update

    from cloudnexus.buckets.models import Bucket

    def make_public() -> None:
        with stack_app.state.runtime.session_factory() as db:
            db.execute(update(Bucket).where(Bucket.name == "docs").values(public=True))
            db.commit()

    status, answer = asyncio.run(_call(stack_app, stack_tenant, FILE_LAST, pause_before=16,
                                       meanwhile=make_public))
    assert status == 201, answer
    assert forwards == ["stored"]  # it had gone on, under the old prefix, and was deleted after
    assert _stored(stack_app, stack_tenant) == []
    public = stack_app.state.runtime.storage.list_objects(f"uploads/{stack_tenant.workspace_id}/")
    assert [info.size for info in public] == [len(DATA)]
    assert _read_back(stack_client, stack_tenant, send, json.loads(answer)["id"]) == DATA


def test_a_client_that_hangs_up_leaves_nothing(stack_app: Any, stack_tenant: Tenant,
                                               docs: None, forwards: list[str]) -> None:
    body = _form(("file", DATA, True))
    status, _ = asyncio.run(_call(stack_app, stack_tenant, body, pause_before=len(body) // 2,
                                  hang_up=True))
    assert status != 201
    assert forwards == ["abandoned"]
    assert _stored(stack_app, stack_tenant) == []


async def _call(app: Any, tenant: Tenant, body: bytes, *, pause_before: int,
                hang_up: bool = False,
                meanwhile: Callable[[], None] = lambda: None) -> tuple[int | None, bytes]:
    """Call the app as a server would, the body in two pieces: all but the last
    `pause_before` bytes, then after a pause (and `meanwhile()`) the rest, or a client gone
    (`hang_up`)."""
    headers = {**tenant.headers(), "content-type": f"multipart/form-data; boundary={BOUNDARY}",
               "content-length": str(len(body)), "host": "testserver"}
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/v1/buckets/docs/files",
             "raw_path": b"/v1/buckets/docs/files", "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 1234), "server": ("testserver", 80)}
    split = len(body) - pause_before
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[:split], "more_body": True},
        {"type": "http.disconnect"} if hang_up else
        {"type": "http.request", "body": body[split:], "more_body": False}]
    answer: dict[str, Any] = {"status": None, "body": b""}

    async def receive() -> dict[str, Any]:
        if len(messages) == 1:
            await asyncio.sleep(0.3)  # time enough to send all that has arrived
            meanwhile()
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # after the body, nothing until the answer
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]
