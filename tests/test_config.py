"""Settings from the environment: every variable of the checklist, one-line errors, no leaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloudnexus.config import ConfigError, load_settings, read_secret_password

CHECKLIST = {"DB_HOST": "db.internal", "DB_PORT": "6543", "DB_NAME": "files", "DB_USER": "app",
             "DB_PASS": "s3cr3t-p@ss/word", "S3_BUCKET": "my-bucket", "AWS_REGION": "eu-west-1",
             "LOG_LEVEL": "debug", "CORS_ORIGINS": "https://a.example, https://b.example"}


def test_every_checklist_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CHECKLIST.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.db_host, settings.db_port, settings.db_name, settings.db_user) == (
        "db.internal", 6543, "files", "app")
    assert settings.s3_bucket == "my-bucket" and settings.aws_region == "eu-west-1"
    assert settings.log_level == "DEBUG"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.sqlalchemy_url() == (
        "postgresql+psycopg://app:s3cr3t-p%40ss%2Fword@db.internal:6543/files")


def test_the_contracts_extras_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    extras = {"S3_ENDPOINT_URL": "http://127.0.0.1:9000", "DATA_DIR": str(tmp_path),
              "DIRECT_UPLOAD_MAX_BYTES": "1000", "MULTIPART_THRESHOLD": str(8 * 1024 * 1024),
              "PRESIGN_EXPIRES": "60", "DATABASE_URL": "postgres://u:p@h:5432/d"}
    for name, value in extras.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert str(settings.s3_endpoint_url) == "http://127.0.0.1:9000/"
    assert settings.data_dir == tmp_path and settings.presign_expires == 60
    assert (settings.direct_upload_max_bytes, settings.multipart_threshold) == (1000, 8 << 20)
    assert settings.sqlalchemy_url() == "postgresql+psycopg://u:p@h:5432/d"


def test_nothing_configured_is_the_embedded_default(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.uses_embedded_database and settings.uses_local_storage
    assert settings.sqlalchemy_url() == f"sqlite:///{tmp_path.resolve()}/cloudnexus.db"
    assert settings.cors_origins == [] and settings.presign_expires == 900


@pytest.mark.parametrize(("name", "value"), [
    ("DB_PORT", "abc"), ("DB_PORT", "70000"), ("LOG_LEVEL", "LOUD"), ("PRESIGN_EXPIRES", "0"),
    ("CORS_ORIGINS", "ftp://x.example"), ("S3_ENDPOINT_URL", "not a url"),
    ("DIRECT_UPLOAD_MAX_BYTES", "-1"), ("MULTIPART_THRESHOLD", "1024"),
    ("DOCS_ENABLED", "maybe"),
])
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                     name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{name}: ") and "\n" not in message


def test_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASS", "hunter2-very-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter3-secret@h/d")
    settings = load_settings()
    for text in (repr(settings), str(settings), json.dumps(settings.model_dump(mode="json"))):
        assert "hunter2" not in text and "hunter3" not in text
    monkeypatch.setenv("DB_PORT", "hunter2-very-secret")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_db_user_is_required_with_db_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_HOST", "db")
    with pytest.raises(ConfigError, match=r"^DB_USER"):
        load_settings().sqlalchemy_url()


@pytest.fixture
def secrets_manager(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
    read_secret_password.cache_clear()
    yield boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint)
    read_secret_password.cache_clear()


@pytest.mark.parametrize("secret", ['{"username": "app", "password": "from-json"}',
                                    "plain-text-password"])
def test_password_comes_from_secrets_manager_once(secrets_manager: Any,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  secret: str) -> None:
    name = f"cloudnexus/db-{abs(hash(secret))}"
    arn = secrets_manager.create_secret(Name=name, SecretString=secret)["ARN"]
    for variable, value in {"DB_HOST": "db", "DB_USER": "app", "DB_SECRET_ARN": arn,
                            "DB_PASS": "ignored"}.items():
        monkeypatch.setenv(variable, value)
    settings = load_settings()
    expected = "from-json" if secret.startswith("{") else "plain-text-password"
    assert settings.sqlalchemy_url() == f"postgresql+psycopg://app:{expected}@db:5432/cloudnexus"
    secrets_manager.update_secret(SecretId=arn, SecretString='{"password": "rotated"}')
    settings.sqlalchemy_url()
    assert read_secret_password.cache_info().misses == 1  # read once per container
    assert read_secret_password.cache_info().hits >= 1
