"""The only way to the database: engine and pool, sessions and transactions, column types, and
the read API. Importing the package loads nothing heavy; each module says what it loads.

Sync or async, decided here once: synchronous. The ORM is synchronous, so a route's session
(sessions.get_session) does its work in a worker thread, inside one of the runtime's database
slots, which requests wait for on the event loop. The few statements a request makes before
any ORM work (the key check, a file's record, a bucket's settings, a signing key, a plain
page) go through reads.read_one, read_many and write: on PostgreSQL with psycopg alone (no
ORM, and no SQLAlchemy import on a cold start's first read), on SQLite through the ORM's
engine. On PostgreSQL a read that can start at once (a connection used within the last
seconds is idle in the pool) is awaited right there on the event loop, on that same sync
connection (pool.Pool.fetch_awaited): the loop serves other requests meanwhile, where a
worker thread's hand-over and its fight for the GIL cost more than the statement; a read
that would connect, ping or wait for a connection goes to a worker thread, as does every
read on SQLite (reads.read_one says why). A small direct upload's record is awaited the same
way (engine.fetch_at_once_awaited). On PostgreSQL all of it draws on the process's one pool
(pool.Pool: DB_POOL_SIZE connections, one in a Lambda container). Reads with an async driver
were as quick, but needed connections of their own: a second pool, a second connection per
container for RDS Proxy and max_connections.

- columns: the declarative Base and the column types both databases share.
- pool: PostgreSQL's connections (psycopg), for the engine and the read API.
- engine: the engine, SQLite's one writer at a time, the session factory.
- connections: what every connection shares (recycling, the ping after idle, the slots).
- sessions: a request's slot and session, and work of its own before the route's session.
- reads: Query, read_one and write, whichever database is configured.
"""
