"""A file's derived objects (its previews) in storage: removed with the file or its bytes."""

from __future__ import annotations

from collections.abc import Iterable

from cloudnexus.previews.variants import derived_prefix
from cloudnexus.storage.base import Storage


def delete_derived(storage: Storage, source_key: str,
                   names: Iterable[str] | None = None) -> None:
    """Delete the previews made of the object at `source_key`: those named, or (not knowing
    which were made) every one found under its prefix."""
    prefix = derived_prefix(source_key)
    if names is None:
        keys = [info.key for info in storage.list_objects(prefix)]
    else:
        keys = [prefix + name for name in names]
    for key in keys:
        storage.delete(key)
