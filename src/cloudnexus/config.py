"""Settings from the environment: the deployment checklist's variables and ours."""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cloudnexus.limits import MIN_PART_BYTES, MiB

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["json", "text"]
_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    # The deployment checklist's variables.
    db_host: str | None = None
    db_port: int = Field(5432, ge=1, le=65535)
    db_name: str = "cloudnexus"
    db_user: str | None = None
    db_pass: SecretStr | None = None
    s3_bucket: str | None = None
    aws_region: str = "us-east-1"
    log_level: LogLevel = "INFO"
    cors_origins: Annotated[list[str], NoDecode] = []

    # The contract's extras.
    db_secret_arn: str | None = None
    database_url: SecretStr | None = None
    s3_endpoint_url: AnyHttpUrl | None = None
    data_dir: Path = Path(".cloudnexus")
    direct_upload_max_bytes: int = Field(4 * MiB, ge=1)
    multipart_threshold: int = Field(64 * MiB, ge=MIN_PART_BYTES)
    presign_expires: int = Field(900, ge=1, le=604800)
    event_retention_days: int = Field(7, ge=1, le=3650)
    webhook_allow_http: bool = False
    webhook_allow_private: bool = False
    webhook_timeout: float = Field(10, gt=0, le=60)  # seconds a receiver has to answer
    webhook_dispatch: bool = False  # deliver from this process (`cloudnexus serve` sets it)
    # On AWS: the queue of the dispatcher function, nudged after a commit that wrote events.
    events_queue_url: AnyHttpUrl | None = None
    preview_max_bytes: int = Field(25 * MiB, ge=1)  # a larger source gets no preview (413)
    preview_max_pixels: int = Field(50_000_000, ge=1)  # nor one with more pixels (413)
    # Seconds /health reuses a good answer of the storage (0: ask it every time).
    health_storage_ttl: float = Field(10, ge=0, le=300)

    # Ours.
    public_url: AnyHttpUrl | None = None  # where the local backend's presigned URLs point
    db_pool_size: int | None = Field(None, ge=1, le=100)  # default: 1 in Lambda, 10 elsewhere
    # Hot statements planned once per connection; off behind RDS Proxy or PgBouncer's
    # transaction mode, where a connection's prepared statements are not the client's own.
    db_prepared_statements: bool = True
    docs_enabled: bool = True
    public_buckets: bool = True  # false where storage refuses public reads (PublicUploads off)
    log_format: LogFormat | None = None  # default: text on a terminal, JSON elsewhere
    api_base_path: str = Field("/", pattern=r"^/[A-Za-z0-9._~/-]*$")  # a named stage, e.g. /prod

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"'{origin}' is not '*' or an http(s) origin")
        return origins

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        """Fail at start-up, not on the first request; the message never repeats the URL."""
        if value is None:
            return value
        url = value.get_secret_value()
        try:
            valid = bool(_URL_SCHEME.match(url)) and (urlsplit(url).port or 0) >= 0
        except ValueError:  # a port that is not a number
            valid = False
        if not valid:
            raise ValueError("not a database URL like postgresql://user:password@host:5432/name")
        return value

    @property
    def in_lambda(self) -> bool:
        return "AWS_LAMBDA_FUNCTION_NAME" in os.environ

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None and self.db_host is None

    @property
    def uses_local_storage(self) -> bool:
        return self.s3_bucket is None

    @property
    def pool_size(self) -> int:
        return self.db_pool_size or (1 if self.in_lambda else 10)

    @property
    def uses_postgresql(self) -> bool:
        if self.database_url is None:
            return self.db_host is not None
        return self.database_url.get_secret_value().startswith(_POSTGRES_SCHEMES)

    def sqlalchemy_url(self) -> str:
        """The database URL with the password resolved (never log it)."""
        if self.uses_postgresql:
            return "postgresql+psycopg://" + self.postgres_url().removeprefix("postgresql://")
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'cloudnexus.db').resolve()}"

    def postgres_url(self) -> str:
        """The PostgreSQL URL as libpq takes it, password resolved (never log it)."""
        if self.database_url is not None:
            url = self.database_url.get_secret_value()
            return "postgresql://" + url.split("://", 1)[1]
        if not self.db_user:
            raise ConfigError("DB_USER: required when DB_HOST is set")
        password = self.database_password()
        auth = quote(self.db_user, safe="") + (":" + quote(password, safe="") if password else "")
        return f"postgresql://{auth}@{self.db_host}:{self.db_port}/{self.db_name}"

    def database_password(self) -> str | None:
        if self.db_secret_arn:
            return read_secret_password(self.db_secret_arn, self.aws_region)
        return self.db_pass.get_secret_value() if self.db_pass else None


@functools.cache
def read_secret_password(secret_arn: str, region: str) -> str:
    """Read the password from Secrets Manager, once per container."""
    import boto3  # only deployments with DB_SECRET_ARN pay for it

    value: str = boto3.client("secretsmanager", region_name=region).get_secret_value(
        SecretId=secret_arn
    )["SecretString"]
    try:
        document = json.loads(value)
    except ValueError:
        return value
    if isinstance(document, dict) and "password" in document:
        return str(document["password"])
    raise ConfigError("DB_SECRET_ARN: the secret is JSON without a 'password' field")


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; a bad value raises ConfigError with one line naming it."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        message = str(error["msg"]).removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{name}: {message}{more}") from None
