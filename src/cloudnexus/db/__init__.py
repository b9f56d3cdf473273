"""The only way to the database: engine and pool, sessions and transactions, column types, and
the read API. Importing the package loads nothing heavy; each module says what it loads.

Sync or async, decided here once: synchronous. The ORM is synchronous, so a route's session
(sessions.get_session) does its work in a worker thread, inside one of the runtime's database
slots, which requests wait for on the event loop. The few statements a request makes before
any ORM work (the key check, a file's record, a bucket's settings, a signing key) go through
reads.read_one and reads.write: on PostgreSQL with psycopg alone (no ORM, and no SQLAlchemy
import on a cold start's first read), on SQLite through the ORM's engine. On PostgreSQL a
read_one that can start at once (a connection used within the last seconds is idle in the
pool) runs right there on the event loop: one statement cannot wait on a lock, and its round
trip costs less than the hand-over to a worker thread and back; a read that would connect,
ping or wait for a connection goes to a worker thread, so that a database that stopped
answering never holds the loop, and so does every read on SQLite (reads.read_one says why).
On PostgreSQL all of it draws on the process's one pool (pool.Pool: DB_POOL_SIZE
connections, one in a Lambda container). Reads with an async driver were as quick, but
needed connections of their own: a second pool, a second connection per container for RDS
Proxy and max_connections.

- columns: the declarative Base and the column types both databases share.
- pool: PostgreSQL's connections (psycopg), for the engine and the read API.
- engine: the engine, SQLite's one writer at a time, the session factory.
- connections: what every connection shares (recycling, the ping after idle, the slots).
- sessions: a request's slot and session, and work of its own before the route's session.
- reads: Query, read_one and write, whichever database is configured.
"""
