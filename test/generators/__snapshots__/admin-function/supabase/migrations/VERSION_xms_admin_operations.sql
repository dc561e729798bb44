-- xms admin operations (written by the first `xms add admin-function`).
--
-- app.admin_operations is the trail of every generated admin function: which operation, by whom
-- (owner_id: the acting admin, from the session), in which tenant, with what input, when. It is
-- written in the admin's own request transaction, together with the operation's work, so both
-- commit or neither does; the audit trigger records the insert too. Tenant-scoped like every table
-- (RLS enabled and forced, policies from permissions.yml: admins insert and read their tenant's
-- rows; nobody updates or deletes them).

set role xms_owner;

create table if not exists app.admin_operations (
  id          uuid primary key default gen_random_uuid(),
  tenant_id   uuid not null default app.current_tenant_id() references app.tenants (id) on delete cascade,
  owner_id    uuid not null default app.current_user_id() references app.users (id),
  operation   text not null check (length(operation) <= 100),
  input       jsonb not null default '{}'::jsonb,
  created_at  timestamptz not null default now()
);
create index if not exists admin_operations_tenant_id_owner_id_idx on app.admin_operations (tenant_id, owner_id);
create index if not exists admin_operations_owner_id_idx on app.admin_operations (owner_id);

alter table app.admin_operations enable row level security;
alter table app.admin_operations force row level security;
select audit.enable_tracking('app.admin_operations');
revoke all on app.admin_operations from public;

reset role;
