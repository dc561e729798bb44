-- xms CSV import for app.notes (written by `xms add csv-import notes`).
-- key: content hash
--
-- De-duplication by content: content_hash is the SHA-256 of the row's normalised values (the same
-- hash as app.content_hash of their jsonb array), a stored generated column - computed by the insert
-- itself, impossible to set by hand - unique within a tenant, so INSERT ... ON CONFLICT DO NOTHING
-- skips rows the tenant already has with the same content. app.notes_content_hash is written
-- out without a nested call or a SET clause (every name schema-qualified): it runs once per row.
-- It is IMMUTABLE, as a generated column needs: a timestamptz is hashed as its UTC time, so the
-- hash does not depend on the session's TimeZone.

set role xms_owner;

create or replace function app.notes_content_hash(title text, body text, pinned boolean)
returns text
language plpgsql
immutable
security invoker
as $$
begin
  return pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.jsonb_build_array($1, $2, $3)::text, 'UTF8')), 'hex');
end
$$;
revoke all on function app.notes_content_hash(text, text, boolean) from public;
grant execute on function app.notes_content_hash(text, text, boolean) to xms_request;

alter table app.notes add column if not exists content_hash text
  generated always as (app.notes_content_hash(title, body, pinned)) stored;
create unique index if not exists notes_tenant_id_content_hash_key on app.notes (tenant_id, content_hash);

reset role;
