"""A request's database work: the slot it waits for on the event loop, its ORM session, and
sessions of their own for reads that come before it (see Runtime.database_slots)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import anyio
from starlette.requests import Request

from cloudnexus.db.connections import take_slot
from cloudnexus.errors import as_unavailable
from cloudnexus.runtime import Runtime, run_blocking, runtime_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SLOT_WAIT_SECONDS = 10
T = TypeVar("T")


class _Slot:
    """This request's hold on one of the runtime's database slots (see Runtime)."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots, self.held = slots, False

    async def take(self) -> None:
        await take_slot(self._slots, SLOT_WAIT_SECONDS)
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self._slots.release()
            self.held = False


async def reads_only(request: Request) -> None:
    """A route's dependency, listed before any that takes the session: the route never
    writes, so its session reads through db.engine.reading_engine (on PostgreSQL each
    statement on its own, without the round trips of BEGIN and COMMIT)."""
    request.state.session_reads_only = True


async def get_session(request: Request) -> AsyncIterator["Session"]:
    """A session for this request, inside one of the runtime's database slots."""
    runtime = runtime_of(request)
    slot = _Slot(runtime.database_slots())
    await slot.take()
    try:
        reads = getattr(request.state, "session_reads_only", False)

        def new_session() -> "Session":
            return (runtime.read_session_factory if reads else runtime.session_factory)()

        if runtime.database_ready:
            session = new_session()
        else:  # the first request imports SQLAlchemy: not on the event loop
            session = await run_blocking(runtime, new_session)
        request.state.db_session, request.state.db_slot = session, slot
        try:
            yield session
        finally:
            if session.in_transaction():
                with anyio.CancelScope(shield=True):  # a client that hung up still frees it
                    await run_blocking(runtime, _close, session)
            else:
                session.close()  # nothing to roll back: no I/O, so no worker thread
    finally:
        slot.give_back()


async def in_slot(request: Request, work: Callable[[], T]) -> T:
    """Blocking `work` (runtime.run_blocking) inside a database slot (see database_slot)."""
    async with database_slot(request):
        return await run_blocking(runtime_of(request), work)


@asynccontextmanager
async def database_slot(request: Request) -> AsyncIterator[None]:
    """A database slot for work of its own: for a dependency that reads before the route's
    session is used (the key check, or the bucket's settings before a direct upload's body).

    A request that already holds its slot (its session was made for an earlier dependency)
    does this work under that slot, not in a second one: waiting for another slot while
    holding one, with every request of a burst doing the same, left every slot held by a
    request that waited for one more, until the wait ran out (503)."""
    own_slot: _Slot | None = getattr(request.state, "db_slot", None)
    if own_slot is not None and own_slot.held:
        yield
        return
    slot = _Slot(runtime_of(request).database_slots())
    await slot.take()
    try:
        yield
    finally:
        slot.give_back()


async def in_session(request: Request, work: Callable[["Session"], T], *,
                     writes: bool = False) -> T:
    """`work` with a session of its own (see in_slot). Unless it `writes`, its transactions
    only read (on SQLite, beside the writer)."""
    runtime = runtime_of(request)
    return await in_slot(request, lambda: _in_new_session(runtime, work, writes))


def _in_new_session(runtime: Runtime, work: Callable[["Session"], T], writes: bool) -> T:
    factory = runtime.session_factory if writes else runtime.read_session_factory
    with factory() as session:
        return work(session)


@asynccontextmanager
async def database_released(request: Request) -> AsyncIterator[None]:
    """Give back the request's connection and database slot while it waits on its client (a
    body still arriving, which a slow client can stretch out), then take a slot again."""
    slot: _Slot | None = getattr(request.state, "db_slot", None)
    if slot is None:
        yield
        return
    session = request.state.db_session
    if session.in_transaction():  # else it holds no connection: nothing to end, no thread
        await run_blocking(runtime_of(request), session.commit)  # objects stay loaded
    slot.give_back()
    try:
        yield
    finally:
        await slot.take()


def _close(session: "Session") -> None:
    """Close after the answer: a connection that died meanwhile has nothing left to roll back
    (the server did), and the pool discards it; that is no error of this request's."""
    try:
        session.close()
    except Exception as error:
        if as_unavailable(error) is None:  # which logs the outage when it is one
            raise
