-- xms table app.products (written by `xms add table products`; change it with a new migration).
-- columns: sku:text:unique,qty:int,notes:text?,price:numeric,active:boolean,due:date?
--
-- Mirrors app.records: tenant_id NOT NULL defaulting to the caller's tenant, owner_id defaulting to
-- the caller, RLS enabled and forced (default deny: the policies come from permissions.yml), indexes
-- on the policy columns, audit tracking. Unique columns are unique within a tenant, so one tenant
-- cannot learn another's values from a conflict.

set role xms_owner;

create table if not exists app.products (
  id          uuid primary key default gen_random_uuid(),
  tenant_id   uuid not null default app.current_tenant_id() references app.tenants (id) on delete cascade,
  owner_id    uuid not null default app.current_user_id() references app.users (id),
  sku         text not null check (length(sku) <= 10000),
  qty         integer not null,
  notes       text check (length(notes) <= 10000),
  price       numeric not null,
  active      boolean not null,
  due         date,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create index if not exists products_tenant_id_owner_id_idx on app.products (tenant_id, owner_id);
create index if not exists products_owner_id_idx on app.products (owner_id);
-- the list route's keyset pages (newest first, `(created_at, id) < cursor`) are a backward scan of
-- this index within the caller's tenant, not a sort, on page 1 as on page 1,000
create index if not exists products_tenant_id_created_at_idx on app.products (tenant_id, created_at, id);
create unique index if not exists products_tenant_id_sku_key on app.products (tenant_id, sku);

do $touch$
begin
  if not exists (select from pg_catalog.pg_trigger
                  where tgrelid = 'app.products'::regclass and tgname = 'products_touch_updated_at') then
    create trigger products_touch_updated_at before update on app.products
      for each row execute function app.touch_updated_at();
  end if;
end
$touch$;

alter table app.products enable row level security;
alter table app.products force row level security;
select audit.enable_tracking('app.products');
revoke all on app.products from public;

reset role;
