-- xms auth key: only the server's own auth code acts as the auth subsystem (xms_auth), beyond
-- 20240101000396_xms_request_entry_row_type.sql.
--
-- Why: the runtime login xms_app is a member of xms_auth (credentials, sessions, rate limits), so
-- that the server can switch to it with SET LOCAL ROLE. PostgreSQL checks a role switch against the
-- login, not against the code that asks: ANY statement on the app's connection could switch too (a
-- handler's string-built query, a plain `select set_config('role', 'xms_auth', true)`) and then
-- insert a session row for any user of any tenant. A membership cannot be granted "to the server's
-- auth code only", so xms_auth's rights now also need a secret that no SQL can read:
--
--   app_private.auth_keys        the SHA-256 of the server's auth key, registered by the owner
--                                (src/db/auth-key.ts: src/db/migrate.ts derives it from
--                                XMS_APP_PASSWORD, the password the server logs in with; a PGlite
--                                data folder keeps a random key of its own). A key is 256 bits from
--                                HMAC-SHA256 or the system's random source: its hash gives nothing away.
--   app_private.auth_key_held()  true when the transaction's app.auth_key hashes to a registered key.
--   auth_key_required            a RESTRICTIVE policy on every table xms_auth has a right on: without
--                                the key xms_auth sees and writes nothing (`xms check` requires it on
--                                every such table, a later one included).
--
-- src/db/request.ts sets app.auth_key as a bind parameter (never in a statement's text, which
-- pg_stat_activity shows to every session of the same login) for the auth subsystem's statements
-- only, and clears it before a handler's statements run again.
--
-- The session check that opens every protected request (app_private.enter_session) needs no key: it
-- no longer runs as xms_auth but as xms_anon (what a request is until its session is known), and
-- takes the token alone. It checks the session through app_private.check_session, which runs as the
-- owner and reads (and slides the idle expiry of) only the session of the token its caller presents:
-- holding the token is its authorization check (invariant I8). It then switches to the session's role
-- and token as before.

set role xms_owner;

create table if not exists app_private.auth_keys (
  key_hash bytea primary key check (pg_catalog.octet_length(key_hash) = 32),
  registered_at timestamptz not null default pg_catalog.now()
);
alter table app_private.auth_keys enable row level security;
alter table app_private.auth_keys force row level security;
revoke all on app_private.auth_keys from public;
grant select (key_hash) on app_private.auth_keys to xms_auth;
drop policy if exists auth_keys_auth_select on app_private.auth_keys;
create policy auth_keys_auth_select on app_private.auth_keys for select to xms_auth using (true);
drop policy if exists auth_keys_owner on app_private.auth_keys;
create policy auth_keys_owner on app_private.auth_keys for all to xms_owner using (true) with check (true);
-- registrations are audited like every table (permissions.yml redacts the hash all the same)
select audit.enable_tracking('app_private.auth_keys');

-- app.auth_key is a setting any statement can write: it is never trusted, only hashed and compared.
create or replace function app_private.auth_key_held()
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select exists (
    select from app_private.auth_keys k
     where k.key_hash = pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.current_setting('app.auth_key', true), 'UTF8')))
$$;
revoke all on function app_private.auth_key_held() from public;
grant execute on function app_private.auth_key_held() to xms_auth;

-- The restrictive policies: ANDed with every permissive policy of xms_auth on the table, for every
-- command. `(select ...)` runs the check once per statement, not once per row.
do $gate$
declare
  t text;
begin
  foreach t in array array[
    'app.users', 'app.tenants', 'app.memberships',
    'app_private.credentials', 'app_private.sessions', 'app_private.auth_rate_limits',
    'app_private.password_resets', 'app_private.mfa_factors', 'app_private.mfa_recovery_codes',
    'app_private.mfa_challenges', 'app_private.email_verifications', 'app_private.passkeys',
    'app_private.passkey_registrations'
  ] loop
    execute pg_catalog.format('drop policy if exists auth_key_required on %s', t);
    execute pg_catalog.format(
      'create policy auth_key_required on %s as restrictive for all to xms_auth '
      'using ((select app_private.auth_key_held())) with check ((select app_private.auth_key_held()))', t);
  end loop;
end
$gate$;

-- The owner's reads and the one write of the session check.
drop policy if exists credentials_owner_select on app_private.credentials;
create policy credentials_owner_select on app_private.credentials for select to xms_owner using (true);
drop policy if exists memberships_owner_select on app.memberships;
create policy memberships_owner_select on app.memberships for select to xms_owner using (true);
drop policy if exists sessions_owner_slide on app_private.sessions;
create policy sessions_owner_slide on app_private.sessions for update to xms_owner using (true) with check (true);

-- The live session of the token its caller presents, checked as 20240101000396 checked it: not
-- revoked, not expired (absolute and idle), its role still its membership's, a request role (never
-- xms_auth, xms_anon, xms_app, xms_owner), its account's address verified. Slides the idle expiry when
-- the last slide is over slide_seconds old (most requests write nothing). SECURITY DEFINER (the owner):
-- its caller needs no right on the session tables and reaches no row but the one of its token.
create or replace function app_private.check_session(token text, idle_minutes integer, slide_seconds integer)
returns setof app_private.session_entry
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  live record;
begin
  select s.token_hash, s.user_id, s.tenant_id, s.db_role, s.last_seen_at, s.mfa_enrol_only, c.email
    into live
    from app_private.sessions s
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
    return;
  end if;
  if live.last_seen_at < pg_catalog.now() - pg_catalog.make_interval(secs => slide_seconds) then
    update app_private.sessions s
       set idle_expires_at = least(s.expires_at, pg_catalog.now() + pg_catalog.make_interval(mins => idle_minutes)),
           last_seen_at = pg_catalog.now()
     where s.token_hash = live.token_hash;
  end if;
  return next row(live.user_id, live.tenant_id, live.db_role, live.mfa_enrol_only, live.email)::app_private.session_entry;
end
$$;
revoke all on function app_private.check_session(text, integer, integer) from public;
grant execute on function app_private.check_session(text, integer, integer) to xms_anon;

-- The request's entry (src/db/request.ts, sent with its BEGIN as xms_anon): the check above, then the
-- switch to the session's role and token. It runs as its caller, since a role switch is refused
-- inside a SECURITY DEFINER function: the switch goes through the login's membership, so a db_role
-- xms_app was not granted cannot be entered, whatever the table says. The token-hash form of
-- 20240101000396 goes: only xms_auth could call it.
drop function if exists app_private.enter_session(bytea, text, integer, integer);
create or replace function app_private.enter_session(token text, idle_minutes integer, slide_seconds integer)
returns setof app_private.session_entry
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  live app_private.session_entry;
  ignored text;
begin
  select * into live from app_private.check_session(token, idle_minutes, slide_seconds);
  if not found then
    return;
  end if;
  -- assignments are evaluated as simple expressions; PERFORM would start an executor
  ignored := pg_catalog.set_config('role', live.db_role, true);
  ignored := pg_catalog.set_config('app.session_token', token, true);
  return next live;
end
$$;
revoke all on function app_private.enter_session(text, integer, integer) from public;
grant execute on function app_private.enter_session(text, integer, integer) to xms_anon;

reset role;
