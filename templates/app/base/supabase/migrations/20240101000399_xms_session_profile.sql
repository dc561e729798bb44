-- xms session profile: the session check also returns the display name of the session's user,
-- beyond 20240101000397_xms_auth_key.sql.
--
--   app_private.session_entry    gains display_name (text), after email;
--   app_private.check_session()  reads it with the session, as it reads the e-mail: as the owner,
--                                for the session of the token its caller presents and no other;
--   app_private.enter_session()  unchanged: it returns the row check_session() returns.
--
-- Why: GET /api/me (src/routes/api/me.ts), which the UI asks on every page load, answered with one
-- statement of its own besides the session check, app.current_user_display_name() (20240101000395),
-- run under app.users' RLS with the identity look-ups of its policies and one more round trip.
-- Measured at a fixed request rate on PostgreSQL 15: backend CPU per request 480 µs with it, 256 µs
-- without it; the server's 453 µs against 300 µs (docs/benchmarks.md). The session check already
-- joins the session's user for its e-mail; its display name is one column more of the same look-up.
-- A request reads nothing of another user this way: the row is the session's own, found by the
-- token's hash, after the same checks as before (live, role still its membership's, address
-- verified). Statements of a handler still go through RLS as the request role; the function of
-- 20240101000395 stays for code that reads the name that way.

set role xms_owner;

do $type$
begin
  if not exists (select from pg_catalog.pg_attribute a
                  where a.attrelid = 'app_private.session_entry'::pg_catalog.regclass
                    and a.attname = 'display_name' and not a.attisdropped) then
    alter type app_private.session_entry add attribute display_name text;
  end if;
end
$type$;

-- The owner's read of the session's user (FORCE ROW LEVEL SECURITY applies to the owner too).
drop policy if exists users_owner_select on app.users;
create policy users_owner_select on app.users for select to xms_owner using (true);

-- 20240101000397's check, with the user's display name: the same conditions, the same slide.
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
    return;
  end if;
  if live.last_seen_at < pg_catalog.now() - pg_catalog.make_interval(secs => slide_seconds) then
    update app_private.sessions s
       set idle_expires_at = least(s.expires_at, pg_catalog.now() + pg_catalog.make_interval(mins => idle_minutes)),
           last_seen_at = pg_catalog.now()
     where s.token_hash = live.token_hash;
  end if;
  return next row(live.user_id, live.tenant_id, live.db_role, live.mfa_enrol_only, live.email, live.display_name)::app_private.session_entry;
end
$$;
revoke all on function app_private.check_session(text, integer, integer) from public;
grant execute on function app_private.check_session(text, integer, integer) to xms_anon;

reset role;
