/**
 * Invariant queries: what must never be true of the live database (invariants I3, I5, I7, I8).
 * Catalog reads only, so any role can run them, the runtime role xms_app included. Used by the
 * generated tests (test/db/invariants.test.ts) and by `xms check` against a live database.
 *
 * Each query returns rows { object, problem }; no row means the invariant holds.
 */
import type { Queryable } from './client.js';
import { audit } from '../generated/permissions.js';

/** Schemas whose tables hold app data and must be protected by RLS. */
export const PROTECTED_SCHEMAS = ['app', 'app_private', 'audit'];
/** Schemas whose tables must carry the audit triggers, unless permissions.yml exempts them (audit.exempt). */
export const AUDITED_SCHEMAS = ['app', 'app_private'];
/** Tables declared exempt from the audit log, with a reason, in permissions.yml. */
export const AUDIT_EXEMPT = Object.keys(audit.exempt);
/** Private columns named like these words hold secrets: the audit log must redact them (permissions.yml audit.redact). */
export const SECRET_WORDS = ['password', 'passphrase', 'secret', 'secrets', 'token', 'tokens', 'hash', 'hashes', 'otp', 'totp'];
const REDACTED = Object.entries(audit.redact).flatMap(([table, columns]) => columns.map((c) => `${table}.${c}`));
/** Schemas where our own functions and views live. */
export const CODE_SCHEMAS = ['app', 'app_private', 'audit', 'public'];
/**
 * The allowed SECURITY DEFINER functions, each with its own authorization check: the audit trigger
 * (it runs only as a trigger) and the session check (it reads only the session of the token its
 * caller presents; 20240101000397_xms_auth_key.sql), and the revocation of a changed membership's
 * sessions (it runs only as app.memberships' trigger; 20240101000403).
 */
export const ALLOWED_DEFINER_FUNCTIONS = ['audit.log_changes()', 'app_private.check_session(text,integer,integer)', 'app_private.revoke_membership_sessions()'];

const list = (xs: string[]) => xs.map((x) => `'${x.replace(/'/g, "''")}'`).join(', ');
/** a text[] literal, empty allowed (`x <> all (array[]::text[])` holds, `x not in ()` is a syntax error) */
const textArray = (xs: string[]) => `array[${list(xs)}]::text[]`;

export interface Invariant {
  id: string;
  description: string;
  sql: string;
}

export const INVARIANTS: Invariant[] = [
  {
    id: 'rls-enabled-forced',
    description: 'every table in the app schemas has row-level security enabled and forced (I3)',
    sql: `
      select format('%I.%I', n.nspname, c.relname) as object,
             case when not c.relrowsecurity then 'row level security is disabled'
                  else 'row level security is not forced' end as problem
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('r', 'p') and n.nspname in (${list(PROTECTED_SCHEMAS)})
         and not (c.relrowsecurity and c.relforcerowsecurity)`,
  },
  {
    id: 'audit-triggers',
    description: 'every table in schemas app and app_private has its three enabled audit triggers, unless permissions.yml exempts it (I7)',
    sql: `
      select format('%I.%I', n.nspname, c.relname) as object,
             'audit trigger ' || ev || ' missing or disabled' as problem
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       cross join unnest(array['xms_audit_insert', 'xms_audit_update', 'xms_audit_delete']) as ev
       where c.relkind in ('r', 'p') and n.nspname in (${list(AUDITED_SCHEMAS)})
         and format('%I.%I', n.nspname, c.relname) <> all (${textArray(AUDIT_EXEMPT)})
         and not exists (select from pg_catalog.pg_trigger t
                          where t.tgrelid = c.oid and t.tgname = ev and t.tgenabled <> 'D')`,
  },
  {
    id: 'audit-secrets-redacted',
    description: 'every private column named like a secret (password, token, hash, secret, ...) is redacted in the audit log by permissions.yml (I7)',
    sql: `
      select format('%I.%I.%I', n.nspname, c.relname, a.attname) as object,
             'named like a secret but not in permissions.yml audit.redact: the audit log copies its value' as problem
        from pg_catalog.pg_attribute a
        join pg_catalog.pg_class c on c.oid = a.attrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('r', 'p') and n.nspname = 'app_private' and a.attnum > 0 and not a.attisdropped
         and string_to_array(lower(a.attname), '_') && ${textArray(SECRET_WORDS)}
         and format('%I.%I', n.nspname, c.relname) <> all (${textArray(AUDIT_EXEMPT)})
         and format('%I.%I.%I', n.nspname, c.relname, a.attname) <> all (${textArray(REDACTED)})`,
  },
  {
    id: 'security-definer',
    description:
      'SECURITY DEFINER functions pin search_path, deny PUBLIC, and none but the audit trigger and the session check is callable by a request role (I8)',
    sql: `
      select p.oid::regprocedure::text as object, problem
        from pg_catalog.pg_proc p
        join pg_catalog.pg_namespace n on n.oid = p.pronamespace
       cross join lateral (
         select 'SECURITY DEFINER without a pinned search_path' as problem
          where not exists (select from unnest(coalesce(p.proconfig, '{}')) cfg where cfg like 'search\\_path=%')
         union all
         select 'SECURITY DEFINER executable by PUBLIC'
          where has_function_privilege('public', p.oid, 'EXECUTE')
         union all
         select 'SECURITY DEFINER (bypasses RLS) executable by request role ' || r.rolname
           from pg_catalog.pg_roles r
          where p.oid::regprocedure::text not in (${list(ALLOWED_DEFINER_FUNCTIONS)})
            and (r.rolname in ('xms_app', 'xms_anon', 'xms_auth')
                 or pg_has_role(r.oid, 'xms_request', 'MEMBER') and r.rolname <> 'xms_request')
            and has_function_privilege(r.oid, p.oid, 'EXECUTE')
       ) problems
       where p.prosecdef and n.nspname in (${list(CODE_SCHEMAS)})`,
  },
  {
    id: 'views-security-invoker',
    description: 'every view runs with the caller\'s rights (security_invoker), so RLS applies (I8)',
    sql: `
      select format('%I.%I', n.nspname, c.relname) as object,
             'view without security_invoker (it reads with its owner''s rights, skipping RLS)' as problem
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('v', 'm') and n.nspname in (${list(CODE_SCHEMAS)})
         and not coalesce(c.reloptions @> array['security_invoker=true']
                       or c.reloptions @> array['security_invoker=on']
                       or c.reloptions @> array['security_invoker=1'], false)`,
  },
  {
    id: 'runtime-role',
    description: 'the runtime login role and the request roles are not superuser, not BYPASSRLS, own nothing (I5)',
    sql: `
      select r.rolname::text as object, problem
        from pg_catalog.pg_roles r
       cross join lateral (
         select 'is a superuser' as problem where r.rolsuper
         union all select 'has BYPASSRLS' where r.rolbypassrls
         union all select 'inherits its request roles (must be NOINHERIT)' where r.rolname = 'xms_app' and r.rolinherit
         union all select 'owns ' || count(*) || ' relation(s)'
           from pg_catalog.pg_class c where c.relowner = r.oid
          having count(*) > 0
       ) problems
       where r.rolname = 'xms_app' or r.rolname = session_user
          or (r.rolname like 'xms\\_%' and r.rolname <> 'xms_owner')`,
  },
];

export interface Violation {
  invariant: string;
  object: string;
  problem: string;
}

/** Runs every invariant query; an empty list means the database keeps them all. */
export async function checkInvariants(db: Queryable): Promise<Violation[]> {
  const out: Violation[] = [];
  for (const inv of INVARIANTS) {
    const r = await db.query<{ object: string; problem: string }>(inv.sql);
    for (const row of r.rows) out.push({ invariant: inv.id, object: row.object, problem: row.problem });
  }
  return out;
}

export function formatViolations(violations: Violation[]): string {
  return violations.map((v) => `${v.invariant}: ${v.object}: ${v.problem}`).join('\n');
}
