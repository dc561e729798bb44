-- xms request entry, its result as a named row type: app_private.enter_session (defined in
-- 20240101000390_xms_request_entry.sql) again, with the same arguments, checks and call
-- (`select * from app_private.enter_session(...)`), now returning SETOF app_private.session_entry.
--
-- Why: the function runs on every protected request. Declared as RETURNS TABLE (...), its result
-- columns are OUT parameters, which PostgreSQL rebuilds into a row description from the function's
-- catalog entry in every statement that calls it; a named composite type's row description is
-- cached for the connection. Measured by instruction counts of the server process on a point-lookup
-- request transaction: the session check 315k -> 292k instructions (docs/benchmarks.md). The role
-- and token are set by two assignments instead of PERFORM, which ran one more executor per request.
--
-- The return type of a function cannot be changed in place, so it is dropped and created again, in
-- this migration's one transaction, with the grants of 20240101000390.

set role xms_owner;

do $type$
begin
  if not exists (select from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace
                  where n.nspname = 'app_private' and t.typname = 'session_entry') then
    create type app_private.session_entry as (user_id uuid, tenant_id uuid, db_role text, mfa_enrol_only boolean, email text);
  end if;
end
$type$;

drop function if exists app_private.enter_session(bytea, text, integer, integer);

create function app_private.enter_session(token_hash bytea, token text, idle_minutes integer, slide_seconds integer)
returns setof app_private.session_entry
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  live record;
  ignored text;
begin
  select s.token_hash, s.user_id, s.tenant_id, s.db_role, s.last_seen_at, s.mfa_enrol_only, c.email
    into live
    from app_private.sessions s
    left join app_private.credentials c on c.user_id = s.user_id
   where s.token_hash = enter_session.token_hash
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
    return;
  end if;
  if live.last_seen_at < pg_catalog.now() - pg_catalog.make_interval(secs => slide_seconds) then
    update app_private.sessions s
       set idle_expires_at = least(s.expires_at, pg_catalog.now() + pg_catalog.make_interval(mins => idle_minutes)),
           last_seen_at = pg_catalog.now()
     where s.token_hash = live.token_hash;
  end if;
  -- assignments are evaluated as simple expressions; PERFORM would start an executor
  ignored := pg_catalog.set_config('role', live.db_role, true);
  ignored := pg_catalog.set_config('app.session_token', token, true);
  return next row(live.user_id, live.tenant_id, live.db_role, live.mfa_enrol_only, live.email)::app_private.session_entry;
end
$$;

revoke all on function app_private.enter_session(bytea, text, integer, integer) from public;
grant execute on function app_private.enter_session(bytea, text, integer, integer) to xms_auth;

reset role;
