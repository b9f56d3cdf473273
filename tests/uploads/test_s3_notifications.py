"""On AWS a presigned single PUT completes itself from S3's ObjectCreated notification, which
reaches the dispatcher function through its queue: here the bytes are really PUT to moto's
S3 server with the upload's URL, and the notification (the record structure of AWS's
documentation, filled from the object as stored) is handed to the dispatcher's handler in
the SQS event Lambda sends. Every check of complete applies, and the client's later
complete answers what its own would have. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
import requests

from cloudnexus.storage.base import ObjectNotFound
from tests.conftest import Tenant, client_of, free_port, running_app
from tests.outbox.test_outbox_events import events
from tests.previews.images import ELF, encoded, quadrants
from tests.test_main_handler import context, event
from tests.uploads.test_upload_lifecycle import assert_error


@pytest.fixture
def on_s3(make_settings: Any, database_url: str,
          moto_endpoint: str) -> Iterator[tuple[Any, Any, Tenant]]:
    bucket = f"cnx-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    settings = make_settings(database_url=database_url, log_level="WARNING",
                             s3_bucket=bucket, s3_endpoint_url=moto_endpoint)
    for application in running_app(settings):
        for client in client_of(application):
            yield application, client, Tenant(application.state.runtime, "acme")


def notification(application: Any, key: str, *, name: str = "ObjectCreated:Put",
                 message_id: str | None = None) -> dict[str, Any]:
    """The SQS event of one message whose body is S3's notification of `key`, as stored."""
    storage = application.state.runtime.storage
    stored = storage.client.head_object(Bucket=storage.bucket, Key=key)
    body = event("s3_object_created")
    record = body["Records"][0]
    record["eventName"] = name
    record["s3"]["bucket"].update(name=storage.bucket, arn=f"arn:aws:s3:::{storage.bucket}")
    record["s3"]["object"].update(key=quote_plus(key), size=stored["ContentLength"],
                                  eTag=stored["ETag"].strip('"'))
    message = event("sqs_message")
    message["Records"][0].update(body=json.dumps(body),
                                 messageId=message_id or str(uuid.uuid4()))
    return message


def start(client: Any, tenant: Tenant, data: bytes, *, bucket: str = "media",
          content_type: str = "application/octet-stream", **extra: Any) -> dict[str, Any]:
    made = client.post(f"/v1/buckets/{bucket}/uploads", headers=tenant.headers(), json={
        "path": "clip.bin", "size": len(data), "content_type": content_type, **extra})
    assert made.status_code == 201, made.text
    upload: dict[str, Any] = made.json()
    put = requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30)
    assert put.status_code == 200, put.text
    return upload


def key_of(application: Any, upload: dict[str, Any]) -> str:
    from cloudnexus.uploads.models import Upload

    with application.state.runtime.session_factory() as db:
        found = db.get(Upload, uuid.UUID(upload["id"]))
        assert found is not None
        return str(found.storage_key)


def dispatch(application: Any, message: dict[str, Any]) -> dict[str, Any]:
    from cloudnexus.dispatch import handle

    answer: dict[str, Any] = handle(application.state.runtime, message, context())
    return answer


def status(client: Any, tenant: Tenant, upload: dict[str, Any]) -> dict[str, Any]:
    shown = client.get(f"/v1/uploads/{upload['id']}", headers=tenant.headers())
    assert shown.status_code == 200, shown.text
    return shown.json()  # type: ignore[no-any-return]


def test_a_notification_completes_the_upload_and_complete_answers_the_same_file(
        on_s3: Any) -> None:
    application, client, tenant = on_s3
    client.post("/v1/buckets", json={"name": "media"}, headers=tenant.headers())
    data = b"bytes sent straight to S3"
    upload = start(client, tenant, data)
    key = key_of(application, upload)
    assert status(client, tenant, upload)["status"] == "pending"  # S3 told no one yet
    assert dispatch(application, notification(application, key)) == {"batchItemFailures": []}
    assert status(client, tenant, upload)["status"] == "completed"
    file = client.get(f"/v1/files/{upload['file_id']}", headers=tenant.headers())
    assert file.status_code == 200 and file.json()["status"] == "ready"
    assert file.json()["sha256"] is None  # S3 computes none for a PUT that declared none
    later = client.post(f"/v1/uploads/{upload['id']}/complete", headers=tenant.headers())
    assert later.status_code == 200 and later.json() == file.json()
    other = hashlib.sha256(b"other").hexdigest()
    refused = client.post(f"/v1/uploads/{upload['id']}/complete", headers=tenant.headers(),
                          json={"sha256": other})
    assert_error(refused, 422, "upload_mismatch")
    digest = hashlib.sha256(data).hexdigest()
    assert refused.json()["error"]["details"] == [
        {"field": "sha256", "declared": other, "stored": digest}]  # read back to compare
    named = client.post(f"/v1/uploads/{upload['id']}/complete", headers=tenant.headers(),
                        json={"sha256": digest})
    assert named.status_code == 200 and named.json() == file.json()
    # Delivered again (SQS is at least once): nothing more happens.
    assert dispatch(application, notification(application, key)) == {"batchItemFailures": []}
    created = events(client, tenant, 1, type="file.created")
    assert [e["data"]["file"]["id"] for e in created] == [upload["file_id"]]

    # An overwrite keeps the file (its id and key): its bytes are read back from there.
    newer = b"newer bytes for the same path"
    again = start(client, tenant, newer, overwrite=True)
    dispatch(application, notification(application, key_of(application, again)))
    kept = client.post(f"/v1/uploads/{again['id']}/complete", headers=tenant.headers(),
                       json={"sha256": hashlib.sha256(newer).hexdigest()})
    assert kept.status_code == 200, kept.text
    assert (kept.json()["id"], kept.json()["size"]) == (upload["file_id"], len(newer))
    assert_error(client.post(f"/v1/uploads/{again['id']}/complete", headers=tenant.headers(),
                             json={"sha256": digest}), 422, "upload_mismatch")


def test_a_notification_of_bytes_the_bucket_refuses_fails_the_upload_with_complete_s_415(
        on_s3: Any) -> None:
    application, client, tenant = on_s3
    client.post("/v1/buckets", json={"name": "photos", "allowed_content_types": ["image/*"]},
                headers=tenant.headers())
    upload = start(client, tenant, ELF, bucket="photos", content_type="image/png")
    key = key_of(application, upload)
    dispatch(application, notification(application, key))
    shown = status(client, tenant, upload)
    assert shown["status"] == "failed" and shown["error"]["code"] == "unsupported_media_type"
    with pytest.raises(ObjectNotFound):
        application.state.runtime.storage.head(key)
    assert_error(client.post(f"/v1/uploads/{upload['id']}/complete",
                             headers=tenant.headers()), 415, "unsupported_media_type")
    failed = events(client, tenant, 1, type="upload.failed")
    assert [e["data"]["upload"]["id"] for e in failed] == [upload["id"]]

    image = encoded(quadrants((40, 30)), "PNG")
    upload = start(client, tenant, image, bucket="photos", content_type="image/png",
                   overwrite=True)
    dispatch(application, notification(application, key_of(application, upload)))
    file = client.get(f"/v1/files/{upload['file_id']}", headers=tenant.headers()).json()
    assert file["image"] == {"width": 40, "height": 30, "format": "png"}


def test_a_notification_for_a_path_taken_meanwhile_is_complete_s_409(on_s3: Any) -> None:
    application, client, tenant = on_s3
    client.post("/v1/buckets", json={"name": "media"}, headers=tenant.headers())
    upload = start(client, tenant, b"late")
    taken = client.post("/v1/buckets/media/files", headers=tenant.headers(),
                        files={"file": ("clip.bin", b"first", "text/plain")})
    assert taken.status_code == 201
    dispatch(application, notification(application, key_of(application, upload)))
    assert status(client, tenant, upload)["error"]["code"] == "conflict"
    assert_error(client.post(f"/v1/uploads/{upload['id']}/complete",
                             headers=tenant.headers()), 409, "conflict")


def test_other_messages_complete_nothing(on_s3: Any) -> None:
    """A copy's notification, S3's test event, a nudge, another bucket's notification, and
    a PUT of no upload's object."""
    application, client, tenant = on_s3
    client.post("/v1/buckets", json={"name": "media"}, headers=tenant.headers())
    upload = start(client, tenant, b"bytes")
    key = key_of(application, upload)
    copy = notification(application, key, name="ObjectCreated:Copy")
    test_event = event("sqs_message")
    test_event["Records"][0]["body"] = json.dumps({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-25T10:00:00.000Z",
        "Bucket": "amzn-s3-demo-bucket", "RequestId": "5582815E1AEA5ADF"})
    nudge = event("sqs_message")
    nudge["Records"][0]["body"] = json.dumps({"cloudnexus": "events"})
    direct = client.post("/v1/buckets/media/files", headers=tenant.headers(),
                         files={"file": ("other.txt", b"direct", "text/plain")}).json()
    storage = application.state.runtime.storage
    direct_key = next(info.key for info in storage.list_objects("private/")
                      if info.key.endswith(direct["id"]))
    elsewhere = notification(application, key)
    record = json.loads(elsewhere["Records"][0]["body"])
    record["Records"][0]["s3"]["bucket"]["name"] = "another-bucket"
    elsewhere["Records"][0]["body"] = json.dumps(record)
    for message in (copy, test_event, nudge, elsewhere, notification(application, direct_key)):
        assert dispatch(application, message) == {"batchItemFailures": []}
    assert status(client, tenant, upload)["status"] == "pending"


def test_a_notification_that_cannot_be_handled_is_given_back_to_the_queue(
        make_settings: Any, database_url: str, on_s3: Any) -> None:
    """Storage unreachable: the message is a batch item failure (SQS offers it again, then
    keeps it in the dead-letter queue); the other messages of the batch are done."""
    application, client, tenant = on_s3
    client.post("/v1/buckets", json={"name": "media"}, headers=tenant.headers())
    upload = start(client, tenant, b"bytes")
    good = notification(application, key_of(application, upload), message_id="good")
    bad = dict(good["Records"][0], messageId="bad")
    unreachable = make_settings(database_url=database_url, log_level="WARNING",
                                s3_bucket=application.state.runtime.settings.s3_bucket,
                                s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    for broken in running_app(unreachable):
        assert dispatch(broken, {"Records": [bad]}) == {
            "batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert status(client, tenant, upload)["status"] == "pending"
    assert dispatch(application, good) == {"batchItemFailures": []}
    assert status(client, tenant, upload)["status"] == "completed"
