-- xms admin functions (the `admin` feature): what an admin's own request transaction (xms_admin) may
-- do beyond permissions.yml to issue password resets and invitations. Everything else the admin
-- functions write (memberships: role, deactivation, removal) is granted by the matrix, so RLS bounds
-- it to the admin's tenant and the audit trigger records the admin as the actor.
--
-- An admin may insert a reset/invitation token only for a member of their own tenant, naming
-- themselves as its creator. They cannot read tokens back (no select), so a token is shown once.

set role xms_owner;

do $admin$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'xms_admin') then
    raise notice 'xms: no role xms_admin (permissions.yml has no admin role): admin grants skipped';
    return;
  end if;
  grant insert on app_private.password_resets to xms_admin;
  drop policy if exists password_resets_admin_insert on app_private.password_resets;
  create policy password_resets_admin_insert on app_private.password_resets for insert to xms_admin
    with check (
      tenant_id = (select app.current_tenant_id())
      and created_by = (select app.current_user_id())
      and exists (select from app.memberships m
                   where m.user_id = password_resets.user_id and m.tenant_id = password_resets.tenant_id)
    );
end
$admin$;

reset role;
