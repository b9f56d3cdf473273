"""How connections to PostgreSQL are kept: the figures both pools (ORM and event loop) share."""

# RDS Proxy closes idle client connections after 30 minutes by default; recycle well before.
POOL_RECYCLE_SECONDS = 280
# A connection idle this long is pinged before use: a Lambda that slept, or a database that
# restarted while the pool was quiet, would otherwise fail the request that takes it.
PING_AFTER_IDLE_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 5
# How the app's connections show in pg_stat_activity (and RDS Proxy's logs).
APPLICATION_NAME = "cloudnexus"
