"""Schemathesis against the served OpenAPI document, every operation, with a valid admin key:
no 5xx, and every response as documented (status, content type, headers, body schema).

The quick form runs in `make test` (FUZZ_EXAMPLES examples per operation, 10 by default);
`make fuzz` runs it with 150.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cloudnexus.app import create_app
from cloudnexus.config import load_settings
from tests.conftest import Tenant, _migrate, new_postgres_database, postgres_url_of

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]

# The schema is read from the app at collection, so the app exists before any fixture: on a
# database of its own (made below, before the first request) and the embedded storage.
DATABASE = f"cloudnexus_fuzz_{uuid.uuid4().hex[:12]}"
DATA_DIR = tempfile.mkdtemp(prefix="cloudnexus-fuzz-")
APP = create_app(load_settings(
    data_dir=DATA_DIR, log_level="CRITICAL",
    database_url=postgres_url_of(DATABASE),
    public_url="http://testserver"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def fuzz_tenant() -> Iterator[Tenant]:
    with new_postgres_database(DATABASE) as url:
        try:
            _migrate(url)
            yield Tenant(APP.state.runtime, "fuzz")
        finally:
            APP.state.runtime.close()
            shutil.rmtree(DATA_DIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
def test_every_operation_answers_as_documented(case: Any, fuzz_tenant: Tenant) -> None:
    case.call_and_validate(headers=fuzz_tenant.headers(), checks=CHECKS)


def test_the_document_lists_every_route() -> None:
    """The fuzzer reaches what the document lists: every API route must be in it."""
    routes = {route.path for route in APP.routes
              if route.path.startswith("/v1/") or route.path in ("/health", "/s/{token}")}
    assert routes <= set(APP.openapi()["paths"])
