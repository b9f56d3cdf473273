"""Settings from the environment: every variable of the checklist, one-line errors, no leaks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest

from cloudnexus.config import ConfigError, load_settings, read_secret_password

CHECKLIST = {"DB_HOST": "db.internal", "DB_PORT": "6543", "DB_NAME": "files", "DB_USER": "app",
             "DB_PASS": "s3cr3t-p@ss/word", "S3_BUCKET": "my-bucket", "AWS_REGION": "eu-west-1",
             "LOG_LEVEL": "debug", "CORS_ORIGINS": "https://a.example, https://b.example"}
PASSWORD = "hunter2-very-secret"


def set_env(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def test_every_checklist_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, CHECKLIST)
    settings = load_settings()
    assert (settings.db_host, settings.db_port, settings.db_name, settings.db_user) == (
        "db.internal", 6543, "files", "app")
    assert settings.s3_bucket == "my-bucket" and settings.aws_region == "eu-west-1"
    assert settings.log_level == "DEBUG"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.sqlalchemy_url() == (
        "postgresql+psycopg://app:s3cr3t-p%40ss%2Fword@db.internal:6543/files")
    assert not settings.uses_embedded_database and not settings.uses_local_storage


def test_the_contracts_extras_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_env(monkeypatch, {
        "S3_ENDPOINT_URL": "http://127.0.0.1:9000", "DATA_DIR": str(tmp_path),
        "DIRECT_UPLOAD_MAX_BYTES": "1000", "MULTIPART_THRESHOLD": str(8 * 1024 * 1024),
        "PRESIGN_EXPIRES": "60", "DATABASE_URL": "postgres://u:p@h:5432/d",
        "DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"})
    settings = load_settings()
    assert str(settings.s3_endpoint_url) == "http://127.0.0.1:9000/"
    assert settings.data_dir == tmp_path and settings.presign_expires == 60
    assert (settings.direct_upload_max_bytes, settings.multipart_threshold) == (1000, 8 << 20)
    assert settings.db_secret_arn == "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
    assert settings.sqlalchemy_url() == "postgresql+psycopg://u:p@h:5432/d"


def test_nothing_configured_is_the_embedded_default(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.uses_embedded_database and settings.uses_local_storage
    assert settings.sqlalchemy_url() == f"sqlite:///{tmp_path.resolve()}/cloudnexus.db"
    assert (settings.cors_origins, settings.presign_expires, settings.log_level) == ([], 900, "INFO")
    assert (settings.direct_upload_max_bytes, settings.multipart_threshold) == (4 << 20, 64 << 20)


def test_database_url_overrides_the_db_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, CHECKLIST)
    monkeypatch.setenv("DATABASE_URL", "postgresql://other:pw@proxy.internal:5432/meta")
    assert load_settings().sqlalchemy_url() == (
        "postgresql+psycopg://other:pw@proxy.internal:5432/meta")


@pytest.mark.parametrize(("given", "used"), [
    ("postgres://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
    ("postgresql://u:p@h:5433/d", "postgresql+psycopg://u:p@h:5433/d"),
    ("postgresql+psycopg://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
    ("sqlite:////var/data/cloudnexus.db", "sqlite:////var/data/cloudnexus.db"),
])
def test_database_url_is_normalised_to_psycopg(given: str, used: str) -> None:
    assert load_settings(database_url=given).sqlalchemy_url() == used


@pytest.mark.parametrize(("given", "libpq"), [
    ("postgres://u:p@h/d", "postgresql://u:p@h/d"),
    ("postgresql://u:p@h:5433/d?sslmode=require", "postgresql://u:p@h:5433/d?sslmode=require"),
    ("postgresql+psycopg://u:p@h/d", "postgresql://u:p@h/d"),
    ("sqlite:////var/data/cloudnexus.db", None),
])
def test_postgresql_has_a_libpq_url_for_the_event_loop_connections(given: str,
                                                                   libpq: str | None) -> None:
    settings = load_settings(database_url=given)
    assert settings.uses_postgresql == (libpq is not None)
    if libpq is not None:
        assert settings.postgres_url() == libpq


def test_the_db_parts_make_a_libpq_url(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, CHECKLIST)
    settings = load_settings()
    assert settings.uses_postgresql
    assert settings.postgres_url() == "postgresql://" + settings.sqlalchemy_url().split("://")[1]


def test_cors_origins_star(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "*")
    assert load_settings().cors_origins == ["*"]


@pytest.mark.parametrize(("name", "value"), [
    ("DB_PORT", "abc"), ("DB_PORT", "70000"), ("LOG_LEVEL", "LOUD"), ("PRESIGN_EXPIRES", "0"),
    ("PRESIGN_EXPIRES", "604801"), ("CORS_ORIGINS", "ftp://x"),
    ("CORS_ORIGINS", "https://ok.example,app.example"), ("S3_ENDPOINT_URL", "notaurl"),
    ("DIRECT_UPLOAD_MAX_BYTES", "-1"), ("MULTIPART_THRESHOLD", "1024"),
    ("DATABASE_URL", "notaurl"), ("DATABASE_URL", "postgresql://u@h:port/d"),
    ("API_BASE_PATH", "prod"), ("DOCS_ENABLED", "maybe"),
])
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                     name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{name}: ") and "\n" not in message
    assert len(message) > len(name) + 2  # says what is wrong, too


def test_db_user_is_required_with_db_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_HOST", "db")
    with pytest.raises(ConfigError, match=r"^DB_USER"):
        load_settings().sqlalchemy_url()


def test_the_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**CHECKLIST, "DB_PASS": PASSWORD,
                          "DATABASE_URL": f"postgresql://u:{PASSWORD}@h/d"})
    settings = load_settings()
    for text in (repr(settings), str(settings), json.dumps(settings.model_dump(mode="json"))):
        assert PASSWORD not in text
    for name, value in {"DB_PORT": PASSWORD, "DATABASE_URL": f"postgresql://u:{PASSWORD}@h:x/d",
                        "LOG_LEVEL": PASSWORD}.items():
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert str(caught.value).startswith(name) and PASSWORD not in str(caught.value)
        monkeypatch.delenv(name)


def test_botocore_reads_a_service_specific_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_ENDPOINT_URL_<SERVICE ID> (botocore >= 1.31); Secrets Manager's id has a space."""
    assert tuple(int(part) for part in botocore.__version__.split(".")[:2]) >= (1, 31)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETSMANAGER", "http://127.0.0.1:2")  # ignored
    assert "127.0.0.1" not in boto3.client("secretsmanager", region_name="us-east-1").meta.endpoint_url
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1")
    client = boto3.client("secretsmanager", region_name="us-east-1")
    assert client.meta.endpoint_url == "http://127.0.0.1:1"


@pytest.fixture
def secrets_manager(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's server as Secrets Manager, for boto3 clients made by the code under test too."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
    read_secret_password.cache_clear()
    yield boto3.client("secretsmanager", region_name="us-east-1")
    read_secret_password.cache_clear()


@pytest.mark.parametrize(("secret", "password"), [
    ('{"username": "app", "password": "from-json", "engine": "postgres"}', "from-json"),
    ("plain-text-password", "plain-text-password"),
])
def test_the_password_comes_from_secrets_manager_once_per_container(
        secrets_manager: Any, monkeypatch: pytest.MonkeyPatch, secret: str,
        password: str) -> None:
    arn = secrets_manager.create_secret(Name=f"cloudnexus/db-{uuid.uuid4().hex}",
                                        SecretString=secret)["ARN"]
    set_env(monkeypatch, {"DB_HOST": "db", "DB_USER": "app", "DB_SECRET_ARN": arn,
                          "DB_PASS": "ignored-when-a-secret-is-named"})
    expected = f"postgresql+psycopg://app:{password}@db:5432/cloudnexus"
    assert load_settings().sqlalchemy_url() == expected
    assert password not in repr(load_settings())

    secrets_manager.update_secret(SecretId=arn, SecretString='{"password": "rotated"}')
    assert load_settings().sqlalchemy_url() == expected  # not read again: cached
    assert read_secret_password.cache_info().misses == 1
    assert read_secret_password.cache_info().hits == 1


def test_a_json_secret_without_a_password_names_db_secret_arn(
        secrets_manager: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = secrets_manager.create_secret(Name=f"cloudnexus/db-{uuid.uuid4().hex}",
                                        SecretString='{"username": "app"}')["ARN"]
    set_env(monkeypatch, {"DB_HOST": "db", "DB_USER": "app", "DB_SECRET_ARN": arn})
    with pytest.raises(ConfigError, match=r"^DB_SECRET_ARN: "):
        load_settings().sqlalchemy_url()
