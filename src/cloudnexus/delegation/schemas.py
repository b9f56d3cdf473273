"""Signing keys and tokens as the API takes and shows them, and the `cnx` claim of a token."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from cloudnexus.auth.grants import Grant, Operation
from cloudnexus.buckets.schemas import BucketName, ContentTypes
from cloudnexus.files.paths import MAX_PATH_BYTES
from cloudnexus.schemas import MAX_BIGINT, Model, Schema, StorableText

Algorithm = Literal["HS256", "ES256", "EdDSA"]
MAX_TOKEN_SECONDS = 24 * 3600
Subject = Annotated[StorableText, StringConstraints(min_length=1, max_length=255)]


class CnxClaim(Schema):
    """What a token allows; unknown fields are refused, so a typo cannot widen or narrow it
    unnoticed."""

    model_config = ConfigDict(strict=True)

    buckets: list[BucketName] = Field(min_length=1, max_length=100)
    prefix: StorableText = Field(max_length=MAX_PATH_BYTES,
                                 description="A plain string prefix of paths; end it with '/'")
    ops: list[Operation] = Field(min_length=1)
    max_file_size: int | None = Field(None, ge=0, le=MAX_BIGINT)
    content_types: ContentTypes | None = None

    def grant(self) -> Grant:
        return Grant(buckets=tuple(self.buckets), prefix=self.prefix,
                     operations=tuple(dict.fromkeys(self.ops)),
                     max_file_size=self.max_file_size,
                     content_types=tuple(self.content_types) if self.content_types else None)


class SigningKeyCreate(Schema):
    name: StorableText = Field(min_length=1, max_length=100)
    algorithm: Algorithm
    public_key: str | None = Field(None, max_length=4096,
                                   description="PEM, for ES256 (P-256) and EdDSA (Ed25519)")

    @field_validator("public_key")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is not None and "PRIVATE KEY" in value:
            raise ValueError("send the public key; the private key stays with you")
        return value


class SigningKeyOut(Model):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    algorithm: Algorithm
    created_at: datetime


class SigningKeyCreated(SigningKeyOut):
    secret: str | None = Field(None, description="HS256 only: the HMAC key, shown only here")


class SigningKeyList(Model):
    items: list[SigningKeyOut]


class TokenCreate(Schema):
    sub: Subject
    expires_in: int = Field(ge=1, le=MAX_TOKEN_SECONDS)
    cnx: CnxClaim


class TokenCreated(Model):
    token: str
    expires_at: datetime
