"""create() publishes an object whole and only once; read_head() reads only the first bytes
— the same contract on both backends."""

from __future__ import annotations

import io
import threading

import pytest

from cloudnexus.storage.base import ObjectExists, ObjectNotFound, Storage
from tests.storage.conftest import new_key


def test_create_refuses_a_taken_key_and_keeps_the_first_bytes(storage: Storage) -> None:
    key = new_key("previews") + "/64x64-cover-q80.webp"
    storage.create(key, b"first", content_type="image/webp")
    with pytest.raises(ObjectExists):
        storage.create(key, b"second!", content_type="image/webp")
    with storage.open(key) as body:
        assert body.read() == b"first"
    info = storage.head(key)
    assert (info.size, info.content_type) == (5, "image/webp")


def test_concurrent_creates_leave_one_whole_object(storage: Storage) -> None:
    key = new_key("previews") + "/256x-cover-q80.webp"
    bodies = [bytes([index]) * 300_000 for index in range(6)]
    won: list[bytes] = []

    def create(body: bytes) -> None:
        try:
            storage.create(key, body, content_type="image/webp")
            won.append(body)
        except ObjectExists:
            pass

    threads = [threading.Thread(target=create, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    with storage.open(key) as body:
        assert body.read() == won[0]


def test_read_head_reads_the_first_bytes_only(storage: Storage) -> None:
    key = new_key()
    storage.put(key, io.BytesIO(b"0123456789" * 10_000), content_type="text/plain")
    assert storage.read_head(key, 16) == b"0123456789012345"
    assert storage.read_head(key, 10**7) == b"0123456789" * 10_000
    with pytest.raises(ObjectNotFound):
        storage.read_head(new_key(), 16)
