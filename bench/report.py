"""Result rows: printed as a table, written to bench/results.json."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results.json"


@dataclass
class Row:
    name: str
    value: float
    unit: str
    reference: float | None
    ratio: float | None
    target: str
    met: bool


def ratio_row(name: str, value: float, reference: float, unit: str, *, at_most: float | None = None,
              at_least: float | None = None) -> Row:
    """A figure beside its reference; the target is on their ratio (none: only reported)."""
    ratio = value / reference if reference else float("inf")
    if at_most is None and at_least is None:
        return Row(name, round(value, 3), unit, round(reference, 3), round(ratio, 3),
                   "(reported)", True)
    if at_most is not None:
        return Row(name, round(value, 3), unit, round(reference, 3), round(ratio, 3),
                   f"ratio <= {at_most}", ratio <= at_most)
    return Row(name, round(value, 3), unit, round(reference, 3), round(ratio, 3),
               f"ratio >= {at_least}", ratio >= (at_least or 0))


def limit_row(name: str, value: float, unit: str, limit: float | None) -> Row:
    """A figure against an absolute limit (None: only reported)."""
    if limit is None:
        return Row(name, round(value, 3), unit, None, None, "(reported)", True)
    return Row(name, round(value, 3), unit, None, None, f"<= {limit} {unit}", value <= limit)


def median_seconds(work: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def show(rows: list[Row]) -> None:
    table = Table("figure", "value", "reference", "ratio", "target", "met",
                  title="CloudNexus benchmarks")
    for row in rows:
        table.add_row(row.name, f"{row.value:g} {row.unit}",
                      "" if row.reference is None else f"{row.reference:g} {row.unit}",
                      "" if row.ratio is None else f"{row.ratio:.2f}", row.target,
                      "[green]yes[/green]" if row.met else "[red]NO[/red]")
    Console().print(table)


def save(rows: list[Row]) -> None:
    RESULTS.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")


def merge(rows: list[Row]) -> None:
    """Put these rows into bench/results.json by name, keeping every other row there."""
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    fresh = {row.name: asdict(row) for row in rows}
    kept, seen = [], set()
    for row in existing:  # one row a name: a stale copy (from a merge of two branches) goes
        if row["name"] not in seen:
            seen.add(row["name"])
            kept.append(fresh.pop(row["name"], row))
    RESULTS.write_text(json.dumps(kept + list(fresh.values()), indent=2) + "\n")
