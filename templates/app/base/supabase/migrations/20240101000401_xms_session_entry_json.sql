-- xms session entry as one value: the session check that opens every protected request returns its
-- row as a value instead of a row set, beyond 20240101000399_xms_session_profile.sql.
--
--   app_private.check_session()  returns app_private.session_entry, NULL when the token has no live
--                                session (was: SETOF, no row); the same conditions, reads and slide;
--   app_private.enter_session()  returns json, the entry's columns by name, NULL when there is no live
--                                session (was: SETOF app_private.session_entry); it enters the
--                                session's role and token as before. The server calls it as
--                                `select app_private.enter_session($1, $2, $3) as entry`.
--
-- Why: a set-returning function is run by a function scan that collects its rows in a tuplestore,
-- both where the server calls enter_session and where enter_session calls check_session (a query of
-- its own, with an executor). A function that returns one value is called in an expression: plpgsql
-- evaluates `live := app_private.check_session(...)` without starting an executor, and the server's
-- statement is a single result. Measured on PostgreSQL 15 (backend CPU of the transaction that opens a
-- request, BEGIN to COMMIT, 15 interleaved rounds of 400): 147 -> 119 µs; with a point lookup under
-- RLS in it, 275 -> 250 µs (docs/benchmarks.md). Nothing else changes: the same arguments, grants and
-- checks; check_session stays the only SECURITY DEFINER function a request role can call (DB011).
--
-- A function's return type cannot be changed in place, so both are dropped and created again, in this
-- migration's one transaction; enter_session first, it calls check_session.

set role xms_owner;

drop function if exists app_private.enter_session(text, integer, integer);
drop function if exists app_private.check_session(text, integer, integer);

-- 20240101000399's check, returning its row as a value: the same conditions, the same slide.
create function app_private.check_session(token text, idle_minutes integer, slide_seconds integer)
returns app_private.session_entry
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  live record;
begin
  select s.token_hash, s.user_id, s.tenant_id, s.db_role, s.last_seen_at, s.mfa_enrol_only, c.email, u.display_name
    into live
    from app_private.sessions s
    join app.users u on u.id = s.user_id
    left join app_private.credentials c on c.user_id = s.user_id
   where s.token_hash = pg_catalog.sha256(pg_catalog.convert_to(token, 'UTF8'))
     and s.revoked_at is null
     and s.expires_at > pg_catalog.now()
     and s.idle_expires_at > pg_catalog.now()
     and s.db_role like 'xms\_%' and s.db_role not in ('xms_auth', 'xms_anon', 'xms_app', 'xms_owner', 'xms_request')
     and exists (select from app.memberships m
                  where m.user_id = s.user_id and m.tenant_id = s.tenant_id
                    and 'xms_' || m.role = s.db_role and m.deactivated_at is null)
     -- no session row is written for an unverified address (20240101000370_xms_account_email.sql);
     -- checked here too
     and (c.user_id is null or c.email_verified_at is not null);
  if not found then
    return null;
  end if;
  if live.last_seen_at < pg_catalog.now() - pg_catalog.make_interval(secs => slide_seconds) then
    update app_private.sessions s
       set idle_expires_at = least(s.expires_at, pg_catalog.now() + pg_catalog.make_interval(mins => idle_minutes)),
           last_seen_at = pg_catalog.now()
     where s.token_hash = live.token_hash;
  end if;
  return row(live.user_id, live.tenant_id, live.db_role, live.mfa_enrol_only, live.email, live.display_name)::app_private.session_entry;
end
$$;
revoke all on function app_private.check_session(text, integer, integer) from public;
grant execute on function app_private.check_session(text, integer, integer) to xms_anon;

-- Runs as xms_anon (SECURITY INVOKER): it can only enter a role that xms_anon may switch to, and only
-- for a session check_session found live for this token.
create function app_private.enter_session(token text, idle_minutes integer, slide_seconds integer)
returns json
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  live app_private.session_entry;
  ignored text;
begin
  -- an expression, not a query: no executor is started for the call
  live := app_private.check_session(token, idle_minutes, slide_seconds);
  -- user_id is NOT NULL in every session: NULL here is no live session
  if live.user_id is null then
    return null;
  end if;
  ignored := pg_catalog.set_config('role', live.db_role, true);
  ignored := pg_catalog.set_config('app.session_token', token, true);
  return pg_catalog.row_to_json(live);
end
$$;
revoke all on function app_private.enter_session(text, integer, integer) from public;
grant execute on function app_private.enter_session(text, integer, integer) to xms_anon;

reset role;
