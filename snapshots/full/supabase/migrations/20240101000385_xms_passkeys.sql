-- xms passkeys: WebAuthn credentials as a second factor besides TOTP, beyond
-- 20240101000360_xms_mfa.sql. The server side is src/auth/passkeys.ts (@simplewebauthn/server).
--
--   app_private.passkeys                one row per registered credential: its id (base64url, as the
--                                       browser reports it), COSE public key, signature counter (a
--                                       regression is refused: a cloned authenticator), transports,
--                                       the name the user gave it, created and last used
--   app_private.passkey_registrations   the pending registration of a user: the SHA-256 of its
--                                       challenge, single use (deleted by the registration that
--                                       presents it), at most ten minutes
--   app_private.mfa_challenges.passkey_challenge_hash
--                                       the SHA-256 of the WebAuthn challenge issued for this pending
--                                       log-in: an assertion is accepted only for the log-in it was
--                                       asked for, and once (the server clears it before verifying)
-- Only the auth subsystem (xms_auth) reaches these tables, like the TOTP secrets; every change is
-- audited with the challenge hashes redacted (permissions.yml audit.redact).

set role xms_owner;

create table if not exists app_private.passkeys (
  id              uuid primary key default gen_random_uuid(),
  user_id         uuid not null references app.users (id) on delete cascade,
  credential_id   text not null unique check (credential_id ~ '^[A-Za-z0-9_-]+$' and char_length(credential_id) between 16 and 1366),
  public_key      bytea not null check (octet_length(public_key) between 16 and 2048),
  counter         bigint not null default 0 check (counter >= 0),
  transports      text[] not null default '{}' check (cardinality(transports) <= 8),
  name            text not null check (char_length(name) between 1 and 64),
  created_at      timestamptz not null default now(),
  last_used_at    timestamptz
);
create index if not exists passkeys_user_id_idx on app_private.passkeys (user_id);

create table if not exists app_private.passkey_registrations (
  user_id         uuid primary key references app.users (id) on delete cascade,
  challenge_hash  bytea not null check (octet_length(challenge_hash) = 32),
  created_at      timestamptz not null default now(),
  expires_at      timestamptz not null,
  check (expires_at <= created_at + interval '10 minutes')
);

alter table app_private.mfa_challenges add column if not exists passkey_challenge_hash bytea
  check (octet_length(passkey_challenge_hash) = 32);

alter table app_private.passkeys enable row level security;
alter table app_private.passkeys force row level security;
alter table app_private.passkey_registrations enable row level security;
alter table app_private.passkey_registrations force row level security;
revoke all on app_private.passkeys, app_private.passkey_registrations from public;
grant select, insert, update, delete on app_private.passkeys, app_private.passkey_registrations to xms_auth;
drop policy if exists passkeys_auth on app_private.passkeys;
create policy passkeys_auth on app_private.passkeys for all to xms_auth using (true) with check (true);
drop policy if exists passkey_registrations_auth on app_private.passkey_registrations;
create policy passkey_registrations_auth on app_private.passkey_registrations for all to xms_auth using (true) with check (true);
select audit.enable_tracking('app_private.passkeys');
select audit.enable_tracking('app_private.passkey_registrations');

reset role;
