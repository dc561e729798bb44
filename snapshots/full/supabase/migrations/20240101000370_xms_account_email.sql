-- xms account e-mail: verification of the address, on sign-up and on change, beyond
-- 20240101000350_xms_accounts.sql.
--
--   app_private.credentials.email_verified_at   when the account proved it reads its address (the
--                                               e-mailed link, an invitation, a password reset by
--                                               e-mail); NULL: pending. Once set it stays set: an
--                                               address change verifies the new address first, then
--                                               replaces the old one, verified, in one update
--   app_private.email_verifications             single-use, expiring links (SHA-256 of the token, at
--                                               most 24 hours): 'signup' verifies the account's own
--                                               address, 'change' names the new address, which takes
--                                               effect only when its link is used. Audited, token_hash
--                                               redacted (permissions.yml audit.redact)
--   app_private.refuse_unverified_session()     THE rule: no session row, however written, for an
--                                               account whose address is not verified, so an
--                                               unverified account cannot act on data (every request
--                                               role reaches data only through a live session)
-- Accounts that existed before this migration keep working: they are marked verified once, when the
-- column is added.

set role xms_owner;

do $verified$
begin
  if not exists (select from pg_catalog.pg_attribute
                  where attrelid = 'app_private.credentials'::regclass and attname = 'email_verified_at' and not attisdropped) then
    alter table app_private.credentials add column email_verified_at timestamptz;
    update app_private.credentials set email_verified_at = created_at;
  end if;
end
$verified$;

create table if not exists app_private.email_verifications (
  token_hash  bytea primary key check (octet_length(token_hash) = 32),
  user_id     uuid not null references app.users (id) on delete cascade,
  email       text not null check (length(email) between 3 and 320),
  purpose     text not null check (purpose in ('signup', 'change')),
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null,
  used_at     timestamptz,
  constraint email_verifications_lifetime_check check (expires_at <= created_at + interval '24 hours'),
  constraint email_verifications_email_normalised check (
    email = lower(normalize(email, NFKC))
    and email ~ '^[^@]+@[^@]+[^.]$'
    and email !~ '[[:space:][:cntrl:]\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]')
);
create index if not exists email_verifications_user_id_idx on app_private.email_verifications (user_id);
alter table app_private.email_verifications enable row level security;
alter table app_private.email_verifications force row level security;
revoke all on app_private.email_verifications from public;
grant select, insert, update on app_private.email_verifications to xms_auth;
drop policy if exists email_verifications_auth on app_private.email_verifications;
create policy email_verifications_auth on app_private.email_verifications for all to xms_auth using (true) with check (true);
select audit.enable_tracking('app_private.email_verifications');

-- No session for an unverified account. SECURITY INVOKER: it runs as the role writing the session
-- (xms_auth, the only request role that may), which reads credentials.
create or replace function app_private.refuse_unverified_session()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if exists (select from app_private.credentials c where c.user_id = new.user_id and c.email_verified_at is null) then
    raise exception 'the e-mail address of this account is not verified: no session'
      using errcode = '28000', hint = 'the account follows the e-mailed link first (POST /api/auth/verify-email)';
  end if;
  return new;
end
$$;
revoke all on function app_private.refuse_unverified_session() from public;

-- A verified address stays verified, and a new address is stored only verified: an update that
-- clears email_verified_at, or changes the address without setting email_verified_at anew, is refused.
create or replace function app_private.keep_email_verified()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if old.email_verified_at is not null and new.email_verified_at is null then
    raise exception 'a verified e-mail address cannot become unverified' using errcode = '23514';
  end if;
  if new.email is distinct from old.email and new.email_verified_at is not distinct from old.email_verified_at then
    raise exception 'a new e-mail address takes effect only verified (set email_verified_at with it)' using errcode = '23514';
  end if;
  return new;
end
$$;
revoke all on function app_private.keep_email_verified() from public;

do $triggers$
begin
  if not exists (select from pg_catalog.pg_trigger
                  where tgrelid = 'app_private.sessions'::regclass and tgname = 'sessions_refuse_unverified') then
    create trigger sessions_refuse_unverified before insert or update of user_id on app_private.sessions
      for each row execute function app_private.refuse_unverified_session();
  end if;
  if not exists (select from pg_catalog.pg_trigger
                  where tgrelid = 'app_private.credentials'::regclass and tgname = 'credentials_keep_email_verified') then
    create trigger credentials_keep_email_verified before update on app_private.credentials
      for each row execute function app_private.keep_email_verified();
  end if;
end
$triggers$;

reset role;
