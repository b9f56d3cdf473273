"""Substring search on PostgreSQL: ask the trigram index only for the query's rare trigrams.

For `LIKE '%file-12345%'` PostgreSQL's GIN scan takes its candidates from the rarest trigram
and, for each, steps through the posting list of every other one, `fil` and `ile` included,
which hold nearly every path; and through the bucket's own entry, which holds every file of
the bucket. That work grows with the bucket (13 ms at a million files, 0.7 at 10,000). Asked
for the rare trigrams alone, with the exact match left to `strpos` on the few candidate rows
and the bucket checked on them too, the same page took 0.8 ms and 0.6 ms.

Which trigrams are rare comes from the planner's own sample of the column (`pg_stats`, about
1,000 paths with `path_search`'s statistics target): as code search engines pick their rarest
n-grams. A query with no rare trigram (a common substring) is left as it was: the planner
walks the bucket in path order (see listing.page_statement).
"""

from __future__ import annotations

import re
import time
import weakref
from collections import Counter
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

SAMPLE_SECONDS = 600  # how long a process keeps the sample before reading it again
RARE_IN_SAMPLE = 5  # rare: in at most this many of the ~1,000 sampled paths (0.5%)
MOST_TRIGRAMS = 3
# The trigrams pg_trgm makes of a LIKE '%abc%' are exactly 'abc' only for ASCII letters and
# digits: anything else splits words, and other letters depend on the database's locale.
_PLAIN = re.compile(r"[a-z0-9]{3}")
_SAMPLE = text("SELECT histogram_bounds::text::text[] FROM pg_stats "
               "WHERE schemaname = current_schema() AND tablename = 'files' "
               "AND attname = 'path_search'")
_samples: weakref.WeakKeyDictionary[Engine | Connection, tuple[float, Counter[str]]] = (
    weakref.WeakKeyDictionary())


def trigrams(key: str) -> set[str]:
    return {key[i:i + 3] for i in range(len(key) - 2) if _PLAIN.fullmatch(key[i:i + 3])}


def rare_trigrams(db: Session, key: str) -> list[str]:
    """The rarest few of the search key's trigrams that the sample shows to be rare, rarest
    first; none when there are no statistics yet or no trigram is rare."""
    counts = _sample_counts(db)
    if not counts:
        return []
    ranked = sorted((counts[trigram], trigram) for trigram in trigrams(key))
    return [trigram for count, trigram in ranked if count <= RARE_IN_SAMPLE][:MOST_TRIGRAMS]


def _sample_counts(db: Session) -> Counter[str]:
    """In how many sampled paths each trigram occurs (read again every SAMPLE_SECONDS)."""
    engine = db.get_bind()  # the engine: a sample per database
    taken = _samples.get(engine)
    if taken is None or time.monotonic() - taken[0] > SAMPLE_SECONDS:
        paths: list[Any] = db.execute(_SAMPLE).scalar() or []
        counts: Counter[str] = Counter()
        for path in paths:
            counts.update(trigrams(path))
        taken = _samples[engine] = (time.monotonic(), counts)
    return taken[1]
