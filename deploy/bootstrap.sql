-- CloudNexus database bootstrap: the checklist's CREATE DATABASE / CREATE USER / GRANT steps.
-- Run once as the RDS master user (its password is in the stack output DatabaseMasterSecretArn);
-- the application password comes from the AppDatabaseSecretArn secret and is passed in, never
-- written here:
--
--   psql "host=$DB_HOST user=cnxadmin dbname=postgres sslmode=require" \
--        -v app_user=cloudnexus_app -v app_password="$APP_PASSWORD" -v db_name=cloudnexus \
--        -f deploy/bootstrap.sql
--
-- Safe to run again: it creates what is missing and re-applies the password and grants.
\set ON_ERROR_STOP on

SELECT format('CREATE DATABASE %I', :'db_name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db_name') \gexec

SELECT format('CREATE ROLE %I LOGIN', :'app_user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec

SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'app_user', :'app_password') \gexec

GRANT CONNECT, TEMPORARY ON DATABASE :"db_name" TO :"app_user";

\connect :"db_name"

-- Every extension the migrations ask for, made here by the master user: the application user
-- that runs `cloudnexus migrate` (the Lambda's migrate invoke) has no CREATE on the database,
-- so it cannot create them itself, and its `CREATE EXTENSION IF NOT EXISTS` only finds them.
--   pg_trgm    the trigram index behind `q` (migration 0002)
--   btree_gin  that index leads with bucket_id (migration 0003)
-- A new migration that needs another extension must add it here too
-- (tests/deploy/test_bootstrap.py runs every migration as the application user).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- CREATE lets `cloudnexus migrate` run as the application user too.
GRANT USAGE, CREATE ON SCHEMA public TO :"app_user";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_user";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_user";

-- Tables and sequences that migrations run by this (admin) role make later are covered too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_user";
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app_user";
