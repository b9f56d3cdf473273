"""Share links: expiring, revocable, download-counted; /s/{token} redirects without a key."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from cloudnexus.db.columns import utcnow
from cloudnexus.links.models import ShareLink
from tests.conftest import Tenant


@pytest.fixture
def file_id(client: Any, tenant: Tenant) -> str:
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    created = client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                          files={"file": ("report.pdf", b"%PDF-1.7", "application/pdf")})
    return str(created.json()["id"])


def make_link(client: Any, tenant: Tenant, file_id: str, **body: Any) -> Any:
    return client.post(f"/v1/files/{file_id}/links", json={"expires_in": 600, **body},
                       headers=tenant.headers())


def test_link_redirects_to_the_file_without_a_key(client: Any, tenant: Tenant,
                                                  file_id: str) -> None:
    created = make_link(client, tenant, file_id, max_downloads=3)
    assert created.status_code == 201
    link = created.json()
    assert set(link) >= {"id", "url", "expires_at", "max_downloads", "downloads"}
    assert link["max_downloads"] == 3 and link["downloads"] == 0
    redirect = client.get(link["url"], follow_redirects=False)
    assert redirect.status_code == 302
    fetched = client.get(redirect.headers["location"])
    assert fetched.content == b"%PDF-1.7"
    assert "report.pdf" in fetched.headers["content-disposition"]
    listed = client.get(f"/v1/files/{file_id}/links", headers=tenant.headers()).json()["items"]
    assert listed[0]["downloads"] == 1 and listed[0]["url"] is None


def test_used_up_link_is_410_saying_so(client: Any, tenant: Tenant, file_id: str) -> None:
    url = make_link(client, tenant, file_id, max_downloads=1).json()["url"]
    assert client.get(url, follow_redirects=False).status_code == 302
    used = client.get(url, follow_redirects=False)
    assert used.status_code == 410 and used.json()["error"] == {
        "code": "gone", "message": "This link is used up: 1 of 1 downloads",
        "request_id": used.headers["X-Request-Id"], "details": []}


def test_revoked_link_is_404_at_once(client: Any, tenant: Tenant, file_id: str) -> None:
    link = make_link(client, tenant, file_id).json()
    assert client.delete(f"/v1/links/{link['id']}", headers=tenant.headers()).status_code == 204
    assert client.get(link["url"], follow_redirects=False).status_code == 404


def test_expired_link_is_410_saying_when(client: Any, app: Any, tenant: Tenant,
                                         file_id: str) -> None:
    link = make_link(client, tenant, file_id).json()
    with app.state.runtime.session_factory() as db:
        db.execute(update(ShareLink).values(
            expires_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)))
        db.commit()
    expired = client.get(link["url"], follow_redirects=False)
    assert expired.status_code == 410 and expired.json()["error"]["code"] == "gone"
    assert expired.json()["error"]["message"] == "This link expired at 2026-01-02T03:04:05Z"
    revoked = make_link(client, tenant, file_id).json()
    client.delete(f"/v1/links/{revoked['id']}", headers=tenant.headers())
    with app.state.runtime.session_factory() as db:  # revoked and expired: revoked, 404
        db.execute(update(ShareLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    assert client.get(revoked["url"], follow_redirects=False).status_code == 404


@pytest.mark.parametrize("agent", [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "WhatsApp/2.23.20.0", "TelegramBot (like TwitterBot)"])
def test_link_previewers_see_a_page_and_use_up_no_download(
        client: Any, tenant: Tenant, file_id: str, agent: str) -> None:
    link = make_link(client, tenant, file_id, max_downloads=1).json()
    for _ in range(3):
        card = client.get(link["url"], headers={"User-Agent": agent}, follow_redirects=False)
        assert card.status_code == 200 and "location" not in card.headers
        assert "report.pdf" in card.text and b"%PDF" not in card.content
        assert card.headers["content-security-policy"] == "default-src 'none'"
        assert client.head(link["url"], follow_redirects=False).status_code == 200
    assert client.get(link["url"], follow_redirects=False).status_code == 302  # the person
    listed = client.get(f"/v1/files/{file_id}/links", headers=tenant.headers()).json()["items"]
    assert listed[0]["downloads"] == 1
    used = client.get(link["url"], headers={"User-Agent": agent}, follow_redirects=False)
    assert used.status_code == 410  # a previewer of a used-up link is told so too


def test_the_preview_page_escapes_the_file_name(client: Any, tenant: Tenant) -> None:
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    created = client.post("/v1/buckets/docs/files", headers=tenant.headers(), files={
        "file": ("x", b"x", "text/plain")}, data={"path": "<img src=x onerror=alert(1)>.txt"})
    url = make_link(client, tenant, created.json()["id"]).json()["url"]
    page = client.get(url, headers={"User-Agent": "Twitterbot/1.0"}).text
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;.txt" in page


def test_unknown_token_and_deleted_file_are_404(client: Any, tenant: Tenant,
                                                file_id: str) -> None:
    assert client.get("/s/not-a-token", follow_redirects=False).status_code == 404
    url = make_link(client, tenant, file_id).json()["url"]
    client.delete(f"/v1/files/{file_id}", headers=tenant.headers())
    assert client.get(url, follow_redirects=False).status_code == 404


@pytest.mark.parametrize("body", [{"expires_in": 0}, {"expires_in": 604801},
                                  {"expires_in": 60, "max_downloads": 0}, {}])
def test_bad_link_requests_are_422(client: Any, tenant: Tenant, file_id: str,
                                   body: dict[str, Any]) -> None:
    response = client.post(f"/v1/files/{file_id}/links", json=body, headers=tenant.headers())
    assert response.status_code == 422


def test_one_download_link_fetched_20_times_at_once_redirects_once(
        app: Any, client: Any, tenant: Tenant, file_id: str) -> None:
    url = make_link(client, tenant, file_id, max_downloads=1).json()["url"]

    def fetch(_: int) -> int:
        with TestClient(app) as own:
            return own.get(url, follow_redirects=False).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(fetch, range(20)))
    assert statuses.count(302) == 1 and statuses.count(410) == 19, statuses
