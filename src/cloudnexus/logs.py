"""Logs carrying the request id of the request being served: JSON, one object per line (the
default everywhere but a terminal), or plain text lines for a person at a terminal."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
aws_request_id_var: ContextVar[str | None] = ContextVar("aws_request_id", default=None)

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName",
                                                            "color_message"}


def current_request_id() -> str | None:
    return request_id_var.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "request_id": request_id_var.get(),
        }
        if (aws_request_id := aws_request_id_var.get()) is not None:
            entry["aws_request_id"] = aws_request_id
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in _STANDARD_ATTRS
        )
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(JsonFormatter):
    """One readable line a record: time, level, message, then the request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = json.loads(super().format(record))
        head = (f"{entry.pop('timestamp')[11:23]} {entry.pop('level'):<7} "
                f"{entry.pop('message')}")
        entry.pop("logger")
        exception = entry.pop("exception", None)
        fields = " ".join(f"{key}={value}" for key, value in entry.items() if value is not None)
        line = f"{head}  [{fields}]" if fields else head
        return f"{line}\n{exception.rstrip()}" if exception else line


def configure_logging(level: str, log_format: str | None = None) -> None:
    """Send every log record to stdout (Lambda ships stdout to CloudWatch): as JSON, or as text
    when asked (LOG_FORMAT=text) or, when not told, when stdout is a terminal."""
    if log_format is None:
        log_format = "text" if sys.stdout.isatty() else "json"
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # uvicorn installs its own handlers; let its records reach ours instead.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
