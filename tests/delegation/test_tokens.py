"""Delegated tokens: what a token may do inside its grant, and nothing outside it — every
route, on SQLite and PostgreSQL. The isolation matrix beside the API keys' one
(tests/auth/test_route_guards.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.auth.test_route_guards import BODIES, FORMS, ROUTES
from tests.conftest import Tenant

SUB = "user-42"
PREFIX = "users/42/"
LOOK_ALIKE = "users/\uff14\uff12/"  # fullwidth digits: not the prefix, though it looks so
GRANT = {"buckets": ["photos"], "prefix": PREFIX, "ops": ["list", "read", "write", "delete"]}
# The routes a token may use, with the operation each needs; every other /v1 route is 403.
TOKEN_ROUTES = {
    ("GET", "/v1/buckets/{bucket}/files"): "list",
    ("GET", "/v1/files/{file_id}"): "read",
    ("GET", "/v1/files/{file_id}/content"): "read",
    ("GET", "/v1/files/{file_id}/preview"): "read",
    ("POST", "/v1/buckets/{bucket}/files"): "write",
    ("PATCH", "/v1/files/{file_id}"): "write",
    ("POST", "/v1/files/{file_id}/copy"): "write",
    ("POST", "/v1/buckets/{bucket}/uploads"): "write",
    ("GET", "/v1/uploads/{upload_id}"): "write",
    ("POST", "/v1/uploads/{upload_id}/complete"): "write",
    ("DELETE", "/v1/uploads/{upload_id}"): "write",
    ("DELETE", "/v1/files/{file_id}"): "delete",
}
TOKEN_BODIES = {
    ("PATCH", "/v1/files/{file_id}"): {"tags": ["seen"]},
    ("POST", "/v1/files/{file_id}/copy"): {"path": f"{PREFIX}copy.txt"},
    ("POST", "/v1/buckets/{bucket}/uploads"): {"path": f"{PREFIX}up.txt", "size": 3,
                                               "content_type": "text/plain"},
}
TOKEN_FORMS = {("POST", "/v1/buckets/{bucket}/files"): {
    "file": ("new.txt", b"new", "text/plain"), "path": (None, f"{PREFIX}new.txt")}}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None) -> str:
    """A JWT put together by hand, as an attacker would (PyJWT refuses to make these)."""
    signed = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b"" if hmac_key is None else hmac.new(hmac_key, signed.encode(),
                                                      hashlib.sha256).digest()
    return f"{signed}.{b64(signature)}"


class World:
    """Workspace A: buckets photos and other, an HS256 and an ES256 signing key, a file inside
    the grant and one of each kind outside it; workspace B with the same names."""

    def __init__(self, client: Any, a: Tenant, b: Tenant) -> None:
        self.client, self.a, self.b = client, a, b
        for tenant in (a, b):
            for name in ("photos", "other"):
                assert client.post("/v1/buckets", json={"name": name},
                                   headers=tenant.headers()).status_code == 201
        self.files = {
            "inside": self.upload(a, "photos", f"{PREFIX}a.txt"),
            "other prefix": self.upload(a, "photos", "users/43/b.txt"),
            "look-alike prefix": self.upload(a, "photos", f"{LOOK_ALIKE}b.txt"),
            "other bucket": self.upload(a, "other", f"{PREFIX}c.txt"),
            "other workspace": self.upload(b, "photos", f"{PREFIX}d.txt"),
        }
        self.hs256 = self.signing_key(a, "HS256")
        self.private_es256 = ec.generate_private_key(ec.SECP256R1())
        self.es256_pem = self.private_es256.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.es256 = self.signing_key(a, "ES256", self.es256_pem)
        self.b_hs256 = self.signing_key(b, "HS256")

    def upload(self, tenant: Tenant, bucket: str, path: str) -> str:
        made = self.client.post(f"/v1/buckets/{bucket}/files", headers=tenant.headers(),
                                files={"file": ("x.txt", b"abc", "text/plain")},
                                data={"path": path})
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def signing_key(self, tenant: Tenant, algorithm: str,
                    public_key: str | None = None) -> dict[str, Any]:
        body = {"name": algorithm.lower(), "algorithm": algorithm}
        if public_key:
            body["public_key"] = public_key
        made = self.client.post("/v1/signing-keys", json=body, headers=tenant.headers())
        assert made.status_code == 201, made.text
        return made.json()  # type: ignore[no-any-return]

    def token(self, *, key: dict[str, Any] | None = None, **claims: Any) -> str:
        key = key or self.hs256
        now = int(time.time())
        body = {"sub": SUB, "iat": now, "exp": now + 600, "cnx": GRANT, **claims}
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key["secret"], algorithm="HS256", headers={"kid": key["id"]})

    def call(self, route: tuple[str, str], token: str, *, file: str = "inside",
             upload_id: str | None = None, **overrides: Any) -> Any:
        method, template = route
        ids = {"bucket": "photos", "file_id": self.files.get(file, file),
               "upload_id": upload_id or self.new_upload(), "key_id": str(uuid.uuid4()),
               "signing_key_id": self.hs256["id"], "link_id": str(uuid.uuid4()),
               "webhook_id": str(uuid.uuid4())}
        url = template.format(**ids)
        headers = {"Authorization": f"Bearer {token}"}
        if route in TOKEN_FORMS or route in FORMS:
            return self.client.request(method, url, headers=headers,
                                       files=overrides.get("files", TOKEN_FORMS.get(route)
                                                           or FORMS[route]))
        body = overrides.get("json", TOKEN_BODIES.get(route, BODIES.get(route)))
        return self.client.request(method, url, headers=headers, json=body,
                                   params=overrides.get("params"), follow_redirects=False)

    def new_upload(self, path: str = f"{PREFIX}up.txt", tenant: Tenant | None = None) -> str:
        made = self.client.post("/v1/buckets/photos/uploads", headers=(tenant or self.a).headers(),
                                json={"path": path, "size": 3, "content_type": "text/plain"})
        assert made.status_code == 201, made.text
        return str(made.json()["id"])


@pytest.fixture
def world(client: Any, tenant_factory: Any) -> World:
    return World(client, tenant_factory("workspace-a"), tenant_factory("workspace-b"))


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("route", TOKEN_ROUTES, ids=" ".join)
def test_inside_the_grant_a_token_passes(world: World, route: tuple[str, str]) -> None:
    response = world.call(route, world.token())
    assert response.status_code in (200, 201, 204, 302, 422), response.text  # 422: complete
    if route == ("POST", "/v1/uploads/{upload_id}/complete"):  # before the bytes: checked
        assert response.json()["error"]["code"] == "upload_mismatch"


@pytest.mark.parametrize("route", [r for r in TOKEN_ROUTES if "{file_id}" in r[1]],
                         ids=" ".join)
@pytest.mark.parametrize("where", ["other prefix", "look-alike prefix", "other bucket",
                                   "other workspace"])
def test_a_file_outside_the_grant_is_404(world: World, route: tuple[str, str],
                                         where: str) -> None:
    outside = world.call(route, world.token(), file=where)
    missing = world.call(route, world.token(), file=str(uuid.uuid4()))
    assert_error(outside, 404, "not_found")
    assert outside.json()["error"]["message"] == missing.json()["error"]["message"]


@pytest.mark.parametrize("route", [r for r in TOKEN_ROUTES if "{upload_id}" in r[1]],
                         ids=" ".join)
def test_an_upload_outside_the_grant_is_404(world: World, route: tuple[str, str]) -> None:
    assert_error(world.call(route, world.token(), upload_id=world.new_upload("users/43/x")),
                 404, "not_found")
    assert_error(world.call(route, world.token(),
                            upload_id=world.new_upload(tenant=world.b)), 404, "not_found")


@pytest.mark.parametrize("route", [r for r in TOKEN_ROUTES if "{bucket}" in r[1]],
                         ids=" ".join)
def test_another_bucket_is_404_like_a_missing_one(world: World, route: tuple[str, str]) -> None:
    method, template = route
    for bucket in ("other", "missing-bucket", "photos%2Fother"):
        response = world.client.request(
            method, template.format(bucket=bucket), headers={
                "Authorization": f"Bearer {world.token()}"},
            json=TOKEN_BODIES.get(route), files=TOKEN_FORMS.get(route))
        assert_error(response, 404, "not_found")


@pytest.mark.parametrize("route", TOKEN_ROUTES, ids=" ".join)
def test_a_missing_operation_is_403(world: World, route: tuple[str, str]) -> None:
    others = [op for op in ("list", "read", "write", "delete") if op != TOKEN_ROUTES[route]]
    token = world.token(cnx={**GRANT, "ops": others})
    assert_error(world.call(route, token), 403, "forbidden")


NOT_FOR_TOKENS = [route for route in ROUTES if route not in TOKEN_ROUTES]


@pytest.mark.parametrize("route", NOT_FOR_TOKENS, ids=" ".join)
def test_every_other_route_is_403_for_a_token(world: World, route: tuple[str, str]) -> None:
    response = world.call(route, world.token())
    assert_error(response, 403, "forbidden")
    assert "delegated token" in response.json()["error"]["message"]


def bad_tokens(world: World) -> dict[str, str]:
    """Every way a token can be refused (401), each named."""
    now = int(time.time())
    secret, kid = world.hs256["secret"], world.hs256["id"]
    claims = {"sub": SUB, "iat": now, "exp": now + 600, "cnx": GRANT}
    other = world.a.key("admin")
    deleted = world.signing_key(world.a, "HS256")
    deleted_token = world.token(key=deleted)
    assert world.client.delete(f"/v1/signing-keys/{deleted['id']}",
                               headers={"Authorization": f"Bearer {other}"}).status_code == 204
    return {
        "expired": world.token(exp=now - 61, iat=now - 600),
        "not yet valid": world.token(nbf=now + 120),
        "issued in the future": world.token(iat=now + 120),
        "bad signature": world.token()[:-4] + ("AAAA" if not world.token().endswith("AAAA")
                                               else "BBBB"),
        "signed with another secret": jwt.encode(claims, "x" * 43, algorithm="HS256",
                                                 headers={"kid": kid}),
        "another workspace's key id with its secret": jwt.encode(
            claims, world.b_hs256["secret"], algorithm="HS256", headers={"kid": kid}),
        "unknown key": jwt.encode(claims, secret, algorithm="HS256",
                                  headers={"kid": str(uuid.uuid4())}),
        "no kid": jwt.encode(claims, secret, algorithm="HS256"),
        "deleted key": deleted_token,
        "alg none": forged({"alg": "none", "kid": kid, "typ": "JWT"}, claims, None),
        "HS256 keyed with an ES256 key's public PEM": forged(
            {"alg": "HS256", "kid": world.es256["id"], "typ": "JWT"}, claims,
            world.es256_pem.encode()),
        "ES256 key, alg HS256 with its HS256 neighbour's secret": jwt.encode(
            claims, secret, algorithm="HS256", headers={"kid": world.es256["id"]}),
        "over 24 h from iat": world.token(exp=now + 24 * 3600 + 5, iat=now),
        "over 24 h from now": world.token(exp=now + 25 * 3600, iat=None),
        "missing sub": world.token(sub=None),
        "empty sub": world.token(sub=""),
        "missing exp": jwt.encode({"sub": SUB, "cnx": GRANT}, secret, algorithm="HS256",
                                  headers={"kid": kid}),
        "missing cnx": world.token(cnx=None),
        "empty ops": world.token(cnx={**GRANT, "ops": []}),
        "unknown op": world.token(cnx={**GRANT, "ops": ["admin"]}),
        "unknown field in cnx": world.token(cnx={**GRANT, "scopes": ["admin"]}),
        "buckets not a list": world.token(cnx={**GRANT, "buckets": "photos"}),
        "prefix not text": world.token(cnx={**GRANT, "prefix": 42}),
        "max_file_size as text": world.token(cnx={**GRANT, "max_file_size": "10"}),
        "not a JWT": "a.b.c",
    }


def test_every_route_refuses_every_bad_token_with_401(world: World) -> None:
    tokens = bad_tokens(world)
    for route in ROUTES:
        for name, token in tokens.items():
            response = world.call(route, token)
            assert response.status_code == 401, (route, name, response.text)
            assert response.json()["error"]["code"] == "unauthorized", (route, name)


def test_the_60_second_leeway(world: World) -> None:
    now = int(time.time())
    route = ("GET", "/v1/files/{file_id}")
    assert world.call(route, world.token(exp=now - 30, iat=now - 600)).status_code == 200
    assert world.call(route, world.token(nbf=now + 30)).status_code == 200


def test_es256_and_eddsa_tokens(world: World) -> None:
    now = int(time.time())
    claims = {"sub": SUB, "iat": now, "exp": now + 600, "cnx": GRANT}
    es256 = jwt.encode(claims, world.private_es256, algorithm="ES256",
                       headers={"kid": world.es256["id"]})
    ed_private = ed25519.Ed25519PrivateKey.generate()
    ed_pem = ed_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    eddsa_key = world.signing_key(world.a, "EdDSA", ed_pem)
    eddsa = jwt.encode(claims, ed_private, algorithm="EdDSA", headers={"kid": eddsa_key["id"]})
    for token in (es256, eddsa):
        read = world.call(("GET", "/v1/files/{file_id}"), token)
        assert read.status_code == 200, read.text
    wrong_key = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                           headers={"kid": world.es256["id"]})
    assert_error(world.call(("GET", "/v1/files/{file_id}"), wrong_key), 401, "unauthorized")


def test_listing_shows_only_the_grant(world: World) -> None:
    route = ("GET", "/v1/buckets/{bucket}/files")
    token = world.token()
    listed = world.call(route, token).json()["items"]
    assert [file["path"] for file in listed] == [f"{PREFIX}a.txt"]
    searched = world.call(route, token, params={"q": ".txt"}).json()["items"]
    assert [file["path"] for file in searched] == [f"{PREFIX}a.txt"]
    narrower = world.call(route, token, params={"prefix": f"{PREFIX}a"}).json()["items"]
    assert len(narrower) == 1
    for outside in ("users/43/", "users/", "", "users/4"):
        assert_error(world.call(route, token, params={"prefix": outside}), 403, "forbidden")


def test_files_record_their_maker_and_list_by_it(world: World) -> None:
    token = world.token()
    made = world.call(("POST", "/v1/buckets/{bucket}/files"), token)
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == SUB
    upload = world.client.post("/v1/buckets/photos/uploads", headers={
        "Authorization": f"Bearer {token}"}, json={"path": f"{PREFIX}p.txt", "size": 3,
                                                    "content_type": "text/plain"}).json()
    assert world.client.put(upload["url"], content=b"abc",
                            headers=upload["headers"]).status_code == 200
    completed = world.client.post(f"/v1/uploads/{upload['id']}/complete",
                                  headers={"Authorization": f"Bearer {token}"})
    assert completed.json()["created_by"] == SUB
    copied = world.call(("POST", "/v1/files/{file_id}/copy"), token)
    assert copied.json()["created_by"] == SUB
    by_key = world.client.get(f"/v1/files/{world.files['inside']}",
                              headers=world.a.headers()).json()["created_by"]
    assert by_key.startswith("key:")
    listing = world.client.get("/v1/buckets/photos/files", headers=world.a.headers(),
                               params={"created_by": SUB}).json()["items"]
    assert sorted(file["path"] for file in listing) == [
        f"{PREFIX}copy.txt", f"{PREFIX}new.txt", f"{PREFIX}p.txt"]
    mine = world.call(("GET", "/v1/buckets/{bucket}/files"), token,
                      params={"created_by": by_key}).json()["items"]
    assert [file["path"] for file in mine] == [f"{PREFIX}a.txt"]


@pytest.mark.parametrize("path", ["users/43/x.txt", "users/42/../43/x.txt", f"{LOOK_ALIKE}x.txt",
                                  "users/42", "Users/42/x.txt", "/users/42/x.txt"])
def test_no_new_path_escapes_the_prefix(world: World, path: str) -> None:
    """Refused as outside the prefix (403) or as an unsafe path (400); nothing is made."""
    token = world.token()
    attempts = [
        world.call(("POST", "/v1/buckets/{bucket}/files"), token, files={
            "file": ("x.txt", b"abc", "text/plain"), "path": (None, path)}),
        world.call(("POST", "/v1/buckets/{bucket}/uploads"), token, json={
            "path": path, "size": 3, "content_type": "text/plain"}),
        world.call(("PATCH", "/v1/files/{file_id}"), token, json={"path": path}),
        world.call(("POST", "/v1/files/{file_id}/copy"), token, json={"path": path}),
    ]
    for response in attempts:
        assert response.status_code in (400, 403), response.text
        assert response.json()["error"]["code"] in ("bad_request", "forbidden")
    listed = world.client.get("/v1/buckets/photos/files", headers=world.a.headers()).json()
    assert len(listed["items"]) == 3  # what the world made, nothing more


def test_percent_encoded_dots_are_a_literal_name_inside_the_prefix(world: World) -> None:
    made = world.call(("POST", "/v1/buckets/{bucket}/files"), world.token(), files={
        "file": ("x.txt", b"abc", "text/plain"), "path": (None, f"{PREFIX}%2e%2e/43/x")})
    assert made.status_code == 201 and made.json()["path"] == f"{PREFIX}%2e%2e/43/x"


def test_copy_into_another_bucket_needs_it_in_the_grant(world: World) -> None:
    token = world.token()
    assert_error(world.call(("POST", "/v1/files/{file_id}/copy"), token,
                            json={"bucket": "other", "path": f"{PREFIX}x"}), 404, "not_found")
    wider = world.token(cnx={**GRANT, "buckets": ["photos", "other"]})
    copied = world.call(("POST", "/v1/files/{file_id}/copy"), wider,
                        json={"bucket": "other", "path": f"{PREFIX}x"})
    assert copied.status_code == 201, copied.text


def test_the_tokens_size_and_type_limits_apply(world: World) -> None:
    token = world.token(cnx={**GRANT, "max_file_size": 2, "content_types": ["image/*"]})
    direct = world.call(("POST", "/v1/buckets/{bucket}/files"), token)
    assert_error(direct, 413, "payload_too_large")
    typed = world.call(("POST", "/v1/buckets/{bucket}/uploads"), token, json={
        "path": f"{PREFIX}a.txt", "size": 1, "content_type": "text/plain"})
    assert_error(typed, 415, "unsupported_media_type")
    fits = world.call(("POST", "/v1/buckets/{bucket}/uploads"), token, json={
        "path": f"{PREFIX}a.png", "size": 2, "content_type": "image/png"})
    assert fits.status_code == 201, fits.text
    too_big = world.call(("POST", "/v1/files/{file_id}/copy"), token)
    assert_error(too_big, 413, "payload_too_large")


def test_an_empty_prefix_is_the_whole_bucket(world: World) -> None:
    token = world.token(cnx={**GRANT, "prefix": ""})
    listed = world.call(("GET", "/v1/buckets/{bucket}/files"), token).json()["items"]
    assert len(listed) == 3
    assert world.call(("GET", "/v1/files/{file_id}"), token,
                      file="other prefix").status_code == 200


def test_signing_keys_are_listed_without_secrets_and_deleted_at_once(world: World) -> None:
    assert len(world.hs256["secret"]) == 43
    listed = world.client.get("/v1/signing-keys", headers=world.a.headers()).json()["items"]
    assert {key["id"] for key in listed} == {world.hs256["id"], world.es256["id"]}
    assert all(set(key) == {"id", "name", "algorithm", "created_at"} for key in listed)
    token = world.token()
    assert world.call(("GET", "/v1/files/{file_id}"), token).status_code == 200
    assert world.client.delete(f"/v1/signing-keys/{world.hs256['id']}",
                               headers=world.a.headers()).status_code == 204
    assert_error(world.call(("GET", "/v1/files/{file_id}"), token), 401, "unauthorized")
    assert_error(world.client.delete(f"/v1/signing-keys/{world.b_hs256['id']}",
                                     headers=world.a.headers()), 404, "not_found")


def test_at_most_ten_signing_keys(world: World) -> None:
    for _ in range(8):
        world.signing_key(world.a, "HS256")
    eleventh = world.client.post("/v1/signing-keys", json={"name": "x", "algorithm": "HS256"},
                                 headers=world.a.headers())
    assert_error(eleventh, 409, "conflict")


@pytest.mark.parametrize("body", [
    {"algorithm": "ES256"},
    {"algorithm": "ES256", "public_key": "not a pem"},
    {"algorithm": "EdDSA", "public_key": "EC"},
    {"algorithm": "HS256", "public_key": "EC"},
    {"algorithm": "RS256"},
    {"algorithm": "none"},
    {"algorithm": "ES256", "public_key": "PRIVATE"},
    {"algorithm": "ES256", "public_key": "P-384"},
])
def test_a_signing_key_must_be_what_its_algorithm_takes(world: World,
                                                        body: dict[str, str]) -> None:
    pems = {
        "EC": world.es256_pem,
        "PRIVATE": world.private_es256.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode(),
        "P-384": ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
    }
    if "public_key" in body:
        body = {**body, "public_key": pems.get(body["public_key"], body["public_key"])}
    made = world.client.post("/v1/signing-keys", json={"name": "x", **body},
                             headers=world.a.headers())
    assert_error(made, 422, "validation_error")


def test_the_server_mints_tokens_with_the_newest_hs256_key(world: World) -> None:
    minted = world.client.post("/v1/tokens", headers=world.a.headers(), json={
        "sub": SUB, "expires_in": 600, "cnx": GRANT})
    assert minted.status_code == 201, minted.text
    token = minted.json()["token"]
    assert jwt.get_unverified_header(token)["kid"] == world.hs256["id"]
    assert world.call(("GET", "/v1/files/{file_id}"), token).status_code == 200
    assert_error(world.call(("GET", "/v1/files/{file_id}"), token, file="other prefix"),
                 404, "not_found")
    too_long = world.client.post("/v1/tokens", headers=world.a.headers(), json={
        "sub": SUB, "expires_in": 86401, "cnx": GRANT})
    assert_error(too_long, 422, "validation_error")
    world.client.delete(f"/v1/signing-keys/{world.hs256['id']}", headers=world.a.headers())
    none_left = world.client.post("/v1/tokens", headers=world.a.headers(), json={
        "sub": SUB, "expires_in": 600, "cnx": GRANT})
    assert_error(none_left, 409, "conflict")
    assert_error(world.call(("GET", "/v1/files/{file_id}"), token), 401, "unauthorized")


def test_a_token_used_before_still_expires(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token checked once is not checked again while its key is the same row, but only
    until its exp (and the leeway) has passed, on the server's clock as on PyJWT's."""
    import datetime

    import jwt.api_jwt

    import cloudnexus.delegation.verify

    route = ("GET", "/v1/files/{file_id}")
    token = world.token(exp=int(time.time()) + 5)
    assert world.call(route, token).status_code == 200
    assert world.call(route, token).status_code == 200

    class Later(datetime.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.datetime.fromtimestamp(time.time() + 66, tz)

    for module in (jwt.api_jwt, cloudnexus.delegation.verify):
        monkeypatch.setattr(module, "datetime", Later)
    assert_error(world.call(route, token), 401, "unauthorized")
    assert "expired" in world.call(route, token).json()["error"]["message"]
