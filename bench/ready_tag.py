"""What keeping unchecked upload bytes out of public reads costs on S3, for a 1 GiB upload.

The chosen way tags the object (one PutObjectTagging at complete, whatever its size); the
alternative rejected, a staging key copied to the public key at complete, is measured beside it
on the same object, with the assembly and the check complete does anyway as the reference.
moto's S3 server on loopback holds the bytes in memory (about 2 GiB at the peak).

    python -m bench.ready_tag [--mib 1024]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import uuid

from bench.serve import STORAGE_BUCKET, moto_server
from cloudnexus.config import load_settings
from cloudnexus.storage.base import UploadedPart
from cloudnexus.storage.s3 import S3Storage

MiB = 1024 * 1024
PART = 16 * MiB


def measure(total_mib: int) -> dict[str, float]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    with moto_server() as endpoint:
        bucket = STORAGE_BUCKET
        storage = S3Storage.from_settings(load_settings(s3_bucket=bucket,
                                                        s3_endpoint_url=endpoint))
        key = f"uploads/{uuid.uuid4()}/{uuid.uuid4()}/{uuid.uuid4()}"
        upload_id = storage.create_multipart(key, content_type="video/mp4")
        chunk = os.urandom(PART)
        parts = []
        for number in range(1, total_mib * MiB // PART + 1):
            response = storage.client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                                                  PartNumber=number, Body=chunk)
            parts.append(UploadedPart(number, response["ETag"], PART))
        timings = {}
        started = time.perf_counter()
        storage.complete_multipart(key, upload_id, parts)
        storage.head(key)
        timings["assemble and head (complete's own work)"] = time.perf_counter() - started
        started = time.perf_counter()
        storage.mark_ready(key)
        timings["mark_ready: PutObjectTagging (chosen)"] = time.perf_counter() - started
        started = time.perf_counter()
        storage.copy(key, f"{key}-published")
        timings["copy staging key -> public key (rejected)"] = time.perf_counter() - started
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="the upload's size in MiB")
    total = parser.parse_args().mib
    timings = measure(total)
    reference = timings["assemble and head (complete's own work)"]
    print(f"{total} MiB multipart upload on moto's S3 server:")
    for name, seconds in timings.items():
        print(f"  {name:45} {seconds * 1000:10.1f} ms  {seconds / reference:8.4f}x")


if __name__ == "__main__":
    main()
