-- xms CSV import (the `csv-import` feature; `xms add csv-import <table>` writes the same into an app
-- scaffolded without it).
--
--   app.imports   the imports ledger: one row per imported file and table, with the file's SHA-256,
--                 who imported it, when, and the counts. Tenant-scoped like every table: RLS enabled
--                 and forced, policies from permissions.yml, audited. Unique per tenant, table and
--                 file hash, so the same file imported twice (even concurrently) inserts nothing.
--   app.content_hash(jsonb)  the content hash of a normalised row, for tables without a natural key
--                 (a BEFORE trigger keeps <table>.content_hash up to date; a unique index per tenant
--                 makes INSERT ... ON CONFLICT DO NOTHING skip rows already there).

set role xms_owner;

create table if not exists app.imports (
  id                   uuid primary key default gen_random_uuid(),
  tenant_id            uuid not null default app.current_tenant_id() references app.tenants (id) on delete cascade,
  owner_id             uuid not null default app.current_user_id() references app.users (id),
  table_name           text not null,
  file_sha256          text not null,
  filename             text not null default '',
  rows_total           integer not null default 0,
  rows_inserted        integer not null default 0,
  duplicates_in_file   integer not null default 0,
  duplicates_existing  integer not null default 0,
  created_at           timestamptz not null default now()
);
create unique index if not exists imports_tenant_id_table_name_file_sha256_key on app.imports (tenant_id, table_name, file_sha256);
create index if not exists imports_tenant_id_owner_id_idx on app.imports (tenant_id, owner_id);
create index if not exists imports_owner_id_idx on app.imports (owner_id);

alter table app.imports enable row level security;
alter table app.imports force row level security;
select audit.enable_tracking('app.imports');
revoke all on app.imports from public;

-- sha256 of the row's normalised values (a jsonb array: typed values, so 007 and 7 are the same int)
create or replace function app.content_hash(normalised jsonb)
returns text
language sql
immutable
security invoker
set search_path = ''
as $$
  select pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(normalised::text, 'UTF8')), 'hex')
$$;
revoke all on function app.content_hash(jsonb) from public;
grant execute on function app.content_hash(jsonb) to xms_request;

-- app.records: de-duplicated by content (title, body)
alter table app.records add column if not exists content_hash text;

create or replace function app.records_content_hash()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  new.content_hash := app.content_hash(pg_catalog.jsonb_build_array(new.title, new.body));
  return new;
end
$$;
revoke all on function app.records_content_hash() from public;

do $hash$
begin
  if not exists (select from pg_catalog.pg_trigger
                  where tgrelid = 'app.records'::regclass and tgname = 'records_content_hash') then
    create trigger records_content_hash before insert or update on app.records
      for each row execute function app.records_content_hash();
  end if;
end
$hash$;
update app.records set content_hash = app.content_hash(pg_catalog.jsonb_build_array(title, body)) where content_hash is null;
create unique index if not exists records_tenant_id_content_hash_key on app.records (tenant_id, content_hash);

reset role;
