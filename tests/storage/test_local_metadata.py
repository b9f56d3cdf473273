"""The local backend keeps an object's metadata on its file (an extended attribute), so that
storing it creates one file; where the system takes none (macOS has no os.setxattr), and for
objects stored before, in a hidden JSON sidecar — read either way."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from cloudnexus.storage.base import ObjectExists
from cloudnexus.storage.local import LocalStorage
from cloudnexus.storage.staging import (
    METADATA_ATTRIBUTE,
    sidecar,
    takes_attributes,
    write_metadata,
)
from tests.storage.conftest import new_key

DATA = b"metadata on the file " * 100


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    if not takes_attributes(tmp_path):
        pytest.skip("this filesystem takes no user extended attributes")
    return LocalStorage(tmp_path, "http://127.0.0.1:8000")


def _without_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a system without os.setxattr and os.getxattr (macOS)."""
    monkeypatch.delattr(os, "setxattr")
    monkeypatch.delattr(os, "getxattr")


@pytest.fixture
def without_attributes(local: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    _without_attributes(monkeypatch)


@pytest.fixture(params=[True, False], ids=["attribute", "sidecar"])
def attributes(request: pytest.FixtureRequest, local: LocalStorage,
               monkeypatch: pytest.MonkeyPatch) -> bool:
    """Each way in turn: True with attributes, False as without them."""
    if not request.param:
        _without_attributes(monkeypatch)
    return bool(request.param)


def _files_beside(local: LocalStorage, key: str) -> list[str]:
    return sorted(path.name for path in local.path_of(key).parent.iterdir())


def test_an_object_is_one_file_with_its_metadata_on_it(local: LocalStorage) -> None:
    key = new_key()
    local.put(key, io.BytesIO(DATA), content_type="text/plain")
    assert _files_beside(local, key) == [local.path_of(key).name]
    document = json.loads(os.getxattr(local.path_of(key), METADATA_ATTRIBUTE))
    sha256 = hashlib.sha256(DATA).hexdigest()
    assert document == {"content_type": "text/plain", "size": len(DATA), "sha256": sha256,
                        "etag": f'"{sha256[:32]}"'}
    info = local.head(key)
    assert (info.content_type, info.size, info.sha256) == ("text/plain", len(DATA), sha256)


@pytest.mark.usefixtures("without_attributes")
def test_without_attributes_the_metadata_is_a_sidecar(local: LocalStorage) -> None:
    key = new_key()
    local.put(key, io.BytesIO(DATA), content_type="text/plain")
    assert json.loads(sidecar(local.path_of(key)).read_text())["content_type"] == "text/plain"
    assert local.head(key).sha256 == hashlib.sha256(DATA).hexdigest()
    local.delete(key)
    assert _files_beside(local, key) == []


def test_a_pending_object_is_marked_ready_where_its_metadata_is(
        local: LocalStorage, attributes: bool) -> None:
    upload_id = local.create_multipart(key := new_key(), content_type="text/plain")
    with local.staged_part(key, upload_id, 1, size=len(DATA)) as staged:
        staged.write(DATA)
        part = local.save_part(staged)
    assert local.list_parts(key, upload_id) == [part]
    local.complete_multipart(key, upload_id, [part])
    assert local.is_pending(key)
    local.mark_ready(key)
    assert not local.is_pending(key)
    assert local.head(key).content_type == "text/plain"
    assert sidecar(local.path_of(key)).exists() is not attributes


def test_an_object_stored_with_a_sidecar_is_read_and_moves_onto_its_file(
        local: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key()
    with monkeypatch.context() as earlier:  # stored the way an earlier version did
        earlier.delattr(os, "setxattr")
        local.put(key, io.BytesIO(DATA), content_type="text/csv")
        local.mark_ready(key)
    assert sidecar(local.path_of(key)).exists()
    assert local.head(key).content_type == "text/csv"
    local.mark_ready(key)
    assert not sidecar(local.path_of(key)).exists()
    assert json.loads(os.getxattr(local.path_of(key), METADATA_ATTRIBUTE))["size"] == len(DATA)
    assert local.head(key).sha256 == hashlib.sha256(DATA).hexdigest()


def test_create_on_a_taken_key_leaves_the_first_metadata(
        local: LocalStorage, attributes: bool) -> None:
    key = new_key("previews") + "/64x64-cover-q80.webp"
    local.create(key, b"first", content_type="image/webp")
    with pytest.raises(ObjectExists):
        local.create(key, b"second!", content_type="image/png")
    info = local.head(key)
    assert (info.content_type, info.size) == ("image/webp", 5)
    assert info.sha256 == hashlib.sha256(b"first").hexdigest()


def test_metadata_is_not_written_for_a_file_that_is_gone(local: LocalStorage) -> None:
    """mark_ready after a delete: 404, not a metadata document left with no object."""
    key = new_key()
    local.put(key, io.BytesIO(DATA), content_type="text/plain")
    path = local.path_of(key)
    path.unlink()
    with pytest.raises(FileNotFoundError):
        write_metadata(path, {"content_type": "text/plain"})
    assert _files_beside(local, key) == []
