"""The only way to the database: engine and pool, sessions and transactions, column types, and
the read API. Importing the package loads nothing heavy; each module says what it loads.

Sync or async, decided here once: the ORM is synchronous, so a route's session
(sessions.get_session) does its work in a worker thread, inside one of the runtime's
database slots, which requests wait for on the event loop. The few statements a request
makes before any ORM work (the key check, a file's record, a bucket's settings, a signing
key) go through reads.read_one and reads.write instead: on PostgreSQL they run on the event
loop with psycopg alone (aio), which costs less than the thread hop and the ORM, and keeps
SQLAlchemy out of a cold start's first read; on SQLite, whose driver has no async side, they
run through the ORM's engine in a worker thread.

- columns: the declarative Base and the column types both databases share.
- engine: the engine and its pool, SQLite's one writer at a time, the session factory.
- connections: what every connection shares (recycling, the ping after idle, the slots).
- sessions: a request's slot and session, and sessions of their own for early reads.
- reads: Query, read_one and write, whichever database is configured.
- aio: PostgreSQL on the event loop (used by reads only).
"""
