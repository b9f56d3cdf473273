"""Fixtures: the real PostgreSQL at 127.0.0.1:5432, SQLite files, moto's S3 server, the app."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from cloudnexus.config import Settings, load_settings

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_BUCKET = "cloudnexus-test"

# Keep the developer's environment out of the tests: every setting comes from the fixtures.
for _variable in list(os.environ):
    if _variable.upper() in {name.upper() for name in Settings.model_fields}:
        os.environ.pop(_variable)
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_url_of(name: str) -> str:
    """The URL of database `name` on the test server."""
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@functools.cache
def postgres_unreachable() -> str | None:
    """Why the test PostgreSQL cannot be used, in one line; None when it can."""
    from sqlalchemy.exc import OperationalError

    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect():
            return None
    except OperationalError as exc:
        reason = (str(exc.orig).strip().splitlines() or ["no answer"])[0]
        return (f"PostgreSQL at {engine.url.render_as_string()} is not reachable ({reason}); "
                "start one (README: Tests) or set TEST_POSTGRES_URL")
    finally:
        engine.dispose()


@contextmanager
def new_postgres_database(name: str) -> Iterator[str]:
    """An empty database of its own on the real PostgreSQL, dropped afterwards; its URL.

    Without a PostgreSQL the test is skipped with the reason, except in CI, where it fails."""
    if (reason := postgres_unreachable()) is not None:
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url_of(name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own on the real PostgreSQL, migrated once, dropped at the end."""
    with new_postgres_database(f"cloudnexus_test_{uuid.uuid4().hex[:12]}") as url:
        _migrate(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, so no test migrates again."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite file of the test's own (a copy of the template), as a URL."""
    path = tmp_path / "migrated.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _migrate(url: str) -> None:
    from cloudnexus.db.engine import create_db_engine
    from cloudnexus.migrations import upgrade

    engine = create_db_engine(load_settings(database_url=url))
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def _truncate_all(url: str) -> None:
    from cloudnexus.models import Base

    tables = [f'"{table.name}"' for table in Base.metadata.sorted_tables]
    if not tables:
        return
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test runs once on SQLite and once on PostgreSQL, starting from empty tables."""
    if request.param == "sqlite":
        path = tmp_path / "cloudnexus.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    _truncate_all(url)
    yield url


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback, with the test bucket made once."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket=TEST_BUCKET
    )
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def storage_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Settings naming one storage backend: a local folder, or a bucket on moto's S3 server."""
    if request.param == "local":
        return {"data_dir": tmp_path / "data", "public_url": "http://testserver"}
    endpoint = request.getfixturevalue("moto_endpoint")
    import boto3

    bucket = f"cnx-{uuid.uuid4().hex[:12]}"  # a bucket of its own: maintenance lists them all
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return {"s3_bucket": bucket, "s3_endpoint_url": endpoint, "data_dir": tmp_path / "data"}


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": tmp_path / "data", "public_url": "http://testserver"}
        values.update(overrides)
        return load_settings(**values)

    return make


class Tenant:
    """A workspace made through the services, with a way to mint keys of any kind for it."""

    def __init__(self, runtime: Any, name: str) -> None:
        from cloudnexus.workspaces import service as workspaces

        self.runtime = runtime
        with runtime.session_factory() as db:
            self.workspace_id = workspaces.create(db, name=name).id
        self.name = name
        self.admin = self.key("admin")

    def key(self, *scopes: str, expires_at: Any = None, revoked: bool = False) -> str:
        from cloudnexus.auth import service as keys

        with self.runtime.session_factory() as db:
            key, full_key = keys.create(db, workspace_id=self.workspace_id, name="test",
                                        scopes=list(scopes), expires_at=expires_at)
            if revoked:
                keys.revoke(db, workspace_id=self.workspace_id, key_id=key.id)
        return full_key

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin}"}


@pytest.fixture
def app_settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    """The embedded-storage app on each database."""
    return make_settings(database_url=database_url, log_level="WARNING")


def running_app(settings: Settings) -> Iterator[Any]:
    """The app for these settings, its engine disposed of afterwards."""
    from cloudnexus.app import create_app

    application = create_app(settings)
    yield application
    application.state.runtime.close()


def client_of(application: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(application) as test_client:
        yield test_client


@pytest.fixture
def app(app_settings: Settings) -> Iterator[Any]:
    yield from running_app(app_settings)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    yield from client_of(app)


@pytest.fixture
def tenant_factory(app: Any) -> Callable[[str], Tenant]:
    return lambda name: Tenant(app.state.runtime, name)


@pytest.fixture
def tenant(tenant_factory: Callable[[str], Tenant]) -> Tenant:
    return tenant_factory("acme")


@pytest.fixture
def stack_settings(make_settings: Callable[..., Settings], database_url: str,
                   storage_settings: dict[str, Any]) -> Settings:
    """Every pairing: SQLite or PostgreSQL, with local storage or S3 (moto)."""
    return make_settings(database_url=database_url, log_level="WARNING", **storage_settings)


@pytest.fixture
def stack_app(stack_settings: Settings) -> Iterator[Any]:
    yield from running_app(stack_settings)


@pytest.fixture
def stack_client(stack_app: Any) -> Iterator[Any]:
    yield from client_of(stack_app)


@pytest.fixture
def stack_tenant(stack_app: Any) -> Tenant:
    return Tenant(stack_app.state.runtime, "acme")


@pytest.fixture
def send(stack_client: Any) -> Callable[..., Any]:
    """Send a request to a presigned URL the way a browser would: to the app itself for the
    local backend (its URLs point at http://testserver), over real HTTP to moto for S3."""
    import requests

    def request(method: str, url: str, **kwargs: Any) -> Any:
        if url.startswith("http://testserver/"):
            if isinstance(kwargs.get("data"), bytes):  # httpx takes raw bytes as content
                kwargs["content"] = kwargs.pop("data")
            return stack_client.request(method, url, **kwargs)
        return requests.request(method, url, timeout=30, **kwargs)

    return request
