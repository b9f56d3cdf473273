"""/console's files as the app serves them (no browser): one copy of cloudnexus.js, nothing
but the console's own names, the CSP naming the storage's origin, and nothing read at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudnexus.config import Settings
from cloudnexus.console.assets import STATIC, headers
from tests.conftest import client_of, running_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def console(make_settings: Callable[..., Settings]) -> Iterator[Any]:
    settings = make_settings(public_url="http://files.example:8000",
                             direct_upload_max_bytes=1000, multipart_threshold=6 * 1024 * 1024)
    for app in running_app(settings):
        yield from client_of(app)


def test_cloudnexus_js_has_one_source(console: Any) -> None:
    client_copy = ROOT / "clients" / "js" / "cloudnexus.js"
    assert client_copy.resolve() == STATIC / "cloudnexus.js"  # a link to the package's file
    served = console.get("/console/cloudnexus.js")
    assert served.status_code == 200 and served.content == client_copy.read_bytes()
    assert served.headers["content-type"] == "text/javascript; charset=utf-8"


def test_the_console_is_served_with_a_strict_policy(console: Any) -> None:
    moved = console.get("/console", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (308, "console/")
    page = console.get("/console/")
    assert page.status_code == 200 and "<title>CloudNexus console</title>" in page.text
    policy = page.headers["content-security-policy"]
    assert policy.startswith("default-src 'self';") and "unsafe" not in policy
    assert "connect-src 'self' http://files.example:8000;" in policy  # presigned URLs point there
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "script" not in page.text.split('<script type="module" src="app.js"></script>', 1)[1]
    assert console.get("/console/limits.json").json() == {
        "direct_upload_max_bytes": 1000, "multipart_threshold": 6 * 1024 * 1024}


@pytest.mark.parametrize("name", ["nope.js", "assets.py", "__init__.py", "Index.html",
                                  "..%2Fassets.py", "static%2Findex.html", "index.html.bak"])
def test_other_names_are_not_found(console: Any, name: str) -> None:
    response = console.get(f"/console/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_on_s3_the_policy_names_the_bucket(make_settings: Callable[..., Settings]) -> None:
    aws = headers(make_settings(s3_bucket="files", aws_region="eu-west-1"))
    assert "https://files.s3.eu-west-1.amazonaws.com" in aws["Content-Security-Policy"]
    minio = headers(make_settings(s3_bucket="files", s3_endpoint_url="http://minio:9000/"))
    assert "img-src 'self' blob: http://minio:9000;" in minio["Content-Security-Policy"]


def test_import_main_reads_no_console_file(tmp_path: Path) -> None:
    """The console adds nothing to a cold start: its files are opened only when asked for."""
    code = f"""
import json, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0]))
                 if event == "open" and {str(STATIC)!r} in str(args[0]) else None)
import main
print(json.dumps(["cloudnexus.console.router" in sys.modules, opened]))
"""
    environment = {**os.environ, "DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [True, []]
