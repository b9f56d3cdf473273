"""Fixtures for the storage contract: a backend, and a real HTTP client for its URLs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cloudnexus.config import Settings, load_settings
from cloudnexus.storage import create_storage
from cloudnexus.storage.base import Storage


class Http:
    """One way to send a request to a presigned URL, over requests or the ASGI TestClient."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def send(self, method: str, url: str, *, headers: dict[str, str] | None = None,
             body: bytes = b"") -> Any:
        import requests

        if isinstance(self.client, requests.Session):
            return self.client.request(method, url, headers=headers, data=body, timeout=30)
        return self.client.request(method, url, headers=headers, content=body)


def new_key(prefix: str = "private") -> str:
    """A key shaped like the server's: `{prefix}/{workspace}/{bucket}/{file}`."""
    return f"{prefix}/{uuid.uuid4()}/{uuid.uuid4()}/{uuid.uuid4()}"


@pytest.fixture
def settings(storage_settings: dict[str, Any]) -> Settings:
    return load_settings(**storage_settings, log_level="WARNING")


@pytest.fixture
def storage(settings: Settings) -> Storage:
    return create_storage(settings)


@pytest.fixture
def http(settings: Settings) -> Iterator[Http]:
    """Local URLs point at the app, so they go through it; S3 URLs go to moto over TCP."""
    if settings.uses_local_storage:
        from fastapi.testclient import TestClient

        from cloudnexus.app import create_app

        with TestClient(create_app(settings)) as client:
            yield Http(client)
        return
    import requests

    with requests.Session() as session:
        yield Http(session)
