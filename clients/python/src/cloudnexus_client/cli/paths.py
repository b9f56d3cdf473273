"""Remote paths `cnx://BUCKET/PATH` and what a copy of one tree to another makes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SCHEME = "cnx://"


class UsageError(Exception):
    """A command line that cannot mean anything: exit status 2."""


@dataclass(frozen=True)
class Remote:
    bucket: str
    path: str  # "" for the bucket's root; ending in "/" for a folder

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.path}"

    @property
    def is_folder(self) -> bool:
        return self.path == "" or self.path.endswith("/")

    def folder(self) -> str:
        """The path as a folder prefix: "" or ending in "/"."""
        return self.path if self.is_folder else self.path + "/"

    def child(self, relative: str) -> Remote:
        return Remote(self.bucket, self.folder() + relative)


def is_remote(text: str) -> bool:
    return text.startswith(SCHEME)


def parse_remote(text: str) -> Remote:
    if not is_remote(text):
        raise UsageError(f"not a remote path (cnx://BUCKET/PATH): {text}")
    bucket, _, path = text[len(SCHEME):].partition("/")
    if not bucket:
        raise UsageError(f"no bucket in {text}")
    return Remote(bucket, path)


def file_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def local_files(root: Path) -> dict[str, Path]:
    """Every file under `root` by its path relative to it, with "/" between folders."""
    found: dict[str, Path] = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            if path.is_file() and not name.endswith(".cnxpart"):
                found[path.relative_to(root).as_posix()] = path
    return dict(sorted(found.items()))


def relative_under(path: str, prefix: str) -> str:
    return path[len(prefix):]
