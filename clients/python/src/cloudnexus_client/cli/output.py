"""What `cnx` prints: results on standard output, progress bars only on a terminal."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from cloudnexus_client.errors import ApiError

SUMMARY_FIELDS = ("uploaded", "downloaded", "copied", "skipped", "deleted", "failed", "bytes",
                  "resumed")


@dataclass
class Summary:
    """The counts every `cp`, `sync` and `rm` ends with."""

    uploaded: int = 0
    downloaded: int = 0
    copied: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: int = 0
    bytes: int = 0
    resumed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, count: int = 1, *, sent: int = 0, resumed: bool = False) -> None:
        with self._lock:
            setattr(self, kind, getattr(self, kind) + count)
            self.bytes += sent
            self.resumed = self.resumed or resumed

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SUMMARY_FIELDS}


class Output:
    """One command's output: plain lines or JSON objects; errors named on standard error."""

    def __init__(self, *, as_json: bool, progress: bool) -> None:
        self.as_json = as_json
        self.show_progress = progress and not as_json and sys.stderr.isatty() \
            and sys.stdout.isatty()
        self._lock = threading.Lock()
        self.failures = 0

    def line(self, text: str, record: dict[str, Any] | None = None) -> None:
        with self._lock:
            if self.as_json:
                if record is not None:
                    print(json.dumps(record, default=str), flush=True)
            else:
                print(text, flush=True)

    def record(self, record: dict[str, Any]) -> None:
        self.line(json.dumps(record, default=str, indent=None if self.as_json else 2), record)

    def fail(self, what: str, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            if isinstance(error, ApiError):
                text = f"{error.code} (request id {error.request_id}): {error.message}"
            else:
                text = f"{type(error).__name__}: {error}"
            print(f"cnx: {what}: {text}", file=sys.stderr, flush=True)

    def summary(self, summary: Summary) -> None:
        if self.as_json:
            self.line("", summary.to_json())
        elif self.show_progress:
            counts = ", ".join(f"{value} {name}" for name, value in summary.to_json().items()
                               if value and name not in ("bytes", "resumed"))
            print(counts or "nothing to do", file=sys.stderr)
