"""Cold start, in fresh processes: `import main`, and import + the first authenticated read."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.report import Row, ratio_row
from bench.scratch import make_tenant

ROOT = Path(__file__).resolve().parent.parent

FIRST_READ = """
import time; started = time.perf_counter()
import main
from bench.events import context, v2_event
response = main.handler(v2_event("GET", "/v1/files/{file_id}",
                                 headers={{"authorization": "Bearer {key}"}}), context())
assert response["statusCode"] == 200, response
import sys
print(time.perf_counter() - started, "boto3" in sys.modules)
"""


def _wall(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    return time.perf_counter() - started


def _median_wall(code: str, env: dict[str, str], runs: int) -> float:
    return sorted(_wall(code, env) for _ in range(runs))[runs // 2]


def environment(**extra: str) -> dict[str, str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "S3_"))}
    return {**base, "LOG_LEVEL": "WARNING", "DATA_DIR": "/tmp/cloudnexus-bench", **extra}


def top_imports(env: dict[str, str], count: int = 10) -> list[tuple[str, float]]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import main"], cwd=ROOT,
                            env=env, check=True, capture_output=True, text=True, timeout=120)
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)", line)
        if match:
            rows.append((match.group(2), int(match.group(1)) / 1000))
    return sorted(rows, key=lambda row: -row[1])[:count]


def run(database_url: str, runs: int) -> tuple[list[Row], list[tuple[str, float]]]:
    env = environment(DATABASE_URL=database_url, S3_BUCKET="cloudnexus-bench",
                      AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    reference = _median_wall("import bench.reference_app", env, runs)
    init = _median_wall("import main", env, runs)
    libraries = _median_wall("import fastapi, sqlalchemy, psycopg, boto3", env, runs)
    tenant = make_tenant(database_url)
    code = FIRST_READ.format(file_id=tenant.file_id, key=tenant.key)
    first_reads = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True, timeout=120).stdout.split()
        first_reads.append(time.perf_counter() - started)
        if out[1] != "False":
            raise RuntimeError("the first metadata read imported boto3")
    first = sorted(first_reads)[runs // 2]
    rows = [
        ratio_row("init: import main", init, reference, "s", at_most=1.25),
        ratio_row("cold first GET /v1/files/{id} (PostgreSQL)", first, libraries, "s",
                  at_most=1.0),
    ]
    return rows, top_imports(env)


if __name__ == "__main__":
    from bench.scratch import scratch_database

    with scratch_database() as url:
        found, imports = run(url, 5)
    print(json.dumps([vars(row) for row in found], indent=2), imports)
