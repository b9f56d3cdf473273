"""Substring search on PostgreSQL: the trigram index for rare trigrams, file_trigrams for the rest.

For `LIKE '%file-12345%'` PostgreSQL's GIN scan takes its candidates from the rarest trigram
and, for each, steps through the posting list of every other one, `fil` and `ile` included,
which hold nearly every path; and through the bucket's own entry, which holds every file of
the bucket. That work grows with the bucket (13 ms at a million files, 0.7 at 10,000). Asked
for the rare trigrams alone, with the exact match left to `strpos` on the few candidate rows
and the bucket checked on them too, the same page took 0.8 ms and 0.6 ms.

Which trigrams are rare comes from the planner's own sample of the column (`pg_stats`, about
1,000 paths with `path_search`'s statistics target): as code search engines pick their rarest
n-grams. A query with no rare trigram (a common substring) walks `file_trigrams` (migration
0005), the bucket's paths that hold the query's least common trigram, in path order, to the
page's last match: its cost follows how many paths hold that trigram but not the substring,
not how far into the bucket the matches lie.
"""

from __future__ import annotations

import re
import time
import weakref
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, String, Text, column, table, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Session

SAMPLE_SECONDS = 600  # how long a process keeps the sample before reading it again
RARE_IN_SAMPLE = 5  # rare: in at most this many of the ~1,000 sampled paths (0.5%)
MOST_TRIGRAMS = 3
# The trigrams pg_trgm makes of a LIKE '%abc%' are exactly 'abc' only for ASCII letters and
# digits: anything else splits words, and other letters depend on the database's locale.
_PLAIN = re.compile(r"[a-z0-9]{3}")
_SAMPLE = text("SELECT (SELECT histogram_bounds::text::text[] FROM pg_stats "
               "WHERE schemaname = current_schema() AND tablename = 'files' "
               "AND attname = 'path_search'), (SELECT version_num FROM alembic_version)")
FILE_TRIGRAMS = table("file_trigrams", column("bucket_id", UUID()), column("trigram", Text()),
                      column("path", String()), column("path_search", Text()))
# file_trigrams holds every file once migration 0005 has finished (revisions are numbered):
# before, code deployed ahead of its migration would find it missing or half filled.
WALKABLE_FROM = 5


@dataclass(frozen=True)
class Sample:
    taken: float
    counts: Counter[str]  # in how many sampled paths each window occurs
    walkable: bool  # file_trigrams is complete


_samples: weakref.WeakKeyDictionary[Engine | Connection, Sample] = weakref.WeakKeyDictionary()


def windows(key: str) -> set[str]:
    """Every three characters in a row: what file_trigrams holds of each path (0005)."""
    return {key[i:i + 3] for i in range(len(key) - 2)}


def trigrams(key: str) -> set[str]:
    """The windows the trigram index holds as they are."""
    return {window for window in windows(key) if _PLAIN.fullmatch(window)}


def rare_trigrams(db: Session, key: str) -> list[str]:
    """The rarest few of the search key's trigrams that the sample shows to be rare, rarest
    first; none when there are no statistics yet or no trigram is rare."""
    counts = _sample(db).counts
    if not counts:
        return []
    ranked = sorted((counts[trigram], trigram) for trigram in trigrams(key))
    return [trigram for count, trigram in ranked if count <= RARE_IN_SAMPLE][:MOST_TRIGRAMS]


def least_common_trigram(db: Session, key: str) -> str | None:
    """The search key's window in the fewest sampled paths (any of them without statistics);
    None when the key is shorter than three characters or file_trigrams is not complete."""
    sample = _sample(db)
    ranked = sorted((sample.counts[window], window) for window in windows(key))
    return ranked[0][1] if ranked and sample.walkable else None


def _sample(db: Session) -> Sample:
    """The planner's sample of paths, counted, and the schema's revision (read again every
    SAMPLE_SECONDS)."""
    engine = db.get_bind()  # the engine: a sample per database
    sample = _samples.get(engine)
    if sample is None or time.monotonic() - sample.taken > SAMPLE_SECONDS:
        paths, revision = db.execute(_SAMPLE).one()
        counts: Counter[str] = Counter()
        for path in paths or []:
            counts.update(windows(path))
        walkable = (revision or "0").isdigit() and int(revision) >= WALKABLE_FROM
        sample = _samples[engine] = Sample(time.monotonic(), counts, walkable)
    return sample
