-- xms accounts: e-mail recovery and invitations, beyond 20240101000300_xms_auth.sql.
--
--   app_private.password_resets.purpose   'reset' (forgot password, an admin's reset) or 'invite' (an
--                                         admin's invitation): the users list shows a pending
--                                         invitation from its latest 'invite' token
--   "forgot password" (xms_auth)          the auth subsystem may insert a reset token, and only one
--                                         that names no creator, lives at most one hour and belongs
--                                         to a live member of that tenant (the token: SHA-256 of 256
--                                         random bits, 32 bytes, as every token column)
--   app_private.sessions.user_agent       the browser a session was opened with (at most 200 characters),
--                                         for the sessions page: a user sees their own live sessions
--                                         and ends the others (src/routes/api/sessions.ts, as xms_auth)
-- Audited like every change of password_resets (20240101000300_xms_auth.sql), token_hash redacted
-- (permissions.yml audit.redact); the actor is the user the token is for (src/auth/accounts.ts).

set role xms_owner;

alter table app_private.password_resets add column if not exists purpose text not null default 'reset';
alter table app_private.password_resets drop constraint if exists password_resets_purpose_check;
alter table app_private.password_resets add constraint password_resets_purpose_check check (purpose in ('reset', 'invite'));
-- a token lives at most a week, whoever issues it
alter table app_private.password_resets drop constraint if exists password_resets_lifetime_check;
alter table app_private.password_resets add constraint password_resets_lifetime_check check (expires_at <= created_at + interval '7 days');

grant insert on app_private.password_resets to xms_auth;
drop policy if exists password_resets_auth_insert on app_private.password_resets;
create policy password_resets_auth_insert on app_private.password_resets for insert to xms_auth
  with check (
    purpose = 'reset'
    and created_by is null
    and expires_at <= now() + interval '1 hour'
    and exists (select from app.memberships m
                 where m.user_id = password_resets.user_id and m.tenant_id = password_resets.tenant_id
                   and m.deactivated_at is null)
  );

alter table app_private.sessions add column if not exists user_agent text check (length(user_agent) <= 200);

reset role;
