"""The cursor under concurrency: writers committing out of order, a poller following it."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from tests.conftest import Tenant

WRITERS, TRANSACTIONS = 8, 30


def test_a_poller_sees_every_event_once_in_spite_of_commit_order(app: Any) -> None:
    from cloudnexus.events import outbox
    from cloudnexus.events.types import BUCKET_CREATED

    runtime = app.state.runtime
    tenant = Tenant(runtime, "acme")
    committed: list[str] = []
    lock = threading.Lock()
    done = threading.Event()
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        rng = random.Random(writer)
        try:
            for number in range(TRANSACTIONS):
                with runtime.session_factory() as db:
                    made = [outbox.emit(db, workspace_id=tenant.workspace_id,
                                        type_=BUCKET_CREATED,
                                        data={"writer": writer, "number": number, "part": part})
                            for part in range(1 + number % 2)]
                    db.flush()  # the transaction has its id (and its rows their numbers) now
                    time.sleep(rng.random() * 0.02)  # ... and commits after others did
                    db.commit()
                    with lock:
                        committed.extend(str(event_id) for event_id in made)
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    seen: list[str] = []

    def poll() -> None:
        cursor, deadline = None, None
        while True:
            finished = done.is_set()
            if finished and deadline is None:
                # Transactions of others (other databases of the cluster too) may hold the
                # horizon back a while after the last writer here committed.
                deadline = time.monotonic() + 60
            with runtime.session_factory() as db:
                page, cursor = outbox.page(db, workspace_id=tenant.workspace_id, after=cursor,
                                           types=None, limit=7)
                seen.extend(str(event.id) for event in page)
            if finished and not page and (len(seen) >= len(committed)
                                          or time.monotonic() > (deadline or 0)):
                return

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    poller = threading.Thread(target=poll)
    poller.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    poller.join(timeout=120)
    assert not failures and not poller.is_alive()
    assert len(committed) == WRITERS * TRANSACTIONS * 3 // 2
    assert len(seen) == len(set(seen)), "an event was handed out twice"
    assert set(seen) == set(committed), f"{len(set(committed) - set(seen))} events missed"
