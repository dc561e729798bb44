/**
 * Just enough of Supabase (roles anon / authenticated / service_role, the auth schema, auth.uid())
 * for a project's migrations to apply to a plain PGlite. Used by `xms check` (when the live database
 * is Supabase's, the migrations take their Supabase branch) and by `xms harden` (reading a Supabase
 * project's state from its migrations); it lives here, at the bottom, so both import it downward.
 */
export const SUPABASE_SHIM = `
do $shim$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then create role service_role nologin noinherit bypassrls; end if;
end
$shim$;
create schema if not exists auth;
create schema if not exists extensions;
create table if not exists auth.users (
  id uuid primary key default gen_random_uuid(),
  email text,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  created_at timestamptz not null default now()
);
create or replace function auth.jwt() returns jsonb language sql stable
  as $$ select coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb, '{}'::jsonb) $$;
create or replace function auth.uid() returns uuid language sql stable
  as $$ select nullif(auth.jwt() ->> 'sub', '')::uuid $$;
create or replace function auth.role() returns text language sql stable
  as $$ select auth.jwt() ->> 'role' $$;
grant usage on schema auth to anon, authenticated, service_role;
`;
