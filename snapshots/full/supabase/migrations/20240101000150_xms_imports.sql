-- xms CSV import (the `csv-import` feature; `xms add csv-import <table>` writes the same into an app
-- scaffolded without it).
--
--   app.imports   the imports ledger: one row per imported file and table, with the file's SHA-256,
--                 who imported it, when, and the counts. Tenant-scoped like every table: RLS enabled
--                 and forced, policies from permissions.yml, audited. Unique per tenant, table and
--                 file hash, so the same file imported twice (even concurrently) inserts nothing.
--   app.content_hash(jsonb)  the content hash of a normalised row (a jsonb array of its typed values),
--                 for tables without a natural key: <table>.content_hash is a generated column of the
--                 same hash (app.<table>_content_hash), and a unique index per tenant makes
--                 INSERT ... ON CONFLICT DO NOTHING skip rows already there.

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

-- app.records: de-duplicated by content (title, body). content_hash is a stored generated column:
-- computed by the insert itself (no trigger call per row) and impossible to set by hand.
-- app.records_content_hash is app.content_hash of the row's values, written out so that it runs
-- without a nested function call and without a SET clause (all names schema-qualified): it runs
-- once per inserted row. IMMUTABLE holds for these argument types (text's jsonb form depends on no
-- setting).
create or replace function app.records_content_hash(title text, body text)
returns text
language plpgsql
immutable
security invoker
as $$
begin
  return pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.jsonb_build_array($1, $2)::text, 'UTF8')), 'hex');
end
$$;
revoke all on function app.records_content_hash(text, text) from public;
grant execute on function app.records_content_hash(text, text) to xms_request;

do $hash$
begin
  -- an app migrated before content_hash was generated: its trigger-kept column is replaced
  if exists (select from pg_catalog.pg_attribute
              where attrelid = 'app.records'::regclass and attname = 'content_hash' and attgenerated = '') then
    drop trigger if exists records_content_hash on app.records;
    alter table app.records drop column content_hash;
  end if;
end
$hash$;
drop function if exists app.records_content_hash();
alter table app.records add column if not exists content_hash text
  generated always as (app.records_content_hash(title, body)) stored;
create unique index if not exists records_tenant_id_content_hash_key on app.records (tenant_id, content_hash);

reset role;
