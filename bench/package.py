"""The Lambda package's size, built as deployed (no boto3) and with boto3, for comparison."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from bench.report import Row, limit_row

ROOT = Path(__file__).resolve().parent.parent


def _build(*flags: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        out = subprocess.run(["bash", "deploy/package.sh", *flags, "--out",
                              f"{scratch}/deployment.zip"], cwd=ROOT, check=True,
                             capture_output=True, text=True, timeout=600).stdout
    match = re.search(r"([\d.]+) MB zipped, ([\d.]+) MB unzipped", out)
    if match is None:
        raise RuntimeError(f"package.sh printed no size: {out}")
    return float(match.group(1)), float(match.group(2))


def run() -> list[Row]:
    """The limits are on the package as deployed; the one with boto3 is there to compare."""
    rows = []
    for label, flags, limits in (("as deployed (boto3 from the runtime)", (), (20, 80)),
                                 ("with boto3 bundled (for comparison)", ("--with-boto3",),
                                  (None, None))):
        zipped, unzipped = _build(*flags)
        rows += [limit_row(f"package {label}: zipped", zipped, "MB", limits[0]),
                 limit_row(f"package {label}: unzipped", unzipped, "MB", limits[1])]
    return rows


if __name__ == "__main__":
    from bench.report import show

    show(run())
