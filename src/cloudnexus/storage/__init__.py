"""Object storage: S3 in production, a local folder in the embedded default."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cloudnexus.config import Settings
    from cloudnexus.storage.base import Storage


def create_storage(settings: Settings) -> Storage:
    """The backend the settings name; its module (and boto3) is imported only here."""
    if settings.uses_local_storage:
        from cloudnexus.storage.local import LocalStorage

        return LocalStorage.from_settings(settings)
    from cloudnexus.storage.s3 import S3Storage

    return S3Storage.from_settings(settings)
