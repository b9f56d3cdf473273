"""`python -m bench.peer` (`make bench-peer`): CloudNexus side by side with Supabase Storage.

One Python asyncio client (aiohttp) drives both servers on loopback, in turns (CloudNexus,
then Supabase, then CloudNexus again...), through the same operations: 1 KiB and 1 MiB
uploads, 1 KiB and 1 MiB downloads and a walk of 1,000 files 100 a page, each at concurrency 1
and 16; then each server's resident memory. Each line of the log also gives the part of a core
the client used in each server's turns: near 100%, the client set the pace (httpx, the client
before, spent 1.7-2 ms of CPU a request, and so did: docs/performance.md). Every figure is
a ratio CloudNexus / Supabase, merged into bench/results.json with its target (>= 1.0 for
rates, <= 1.0 for latencies and memory) and the peer's version, commit and the date.

CloudNexus is started here: `cloudnexus serve` on a fresh PostgreSQL database (at
$BENCH_POSTGRES_URL's server, 127.0.0.1:5432 by default) and a local storage folder. The peer
is not: start Supabase Storage yourself, as its own README says, single-tenant, with
`STORAGE_BACKEND=file` and its database on the same PostgreSQL server, then tell the run
where it is:

- `PEER_URL` — e.g. http://127.0.0.1:5000;
- `PEER_JWT_SECRET` — its `AUTH_JWT_SECRET` (the run signs its own service-role JWT), or
  `PEER_SERVICE_KEY` — a service-role JWT;
- `PEER_COMMIT` — the commit it was built from (reported, not checked); `PEER_VERSION`
  overrides what its `/version` answers; `PEER_PID` names its process when the one listening
  on the port is not it (memory is read from /proc).

Without a reachable peer the run prints why and exits 0; it is not part of `make test`.
docs/performance.md ("Side by side with Supabase Storage") has the method and the figures.
"""
