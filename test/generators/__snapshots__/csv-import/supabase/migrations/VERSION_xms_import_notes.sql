-- xms CSV import for app.notes (written by `xms add csv-import notes`).
-- key: content hash
--
-- De-duplication by content: content_hash is the SHA-256 of the row's normalised values
-- (app.content_hash), kept by a trigger and unique within a tenant, so INSERT ... ON CONFLICT
-- DO NOTHING skips rows the tenant already has with the same content.

set role xms_owner;

alter table app.notes add column if not exists content_hash text;

create or replace function app.notes_content_hash()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  new.content_hash := app.content_hash(pg_catalog.jsonb_build_array(new.title, new.body, new.pinned));
  return new;
end
$$;
revoke all on function app.notes_content_hash() from public;

do $hash$
begin
  if not exists (select from pg_catalog.pg_trigger
                  where tgrelid = 'app.notes'::regclass and tgname = 'notes_content_hash') then
    create trigger notes_content_hash before insert or update on app.notes
      for each row execute function app.notes_content_hash();
  end if;
end
$hash$;
update app.notes set content_hash = app.content_hash(pg_catalog.jsonb_build_array(title, body, pinned))
 where content_hash is null;
create unique index if not exists notes_tenant_id_content_hash_key on app.notes (tenant_id, content_hash);

reset role;
