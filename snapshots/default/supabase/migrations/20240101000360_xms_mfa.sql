-- xms mfa: a second factor (TOTP, RFC 6238) with single-use recovery codes, beyond
-- 20240101000350_xms_accounts.sql. The server side is src/auth/mfa.ts and src/auth/login.ts.
--
--   app_private.mfa_factors         one authenticator per user: its shared secret (base32, 160 bits),
--                                   confirmed once the user typed a code from it; last_used_step is
--                                   the newest 30-second step accepted, so a code is accepted once
--                                   (the server's update is conditional on a newer step: atomic)
--   app_private.mfa_recovery_codes  ten single-use codes per user, stored as SHA-256 (80 random bits
--                                   each: a hash is enough, no salt or slow hash needed)
--   app_private.mfa_challenges      the pending second step of a log-in: the SHA-256 of the token in
--                                   the __Host-mfa cookie, single use, at most ten minutes
--   app_private.sessions.mfa_enrol_only
--                                   a session of a user who must have a second factor and has none:
--                                   it may only enrol. The request roles see their own session row
--                                   (sessions_own_token) only when it is a full session, so for an
--                                   enrol-only one app.current_user_id() / current_tenant_id() are
--                                   NULL and every matrix policy denies (the server refuses the
--                                   routes besides enrolment too: src/auth/mfa.ts ENROL_ONLY_ROUTES)
-- Only the auth subsystem (xms_auth) reaches these tables, like the password hashes; every change is
-- audited with secret, code_hash and token_hash redacted (permissions.yml audit.redact).

set role xms_owner;

create table if not exists app_private.mfa_factors (
  user_id         uuid primary key references app.users (id) on delete cascade,
  secret          text not null check (secret ~ '^[A-Z2-7]{32}$'),
  confirmed_at    timestamptz,
  last_used_step  bigint not null default 0,
  created_at      timestamptz not null default now()
);

create table if not exists app_private.mfa_recovery_codes (
  code_hash   bytea primary key check (octet_length(code_hash) = 32),
  user_id     uuid not null references app.users (id) on delete cascade,
  created_at  timestamptz not null default now(),
  used_at     timestamptz
);
create index if not exists mfa_recovery_codes_user_id_idx on app_private.mfa_recovery_codes (user_id);

create table if not exists app_private.mfa_challenges (
  token_hash  bytea primary key check (octet_length(token_hash) = 32),
  user_id     uuid not null references app.users (id) on delete cascade,
  tenant_id   uuid not null references app.tenants (id) on delete cascade,
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null,
  used_at     timestamptz,
  check (expires_at <= created_at + interval '10 minutes')
);
create index if not exists mfa_challenges_user_id_idx on app_private.mfa_challenges (user_id);
create index if not exists mfa_challenges_tenant_id_idx on app_private.mfa_challenges (tenant_id);

alter table app_private.mfa_factors enable row level security;
alter table app_private.mfa_factors force row level security;
alter table app_private.mfa_recovery_codes enable row level security;
alter table app_private.mfa_recovery_codes force row level security;
alter table app_private.mfa_challenges enable row level security;
alter table app_private.mfa_challenges force row level security;
revoke all on app_private.mfa_factors, app_private.mfa_recovery_codes, app_private.mfa_challenges from public;
grant select, insert, update, delete on app_private.mfa_factors, app_private.mfa_recovery_codes, app_private.mfa_challenges to xms_auth;
drop policy if exists mfa_factors_auth on app_private.mfa_factors;
create policy mfa_factors_auth on app_private.mfa_factors for all to xms_auth using (true) with check (true);
drop policy if exists mfa_recovery_codes_auth on app_private.mfa_recovery_codes;
create policy mfa_recovery_codes_auth on app_private.mfa_recovery_codes for all to xms_auth using (true) with check (true);
drop policy if exists mfa_challenges_auth on app_private.mfa_challenges;
create policy mfa_challenges_auth on app_private.mfa_challenges for all to xms_auth using (true) with check (true);
select audit.enable_tracking('app_private.mfa_factors');
select audit.enable_tracking('app_private.mfa_recovery_codes');
select audit.enable_tracking('app_private.mfa_challenges');

alter table app_private.sessions add column if not exists mfa_enrol_only boolean not null default false;
-- the policy below filters on it (xms check DB013): a partial index holds the few enrol-only sessions only
create index if not exists sessions_mfa_enrol_only_idx on app_private.sessions (mfa_enrol_only) where mfa_enrol_only;

-- The request roles' view of their own session (20240101000100_xms_tables.sql), now only of a full
-- session: an enrol-only session has no identity in the database, so it reaches no row of the matrix.
drop policy if exists sessions_own_token on app_private.sessions;
create policy sessions_own_token on app_private.sessions for select to xms_request
  using (token_hash = (select pg_catalog.sha256(pg_catalog.convert_to(
           pg_catalog.current_setting('app.session_token', true), 'UTF8')))
         and not mfa_enrol_only);

reset role;
