"""Rich progress bars, per file and in total, only when output is a terminal."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

FileProgress = Callable[[int, int], None]


class Bars:
    """A total bar and one bar per file in flight; does nothing when not enabled."""

    def __init__(self, enabled: bool, total_bytes: int = 0) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._total: Any = None
        self._lock = threading.Lock()
        self._done: dict[Any, int] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}", justify="left"), BarColumn(),
                DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True), transient=False)
            self._total = self._progress.add_task("total", total=total_bytes or None)

    def __enter__(self) -> Bars:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add_total(self, count: int) -> None:
        if self._progress is not None:
            task = self._progress.tasks[0]
            self._progress.update(self._total, total=(task.total or 0) + count)

    def file(self, label: str, total: int) -> tuple[FileProgress | None, Callable[[], None]]:
        """A progress callback for one file, and what to call when it is over."""
        if self._progress is None:
            return None, lambda: None
        task = self._progress.add_task(label, total=total)
        self._done[task] = 0

        def update(done: int, file_total: int) -> None:
            with self._lock:
                step = done - self._done.get(task, 0)
                self._done[task] = done
            self._progress.update(task, completed=done, total=file_total)
            self._progress.advance(self._total, step)

        def finish() -> None:
            self._progress.remove_task(task)

        return update, finish
