-- xms request entry: the session check that opens every protected request (src/db/request.ts), as a
-- function, beyond 20240101000370_xms_account_email.sql.
--
--   app_private.enter_session(token_hash, token, idle_minutes, slide_seconds)
--       The live session of the token's SHA-256: not revoked, not expired (absolute and idle), its
--       role still its membership's (a removed member or a changed role ends it), a request role
--       (never xms_auth, xms_app, xms_owner), and its account's address verified. No row: nothing
--       is entered. Otherwise it slides the idle expiry when the last slide is over slide_seconds
--       old (most requests write nothing), switches the transaction to the session's role and sets
--       app.session_token for the identity helpers (both transaction-local), and returns the
--       session. The role switch goes through the login role's membership: a db_role that xms_app
--       was not granted cannot be entered, whatever the table says.
--
-- Why a function: as an ad-hoc statement the check was planned again on every request (a third of
-- a request's database time); plpgsql keeps the plans of its statements for the connection. It runs
-- as its caller (SECURITY INVOKER) and only xms_auth may call it: the request transaction calls it
-- as xms_auth, in the message that opens the transaction.

set role xms_owner;

create or replace function app_private.enter_session(token_hash bytea, token text, idle_minutes integer, slide_seconds integer)
returns table (user_id uuid, tenant_id uuid, db_role text, mfa_enrol_only boolean, email text)
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  live record;
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
  perform pg_catalog.set_config('role', live.db_role, true), pg_catalog.set_config('app.session_token', token, true);
  -- the one row, from the OUT columns (RETURN QUERY would run one more statement per request)
  user_id := live.user_id;
  tenant_id := live.tenant_id;
  db_role := live.db_role;
  mfa_enrol_only := live.mfa_enrol_only;
  email := live.email;
  return next;
end
$$;

revoke all on function app_private.enter_session(bytea, text, integer, integer) from public;
grant execute on function app_private.enter_session(bytea, text, integer, integer) to xms_auth;

reset role;
