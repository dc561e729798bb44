-- xms tenant join: an existing account accepts an invitation to another tenant, beyond
-- 20240101000370_xms_account_email.sql. The server side is src/auth/invitations.ts.
--
-- An invitation is issued to a pending member: a bare user row without credentials, with its
-- membership in the inviting tenant (src/routes/admin/index.ts). When the invited address already
-- has an account, accepting proves that account (its password, and its second factor when it has
-- one) and, in one xms_auth transaction, spends the token, gives the ACCOUNT a membership with the
-- invited role (the insert xms_auth already has) and removes the pending member's membership:
--
--   app.memberships  xms_auth may delete a membership of a user who has no credentials (a pending
--                    invitee) and no other: an account's membership is never removed by the auth
--                    subsystem (removal, deactivation and role changes stay the admin's, under the
--                    matrix and RLS)
-- Audited like every change of app.memberships, with the accepting account as the actor.

set role xms_owner;

grant delete on app.memberships to xms_auth;
drop policy if exists memberships_auth_delete_pending on app.memberships;
create policy memberships_auth_delete_pending on app.memberships for delete to xms_auth
  using (not exists (select from app_private.credentials c where c.user_id = memberships.user_id));

reset role;
