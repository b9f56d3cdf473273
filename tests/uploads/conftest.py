"""The bucket every presigned-upload test starts from, on every stack."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant


@pytest.fixture
def bucket(stack_client: Any, stack_tenant: Tenant) -> str:
    created = stack_client.post("/v1/buckets", json={"name": "media"},
                                headers=stack_tenant.headers())
    assert created.status_code == 201
    return "media"
