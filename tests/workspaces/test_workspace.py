"""GET /v1/workspace: the caller's workspace with usage and quota (null = unlimited)."""

from __future__ import annotations

from typing import Any

from cloudnexus.workspaces import service
from tests.conftest import Tenant


def test_workspace_shows_usage_and_unlimited_quota(client: Any, tenant: Tenant) -> None:
    body = client.get("/v1/workspace", headers=tenant.headers(tenant.key("files:read"))).json()
    assert body["id"] == str(tenant.workspace_id) and body["name"] == "acme"
    assert body["usage"] == {"bytes": 0, "files": 0, "derived_bytes": 0}
    assert body["quota"] == {"max_bytes": None, "max_files": None}
    assert body["created_at"].endswith("Z")


def test_workspace_shows_the_quota_set_for_it(client: Any, app: Any, tenant: Tenant) -> None:
    with app.state.runtime.session_factory() as db:
        workspace = service.get(db, workspace_id=tenant.workspace_id)
        service.set_quota(db, workspace=workspace, max_bytes=10_000)
    body = client.get("/v1/workspace", headers=tenant.headers()).json()
    assert body["quota"] == {"max_bytes": 10_000, "max_files": None}


def test_each_key_sees_only_its_own_workspace(client: Any, tenant_factory: Any) -> None:
    a, b = tenant_factory("a-corp"), tenant_factory("b-corp")
    assert client.get("/v1/workspace", headers=a.headers()).json()["name"] == "a-corp"
    assert client.get("/v1/workspace", headers=b.headers()).json()["name"] == "b-corp"
