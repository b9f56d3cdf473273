"""Cold start: `import main` pulls in no database driver, ORM or AWS SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ["sqlalchemy", "psycopg", "boto3", "botocore", "alembic"]



def run(code: str, tmp_path: Path, **env: str) -> str:
    environment = {key: value for key, value in os.environ.items()
                   if key.upper() not in {"DATABASE_URL", "S3_BUCKET", "DB_HOST"}}
    environment.update(DATA_DIR=str(tmp_path / "data"), LOG_LEVEL="WARNING", **env)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_import_main_loads_no_database_or_aws_library(tmp_path: Path) -> None:
    code = f"import json, sys, main; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    assert json.loads(run(code, tmp_path)) == []
    on_s3 = run(code, tmp_path, S3_BUCKET="b", DATABASE_URL="postgresql://u@127.0.0.1/db")
    assert json.loads(on_s3) == []


def test_reading_a_private_file_does_not_load_boto3(tmp_path: Path, moto_endpoint: str,
                                                    postgres_url: str) -> None:
    code = """
import json, sys
import main
from fastapi.testclient import TestClient
from tests.conftest import Tenant
runtime = main.app.state.runtime
tenant = Tenant(runtime, "cold-" + __import__("uuid").uuid4().hex[:8])
file_id = __import__("uuid").uuid4()
from cloudnexus.buckets import service as buckets
from cloudnexus.files.models import File
with runtime.session_factory() as db:
    bucket = buckets.create(db, workspace_id=tenant.workspace_id, name="cold")
    db.add(File(id=file_id, workspace_id=tenant.workspace_id, bucket_id=bucket.id, path="a",
                path_search="a",
                size=1, content_type="text/plain", etag="e", metadata_={}, tags=[],
                storage_key="private/x"))
    db.commit()
before = [m for m in ("boto3", "botocore") if m in sys.modules]
response = TestClient(main.app).get(f"/v1/files/{file_id}", headers=tenant.headers())
print(json.dumps([response.status_code, before,
                  [m for m in ("boto3", "botocore") if m in sys.modules]]))
"""
    status, before, after = json.loads(run(code, tmp_path, DATABASE_URL=postgres_url,
                                           S3_BUCKET="cloudnexus-test",
                                           S3_ENDPOINT_URL=moto_endpoint))
    assert status == 200 and before == [] and after == []
