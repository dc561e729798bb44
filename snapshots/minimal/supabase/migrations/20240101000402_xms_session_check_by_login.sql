-- xms session check by the runtime login: the server calls the session check as the role it logs in
-- as (xms_app), without switching to xms_anon first, beyond 20240101000401_xms_session_entry_json.sql.
--
--   a protected request   BEGIN, then app_private.enter_session() (was: BEGIN, SET LOCAL ROLE xms_anon,
--                         enter_session()), which checks the session and enters its role and token;
--   a sessionOnly route   one statement, app_private.check_session() as json, in the implicit
--                         transaction of its own Sync (was: BEGIN, SET LOCAL ROLE xms_anon,
--                         enter_session(), COMMIT): it reads nothing but the session, so it needs
--                         neither a role nor a token entered (src/db/request.ts).
--
-- Why: every statement of the pipeline costs both sides a parse, a bind and a reply, and the switch to
-- xms_anon was one more change of role before the session's own. Measured on PostgreSQL 15, 10
-- connections: a protected request's entry with a point read and COMMIT, 5102-5249 -> 5924-6040 per
-- second (backend CPU 243-255 -> 191-196 µs); GET /api/me over HTTP, 0.43x -> 0.66x of bare Fastify in
-- the same run (docs/benchmarks.md, session 38).
--
-- What it gives the login: EXECUTE on the two functions and USAGE on their schema, nothing else. The
-- login stays NOINHERIT (DB007) and can still read and write no table. Nothing it could not do
-- before: it is a member of xms_anon, so any statement on its connection could already
-- `SET LOCAL ROLE xms_anon` and call both; check_session reads (and slides) only the session of the
-- token presented (DB011 allows it to the runtime and request roles), and enter_session runs as its
-- caller and enters a role the login is a member of. USAGE on app_private resolves names only, as it
-- does for the request roles, which already hold it.

set role xms_owner;

grant usage on schema app_private to xms_app;
grant execute on function app_private.check_session(text, integer, integer) to xms_app;
grant execute on function app_private.enter_session(text, integer, integer) to xms_app;

reset role;
