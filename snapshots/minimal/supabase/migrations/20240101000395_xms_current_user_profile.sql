-- xms current user profile: what GET /api/me (src/routes/api/me.ts) reads of the caller's own row,
-- beyond 20240101000390_xms_request_entry.sql.
--
--   app.current_user_display_name()
--       The caller's display name, read as the caller (SECURITY INVOKER): app.users' RLS policies
--       decide, as for any statement of the request role; NULL when they hide the row.
--
-- Why a function: as an ad-hoc statement, `select ... from app.users where id = (select
-- app.current_user_id())` is planned again on every request, and for a matrix role whose users scope
-- is tenant the planner expands the policy's memberships sub-select with that table's own policy
-- (most of the statement's cost). plpgsql keeps the plan of its statement for the connection (and
-- plans again when the role or the policies change); the policies still run on every call.

set role xms_owner;

create or replace function app.current_user_display_name()
returns text
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v text;
begin
  select u.display_name into v from app.users u where u.id = (select app.current_user_id());
  return v;
end
$$;

revoke all on function app.current_user_display_name() from public;
grant execute on function app.current_user_display_name() to xms_request;

reset role;
