"""Cold start, in fresh processes: `import main`, and import + the first authenticated read."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from bench.report import Row, ratio_row
from bench.scratch import make_tenant
from bench.serve import STORAGE_BUCKET

ROOT = Path(__file__).resolve().parent.parent

# Each child times its own work (perf_counter around it), so the interpreter's start and exit,
# the same for every line, do not dilute the ratios.
TIMED = """
import sys
from bench.events import context, v2_event
import time; started = time.perf_counter()
{body}
print(time.perf_counter() - started)
"""
FIRST_READ = """
import main
response = main.handler(v2_event("GET", "/v1/files/{file_id}",
                                 headers={{"authorization": "Bearer {key}"}}), context())
assert response["statusCode"] == 200, response
assert "boto3" not in sys.modules, "the first metadata read imported boto3"
"""


def _timed(body: str, env: dict[str, str]) -> float:
    result = subprocess.run([sys.executable, "-c", TIMED.format(body=body)], cwd=ROOT, env=env,
                            check=True, capture_output=True, text=True, timeout=120)
    return float(result.stdout.split()[-1])


def _medians(bodies: dict[str, str], env: dict[str, str], runs: int) -> dict[str, float]:
    """Median of each body over `runs` fresh processes, taken in turns to share the noise."""
    samples: dict[str, list[float]] = {name: [] for name in bodies}
    for _ in range(runs):
        for name, body in bodies.items():
            samples[name].append(_timed(body, env))
    return {name: sorted(values)[runs // 2] for name, values in samples.items()}


def environment(database_url: str, s3_endpoint: str | None = None) -> dict[str, str]:
    """The app's environment for a bench run: this database, the bench bucket (on moto at
    `s3_endpoint`, or named only, for runs that never reach storage), quiet logs."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "S3_"))}
    storage = {"S3_ENDPOINT_URL": s3_endpoint, "AWS_DEFAULT_REGION": "us-east-1"} \
        if s3_endpoint else {}
    return {**base, "LOG_LEVEL": "WARNING", "DATA_DIR": "/tmp/cloudnexus-bench",
            "DATABASE_URL": database_url, "S3_BUCKET": STORAGE_BUCKET,
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", **storage}


def compile_sources() -> None:
    """Bytecode for our own modules, as site-packages and a --bytecode package have it: with
    PYTHONDONTWRITEBYTECODE set (as on these machines) they would compile on every run."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "src", "main.py", "bench"],
                   cwd=ROOT, check=True, timeout=120)


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
    compile_sources()
    env = environment(database_url)
    tenant = make_tenant(database_url)
    found = _medians({
        "reference": "import bench.reference_app",
        "init": "import main",
        "libraries": "import fastapi, sqlalchemy, psycopg, boto3",
        "first": FIRST_READ.format(file_id=tenant.file_id, key=tenant.key),
    }, env, runs)
    rows = [
        ratio_row("init: import main", found["init"], found["reference"], "s", at_most=1.25),
        ratio_row("cold first GET /v1/files/{id} (PostgreSQL)", found["first"],
                  found["libraries"], "s", at_most=1.0),
    ]
    return rows, top_imports(env)


if __name__ == "__main__":
    from bench.scratch import scratch_database

    with scratch_database() as url:
        measured, imports = run(url, 7)
    print(json.dumps([vars(row) for row in measured], indent=2), imports)
