-- Local data for development: one tenant, an admin and a member who can log in, and a few records.
-- The Supabase CLI runs this file after the migrations on `supabase start` and `supabase db reset`
-- (local only: `supabase db push` never runs it); the app's own migrator ignores it. Run it on the
-- embedded database with test/db/seed.test.ts as the example, or with psql on a local server.
--
--   admin@example.test   / local seed only: plum harbour 7 lanterns    (role admin)
--   member@example.test  / local seed only: plum harbour 7 lanterns    (role member)
--
-- A known password must never reach a real database: this file refuses to run on one that holds any
-- account outside example.test. Fixed ids make it idempotent (a second run changes nothing).
do $$
begin
  if exists (select 1 from app_private.credentials where email not like '%@example.test') then
    raise exception 'supabase/seed.sql is for local development: this database has real accounts';
  end if;
end
$$;

insert into app.tenants (id, name) values
  ('5eed0000-0000-4000-8000-000000000001', 'Local tenant')
on conflict (id) do nothing;

insert into app.users (id, display_name) values
  ('5eed0000-0000-4000-8000-00000000a001', 'Local admin'),
  ('5eed0000-0000-4000-8000-00000000b001', 'Local member')
on conflict (id) do nothing;

insert into app.memberships (user_id, tenant_id, role) values
  ('5eed0000-0000-4000-8000-00000000a001', '5eed0000-0000-4000-8000-000000000001', 'admin'),
  ('5eed0000-0000-4000-8000-00000000b001', '5eed0000-0000-4000-8000-000000000001', 'member')
on conflict (user_id, tenant_id) do nothing;

-- argon2id (m=19456, t=2, p=1: src/security/passwords.ts) of the password above
-- (the addresses count as verified: example.test receives no mail)
insert into app_private.credentials (user_id, email, password_hash, email_verified_at) values
  ('5eed0000-0000-4000-8000-00000000a001', 'admin@example.test', '$argon2id$v=19$m=19456,p=1,t=2$P/v0f3dUetP+cJrS/b8I3g$wED11kjpFT77AUe8IBWLxU16jD8zB1nPYP/3SseriwY', now()),
  ('5eed0000-0000-4000-8000-00000000b001', 'member@example.test', '$argon2id$v=19$m=19456,p=1,t=2$P/v0f3dUetP+cJrS/b8I3g$wED11kjpFT77AUe8IBWLxU16jD8zB1nPYP/3SseriwY', now())
on conflict (user_id) do nothing;

insert into app.records (id, tenant_id, owner_id, title, body) values
  ('5eed0000-0000-4000-8000-0000000c0001', '5eed0000-0000-4000-8000-000000000001', '5eed0000-0000-4000-8000-00000000a001', 'Welcome', 'A record of the local tenant, owned by the admin.'),
  ('5eed0000-0000-4000-8000-0000000c0002', '5eed0000-0000-4000-8000-000000000001', '5eed0000-0000-4000-8000-00000000b001', 'Member notes', 'Owned by the member: only they may change it.'),
  ('5eed0000-0000-4000-8000-0000000c0003', '5eed0000-0000-4000-8000-000000000001', '5eed0000-0000-4000-8000-00000000b001', 'Second note', 'Every change of these rows is in the audit log.')
on conflict (id) do nothing;
