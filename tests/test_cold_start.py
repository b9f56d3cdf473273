"""Cold start: `import main` pulls in no database driver, ORM or AWS SDK."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

from cloudnexus.config import Settings, load_settings
from tests.conftest import client_of, running_app

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
# The libraries ruff bans at module level (TID253): the cold-start rule of docs/architecture.md.
HEAVY: list[str] = PYPROJECT["flake8-tidy-imports"]["banned-module-level-imports"]


def _expand(pattern: str) -> list[str]:
    """A glob's `{a,b}` alternatives (ruff's globs have them, pathlib's do not)."""
    match = re.search(r"\{([^}]*)\}", pattern)
    if match is None:
        return [pattern]
    return [expanded for choice in match.group(1).split(",")
            for expanded in _expand(pattern[:match.start()] + choice + pattern[match.end():])]


def lazy_modules() -> set[str]:
    """The package's modules exempted from TID253: those imported only where used."""
    modules = set()
    for pattern, rules in PYPROJECT["per-file-ignores"].items():
        if "TID253" in rules and pattern.startswith("src/cloudnexus/"):
            for one in _expand(pattern):
                for path in ROOT.glob(one):
                    if path.suffix == ".py" and path.name != "__init__.py":
                        parts = path.relative_to(ROOT / "src").with_suffix("").parts
                        modules.add(".".join(parts))
    return modules


def make_app_settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url,
                         log_level="WARNING")


def run(code: str, tmp_path: Path, **env: str) -> str:
    environment = {key: value for key, value in os.environ.items()
                   if key.upper() not in {"DATABASE_URL", "S3_BUCKET", "DB_HOST"}}
    environment.update(DATA_DIR=str(tmp_path / "data"), LOG_LEVEL="WARNING", **env)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_import_main_loads_no_database_or_aws_library(tmp_path: Path) -> None:
    """A fresh interpreter's `import main` loads none of the libraries banned at module level,
    nor any of the package's modules that may import them (the lazy layer)."""
    lazy = sorted(lazy_modules())
    assert {"cloudnexus.db.pool", "cloudnexus.files.service", "cloudnexus.storage.s3",
            "cloudnexus.delegation.verify"} <= set(lazy)
    assert {"sqlalchemy", "psycopg", "boto3", "botocore", "jwt", "cryptography"} <= set(HEAVY)
    code = (f"import json, sys, main; print(json.dumps([m for m in {[*HEAVY, *lazy]!r} "
            "if m in sys.modules]))")
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


def test_a_cold_first_read_on_postgresql_loads_no_orm_and_no_aws_sdk(
        tmp_path: Path, postgres_url: str) -> None:
    """A fresh process's first GET /v1/files/{id} through main.handler: the key check and the
    read run on psycopg alone (cloudnexus.db.pool), so SQLAlchemy is not imported, nor boto3."""
    from tests.conftest import Tenant

    for application in running_app(make_app_settings(tmp_path, postgres_url)):
        tenant = Tenant(application.state.runtime, f"cold-read-{uuid.uuid4().hex[:8]}")
        for client in client_of(application):
            client.post("/v1/buckets", json={"name": "cold"}, headers=tenant.headers())
            file_id = client.post("/v1/buckets/cold/files", headers=tenant.headers(), files={
                "file": ("a.txt", b"abc", "text/plain")}).json()["id"]
    code = f"""
import json, sys
import main
from bench.events import context, v2_event
response = main.handler(v2_event("GET", "/v1/files/{file_id}",
    headers={{"authorization": "Bearer {tenant.admin}"}}), context())
print(json.dumps([response["statusCode"], json.loads(response["body"])["path"],
                  [m for m in ("sqlalchemy", "boto3", "botocore", "PIL", "puremagic")
                   if m in sys.modules]]))
"""
    assert json.loads(run(code, tmp_path, DATABASE_URL=postgres_url)) == [200, "a.txt", []]


def test_any_first_request_finds_every_table(tmp_path: Path, postgres_url: str) -> None:
    """Creating a bucket as a fresh process's first request: its foreign key names a table
    whose model that request never imports."""
    from tests.conftest import Tenant

    for application in running_app(make_app_settings(tmp_path, postgres_url)):
        key = Tenant(application.state.runtime, f"first-{uuid.uuid4().hex[:8]}").admin
    code = f"""
import main
from bench.events import context, v2_event
response = main.handler(v2_event("POST", "/v1/buckets", body=b'{{"name": "first"}}',
    headers={{"authorization": "Bearer {key}", "content-type": "application/json"}}),
    context())
print(response["statusCode"])
"""
    assert run(code, tmp_path, DATABASE_URL=postgres_url) == "201"


def test_every_model_is_loaded_with_the_session_factory() -> None:
    """cloudnexus.models, which the session factory imports, names every models module."""
    modules = {f"cloudnexus.{path.parent.name}.models"
               for path in (ROOT / "src/cloudnexus").glob("*/models.py")}
    code = ("import json, sys; from cloudnexus.db.engine import create_session_factory; "
            "create_session_factory(None); "
            "print(json.dumps(sorted(m for m in sys.modules if m.endswith('.models'))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    assert modules <= set(json.loads(result.stdout))


def test_route_modules_hand_fastapi_real_annotations() -> None:
    """FastAPI compiles and evaluates every string annotation once per parameter per route
    (about 40 ms of a cold start): modules that declare routes or dependencies keep theirs
    evaluated, so they do not use `from __future__ import annotations`."""
    source = ROOT / "src/cloudnexus"
    modules = [*source.glob("*/router.py"), *source.glob("*/dependencies.py"),
               source / "deps.py", source / "health.py", source / "storage/local_router.py",
               source / "files/direct.py", source / "runtime.py", source / "db/sessions.py"]
    assert len(modules) > 10
    postponed = [str(path.relative_to(source)) for path in modules
                 if "from __future__ import annotations" in path.read_text()]
    assert postponed == []
