-- xms auth: what the auth subsystem (src/auth, src/security) needs beyond 20240101000100_xms_tables.sql.
--
--   app_private.auth_rate_limits  the shared rate-limit store, in the layout rate-limiter-flexible's
--                                 RateLimiterPostgres uses (key, points, expire in epoch ms); written
--                                 only as xms_auth, one statement per transaction; not audited
--                                 (counters, no personal data: permissions.yml declares the exemption)
--   app.memberships.deactivated_at  a deactivated member cannot log in; their sessions die at once
--   app_private.password_resets   single-use, expiring reset / invitation tokens, stored as SHA-256;
--                                 audited (the admin who issued one is the actor; token_hash redacted)
--   one identity per mailbox      credentials and invitations hold the e-mail as src/auth/accounts.ts
--                                 normalises it (NFKC, lower case, no invisible characters, no trailing
--                                 dot), checked here as far as SQL can; unique as stored

set role xms_owner;

create table if not exists app_private.auth_rate_limits (
  key     varchar(255) primary key,
  points  integer not null default 0,
  expire  bigint
);
create index if not exists auth_rate_limits_expire_idx on app_private.auth_rate_limits (expire);
alter table app_private.auth_rate_limits enable row level security;
alter table app_private.auth_rate_limits force row level security;
revoke all on app_private.auth_rate_limits from public;
grant select, insert, update, delete on app_private.auth_rate_limits to xms_auth;
drop policy if exists auth_rate_limits_auth on app_private.auth_rate_limits;
create policy auth_rate_limits_auth on app_private.auth_rate_limits for all to xms_auth using (true) with check (true);

alter table app.memberships add column if not exists deactivated_at timestamptz;

create table if not exists app_private.password_resets (
  token_hash  bytea primary key check (octet_length(token_hash) = 32),
  user_id     uuid not null references app.users (id) on delete cascade,
  tenant_id   uuid not null references app.tenants (id) on delete cascade,
  email       text not null check (length(email) between 3 and 320),
  created_by  uuid references app.users (id) on delete set null,
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null default now() + interval '24 hours',
  used_at     timestamptz
);
create index if not exists password_resets_user_id_idx on app_private.password_resets (user_id);
create index if not exists password_resets_tenant_id_idx on app_private.password_resets (tenant_id);
create index if not exists password_resets_created_by_idx on app_private.password_resets (created_by);
alter table app_private.password_resets enable row level security;
alter table app_private.password_resets force row level security;
revoke all on app_private.password_resets from public;
grant select, update on app_private.password_resets to xms_auth;
drop policy if exists password_resets_auth_select on app_private.password_resets;
create policy password_resets_auth_select on app_private.password_resets for select to xms_auth using (true);
drop policy if exists password_resets_auth_update on app_private.password_resets;
create policy password_resets_auth_update on app_private.password_resets for update to xms_auth using (true) with check (true);
select audit.enable_tracking('app_private.password_resets');

-- One identity per mailbox. The application normalises (normaliseEmail); the database refuses any
-- other form, so no code path can store a second spelling of an address: not NFKC or not lower case,
-- whitespace or control characters, the usual invisible ones (soft hyphen, zero-width and bidi
-- controls, fillers, variation selectors, BOM), a trailing dot.
alter table app_private.credentials drop constraint if exists credentials_email_normalised;
alter table app_private.credentials add constraint credentials_email_normalised check (
  email = lower(normalize(email, NFKC))
  and email ~ '^[^@]+@[^@]+[^.]$'
  and email !~ '[[:space:][:cntrl:]\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]');
alter table app_private.password_resets drop constraint if exists password_resets_email_normalised;
alter table app_private.password_resets add constraint password_resets_email_normalised check (
  email = lower(normalize(email, NFKC))
  and email ~ '^[^@]+@[^@]+[^.]$'
  and email !~ '[[:space:][:cntrl:]\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]');

reset role;
