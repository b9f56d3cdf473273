"""Sizes and limits, each defined once: S3's (the local backend keeps them too) and units.

Imports nothing, so that any module may import it.
"""

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB

MAX_OBJECT_BYTES = 5 * TiB  # S3's largest object
MIN_PART_BYTES = 5 * MiB  # S3's smallest part, for every part but the last
MAX_PART_BYTES = 5 * GiB  # S3's largest part
MAX_PARTS = 10_000  # S3's part numbers: 1..MAX_PARTS
MAX_COPY_BYTES = 5 * GiB  # CopyObject's limit; larger sources need UploadPartCopy
# An object the local backend reads or writes right on the event loop when it is at most
# this large: a few system calls, less than a trip to a worker thread and back.
AT_ONCE_MAX_BYTES = 64 * KiB
