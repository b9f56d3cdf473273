"""Every table, imported in one place for Alembic and for the tests."""

from cloudnexus.auth.models import ApiKey
from cloudnexus.buckets.models import Bucket
from cloudnexus.db.columns import Base
from cloudnexus.delegation.models import SigningKey
from cloudnexus.files.models import File
from cloudnexus.idempotency.models import IdempotencyRecord
from cloudnexus.links.models import ShareLink
from cloudnexus.uploads.models import Upload
from cloudnexus.workspaces.models import Workspace

__all__ = ["ApiKey", "Base", "Bucket", "File", "IdempotencyRecord", "ShareLink",
           "SigningKey", "Upload", "Workspace"]
