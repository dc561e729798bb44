-- xms session revocation by the membership: a session is revoked when its membership changes, instead
-- of its membership being read on every request, beyond 20240101000402_xms_session_check_by_login.sql.
--
--   app_private.revoke_membership_sessions()         when a transaction that deactivated, removed,
--                                                    gave another role to or moved a membership
--                                                    commits (a deferred trigger on each such row of
--                                                    app.memberships; TRUNCATE at once): every live
--                                                    session made for it is revoked
--   app_private.refuse_session_without_membership()  AFTER INSERT, and UPDATE of the columns that say
--                                                    whose session it is, on app_private.sessions: a
--                                                    live session row is written only for a live
--                                                    membership with the session's role
--   app_private.lock_membership_sessions()           the (user, tenant) pair's lock, which both rules
--                                                    above take before they read
--   app_private.check_session()                      the same check without its read of
--                                                    app.memberships (the two rules above keep every
--                                                    live session's membership live and its role the
--                                                    membership's); it still refuses a session
--                                                    without a tenant or with a role that is not a
--                                                    request role
--   audit.log_changes()                              names as the actor the user of a session this
--                                                    transaction revoked, as of a live one (an admin
--                                                    who removes their own membership revokes their
--                                                    own session as the transaction commits)
--
-- Why: the membership was a fourth index scan in the statement that opens every logged-in request.
-- Measured on PostgreSQL 15, GET /api/me at 10 connections, 6 interleaved rounds: backend CPU per
-- request 70.0 -> 62.9 µs, req/s 1.06x (docs/benchmarks.md, session 41).
--
-- Revocation is not weaker: it takes effect when the membership change commits, not at the next
-- request, for every session of that membership (a request that began before the commit finishes, as
-- before). It waits for the commit so that the changing transaction keeps its identity to the end: an
-- admin who demotes or removes themselves still reads, writes and is named in the audit log until
-- then. A session written while its membership changes cannot slip between the two rules: both take
-- the same transaction-level lock for the (user, tenant) pair before they read, so either the
-- session's insert commits first and the change's revocation (a statement after the lock, with a new
-- snapshot) finds it, or the change commits first and the insert's check (likewise) sees it and
-- refuses. A membership is therefore changed only in a READ COMMITTED transaction (the default; a
-- REPEATABLE READ one could not see a session committed after its snapshot, so it is refused). The
-- lock is released at commit: nothing is held across requests. Session rows left unrevoked while
-- their membership is not live (the old check refused them when read) are revoked here, once.
-- `xms check` keeps the functions and triggers as this migration leaves them (DB017, DB018); the
-- revocation trigger is the one definer trigger besides audit.log_changes() (DB011), since the
-- member's admin, who changes the membership, has no right on sessions.

set role xms_owner;

-- THE lock both rules below take for a (user, tenant) pair before they read: one definition, so the
-- two cannot drift apart (a different key on one side would let a log-in and a deactivation pass each
-- other unseen). Transaction-level: released at commit. The key is the pair's 64-bit hash, seeded with
-- this migration's number so that it shares nothing with other advisory locks by design.
create or replace function app_private.lock_membership_sessions(member uuid, tenant uuid)
returns void
language sql
volatile
security invoker
set search_path = ''
as $$
  select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(member::text || '/' || tenant::text, 403));
$$;
revoke all on function app_private.lock_membership_sessions(uuid, uuid) from public;
-- the session rule runs as the role writing the session: the auth subsystem
grant execute on function app_private.lock_membership_sessions(uuid, uuid) to xms_auth;

-- SECURITY DEFINER: it runs for whoever changes a membership (an admin's request role), and only the
-- owner may write app_private.sessions for them. It revokes, nothing else, and only the sessions of the
-- (user, tenant) pair whose row changed.
create or replace function app_private.revoke_membership_sessions()
returns trigger
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  -- an update that keeps the member, the tenant, the role and the membership live revokes nothing
  if tg_op = 'UPDATE' then
    if new.user_id = old.user_id and new.tenant_id = old.tenant_id and new.role = old.role and new.deactivated_at is null then
      return null;
    end if;
  end if;
  if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'a membership is changed in a READ COMMITTED transaction (this one is %): its sessions are revoked as it commits',
      pg_catalog.current_setting('transaction_isolation') using errcode = '25001';
  end if;
  if tg_op = 'TRUNCATE' then
    update app_private.sessions s set revoked_at = pg_catalog.now() where s.revoked_at is null;
    return null;
  end if;
  -- the pair's lock (see the top of this file), then a statement that sees every committed session
  -- (the changed row as it was: a membership moved to another user or tenant revokes the old pair's)
  perform app_private.lock_membership_sessions(old.user_id, old.tenant_id);
  update app_private.sessions s
     set revoked_at = pg_catalog.now()
   where s.user_id = old.user_id and s.tenant_id = old.tenant_id and s.revoked_at is null;
  return null;
end
$$;
revoke all on function app_private.revoke_membership_sessions() from public;

-- SECURITY INVOKER, as app_private.refuse_unverified_session(): it runs as the role writing the
-- session (xms_auth, the only request role that may), which reads memberships. AFTER the row is
-- written, so that the table's own rules (its policies: the auth key) refuse a write first.
create or replace function app_private.refuse_session_without_membership()
returns trigger
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
  -- a revoked row is never live again without this check (an update of revoked_at comes back here)
  if new.revoked_at is not null then
    return null;
  end if;
  if new.tenant_id is null then
    raise exception 'a session is made for a membership: no tenant given' using errcode = '23514';
  end if;
  perform app_private.lock_membership_sessions(new.user_id, new.tenant_id);
  if not exists (select from app.memberships m
                  where m.user_id = new.user_id and m.tenant_id = new.tenant_id
                    and 'xms_' || m.role = new.db_role and m.deactivated_at is null) then
    raise exception 'no live membership of this user in this tenant with the role %: no session', new.db_role
      using errcode = '28000';
  end if;
  return null;
end
$$;
revoke all on function app_private.refuse_session_without_membership() from public;

do $triggers$
begin
  if not exists (select from pg_catalog.pg_trigger
                  where tgrelid = 'app.memberships'::regclass and tgname = 'memberships_revoke_sessions') then
    create constraint trigger memberships_revoke_sessions after update or delete on app.memberships
      deferrable initially deferred
      for each row execute function app_private.revoke_membership_sessions();
  end if;
  if not exists (select from pg_catalog.pg_trigger
                  where tgrelid = 'app.memberships'::regclass and tgname = 'memberships_revoke_sessions_truncate') then
    create trigger memberships_revoke_sessions_truncate after truncate on app.memberships
      for each statement execute function app_private.revoke_membership_sessions();
  end if;
  if not exists (select from pg_catalog.pg_trigger
                  where tgrelid = 'app_private.sessions'::regclass and tgname = 'sessions_require_membership') then
    create trigger sessions_require_membership after insert or update of user_id, tenant_id, db_role, revoked_at
      on app_private.sessions
      for each row execute function app_private.refuse_session_without_membership();
  end if;
end
$triggers$;

-- once: no live session outlives its membership from here on
update app_private.sessions s
   set revoked_at = pg_catalog.now()
 where s.revoked_at is null
   and not exists (select from app.memberships m
                    where m.user_id = s.user_id and m.tenant_id = s.tenant_id
                      and 'xms_' || m.role = s.db_role and m.deactivated_at is null);

-- 20240101000401's check without the read of app.memberships: the same conditions otherwise, the
-- same slide, the same grants (create or replace keeps them).
create or replace function app_private.check_session(token text, idle_minutes integer, slide_seconds integer)
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
     -- the membership is live and has this role: app_private.revoke_membership_sessions() and
     -- app_private.refuse_session_without_membership() (above) keep it so for every live session
     and s.tenant_id is not null
     and s.db_role like 'xms\_%' and s.db_role not in ('xms_auth', 'xms_anon', 'xms_app', 'xms_owner', 'xms_request')
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

-- 20240101000000's audit trigger, with its setting of 20240101000398, naming the user of a session
-- this transaction revoked (see the top of this file); nothing else changes.
create or replace function audit.log_changes()
returns trigger
language plpgsql
security definer
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
-- an audited table may have columns named like the variables below (secret, quiet, actor, ...):
-- in the statements over its transition tables a bare name means the variable, never the column.
-- The trigger's arguments (audit.enable_tracking): tg_argv[0] the tenant column ('' for none),
-- tg_argv[1:] the primary key columns.
#variable_conflict use_variable
declare
  tbl text;
  -- the role the transaction runs as (SET LOCAL ROLE xms_<role>), not this function's owner
  actor_role text;
  actor uuid;
  actor_tenant uuid;
  secret text[];
  quiet text[];
begin
  if tg_level is distinct from 'STATEMENT' or tg_when is distinct from 'AFTER' then
    raise exception 'audit.log_changes() must be an AFTER ... FOR EACH STATEMENT trigger';
  end if;
  tbl := pg_catalog.format('%I.%I', tg_table_schema, tg_table_name);
  actor_role := coalesce(nullif(pg_catalog.current_setting('role'), 'none'), session_user::text);
  -- the table's rules (none: nothing redacted, every update recorded)
  select nullif(r.redact, '{}'), nullif(r.ignore_updates_of, '{}')
    into secret, quiet
    from audit.table_rules r
   where r.table_name = tbl;
  -- the actor the auth subsystem names (honoured only for xms_auth), else the user and tenant of
  -- the transaction's live session; without a token there is no session to look up
  if actor_role = 'xms_auth' then
    actor := nullif(pg_catalog.current_setting('app.actor_id', true), '')::uuid;
  end if;
  if actor is null and pg_catalog.current_setting('app.session_token', true) <> '' then
    select s.user_id, s.tenant_id
      into actor, actor_tenant
      from app_private.sessions s
     where s.token_hash = pg_catalog.sha256(pg_catalog.convert_to(
             pg_catalog.current_setting('app.session_token', true), 'UTF8'))
       -- live, or revoked by this transaction: a membership change revokes its sessions when it
       -- commits (app_private.revoke_membership_sessions()), the changer's own session among them
       and (s.revoked_at is null or s.revoked_at = pg_catalog.now())
       and s.expires_at > pg_catalog.now()
       and s.idle_expires_at > pg_catalog.now();
  end if;

  -- One INSERT ... SELECT per statement. Per row only built-in expressions run (to_jsonb, ->, ->>,
  -- jsonb_build_object); the redaction runs only for tables that have secret columns.
  -- `offset 0` keeps each row's jsonb computed once (the planner would otherwise repeat to_jsonb()
  -- in every expression that reads it).
  -- Inserts and deletes come in two statements, by the key's width: a one-column key (the usual
  -- case) built inline, any other through audit.row_key(). One statement choosing per row (CASE)
  -- would set up both ways in every transaction, about 2% of a single-row insert.
  if tg_op = 'INSERT' and pg_catalog.cardinality(tg_argv) = 2 then
    insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
    select actor, coalesce((j ->> tg_argv[0])::uuid, actor_tenant), actor_role, 'INSERT', tbl,
           pg_catalog.jsonb_build_object(tg_argv[1], j -> tg_argv[1]), null, j
      from (select case when secret is null then pg_catalog.to_jsonb(n) else audit.redact(pg_catalog.to_jsonb(n), secret) end as j
              from xms_new_rows n offset 0) as x;
  elsif tg_op = 'INSERT' then
    insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
    select actor, coalesce((j ->> tg_argv[0])::uuid, actor_tenant), actor_role, 'INSERT', tbl,
           audit.row_key(j, tg_argv[1:]), null, j
      from (select case when secret is null then pg_catalog.to_jsonb(n) else audit.redact(pg_catalog.to_jsonb(n), secret) end as j
              from xms_new_rows n offset 0) as x;
  elsif tg_op = 'DELETE' and pg_catalog.cardinality(tg_argv) = 2 then
    insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
    select actor, coalesce((j ->> tg_argv[0])::uuid, actor_tenant), actor_role, 'DELETE', tbl,
           pg_catalog.jsonb_build_object(tg_argv[1], j -> tg_argv[1]), j, null
      from (select case when secret is null then pg_catalog.to_jsonb(o) else audit.redact(pg_catalog.to_jsonb(o), secret) end as j
              from xms_old_rows o offset 0) as x;
  elsif tg_op = 'DELETE' then
    insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
    select actor, coalesce((j ->> tg_argv[0])::uuid, actor_tenant), actor_role, 'DELETE', tbl,
           audit.row_key(j, tg_argv[1:]), j, null
      from (select case when secret is null then pg_catalog.to_jsonb(o) else audit.redact(pg_catalog.to_jsonb(o), secret) end as j
              from xms_old_rows o offset 0) as x;
  elsif tg_op = 'UPDATE' then
    -- old and new rows are paired by their real key; only what is stored is redacted; an update
    -- that changed only the ignored columns (quiet) of a row writes nothing for it
    insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
    select actor, coalesce((coalesce(n.j, o.j) ->> tg_argv[0])::uuid, actor_tenant), actor_role, 'UPDATE', tbl,
           case when secret is null then coalesce(n.k, o.k) else audit.row_key(audit.redact(coalesce(n.j, o.j), secret), tg_argv[1:]) end,
           case when secret is null then o.j else audit.redact(o.j, secret) end,
           case when secret is null then n.j else audit.redact(n.j, secret) end
      from (select j, case when pg_catalog.cardinality(tg_argv) = 2 then pg_catalog.jsonb_build_object(tg_argv[1], j -> tg_argv[1])
                           else audit.row_key(j, tg_argv[1:]) end as k
              from (select pg_catalog.to_jsonb(r) as j from xms_new_rows r offset 0) as r) as n
      full join (select j, case when pg_catalog.cardinality(tg_argv) = 2 then pg_catalog.jsonb_build_object(tg_argv[1], j -> tg_argv[1])
                                else audit.row_key(j, tg_argv[1:]) end as k
              from (select pg_catalog.to_jsonb(r) as j from xms_old_rows r offset 0) as r) as o
        on n.k = o.k and pg_catalog.cardinality(tg_argv) > 1
     where quiet is null or n.j is null or o.j is null or n.j - quiet is distinct from o.j - quiet;
  end if;
  return null;
end
$$;

reset role;
