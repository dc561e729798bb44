/**
 * The catalog checks of `xms check` on a live database (invariants I3, I5, I7, I8 and the policy shape
 * of I6). Catalog reads only: any role can run them, the runtime role xms_app included. The queries
 * start from the generated app's src/db/invariants.ts (the app's own tests run those) and widen them
 * to every non-system schema, so a table created by hand in `public` is caught too.
 */
import type { AuditRules } from '../matrix/parse.js';
import type { Finding, Queryable } from './types.js';

/** Schemas that belong to PostgreSQL, Supabase or extensions, never checked. */
export const SYSTEM_SCHEMAS = [
  'information_schema', 'supabase_migrations', 'auth', 'storage', 'realtime', '_realtime', 'extensions',
  'graphql', 'graphql_public', 'supabase_functions', 'vault', 'pgsodium', 'pgsodium_masks', 'net', 'cron',
  'pgbouncer', '_analytics', 'pgtle', 'topology', 'tiger', 'tiger_data', 'repack',
];
/** Tables in these schemas need RLS but no audit triggers (the audit log itself). Every other table is
 * audited unless permissions.yml (`audit.exempt`) declares it exempt with a reason. */
export const UNAUDITED_SCHEMAS = ['audit'];
/** Schemas whose columns are checked for secret-looking names that the audit log would copy. */
export const SECRET_SCHEMAS = ['app_private'];
/** A column is named like a secret when one of its `_`-separated words is one of these. */
export const SECRET_WORDS = ['password', 'passphrase', 'secret', 'secrets', 'token', 'tokens', 'hash', 'hashes', 'otp', 'totp'];
/** Whether a column name looks like it holds a secret (password_hash, token_hash, totp_secret, ...). */
export function looksSecret(column: string): boolean {
  return column.toLowerCase().split('_').some((w) => SECRET_WORDS.includes(w));
}
/** The one SECURITY DEFINER function request roles may reach (only as a trigger). */
export const ALLOWED_DEFINER_FUNCTIONS = ['audit.log_changes()', 'app_private.check_session(text,integer,integer)'];
/**
 * SECURITY DEFINER trigger functions and the one table each may fire on (null: any table): the audit
 * trigger, and the revocation of a membership's sessions (20240101000403), which the member's admin
 * fires and which writes only app_private.sessions.
 */
export const ALLOWED_DEFINER_TRIGGERS: Record<string, string | null> = {
  'audit.log_changes()': null,
  'app_private.revoke_membership_sessions()': 'app.memberships',
};

/**
 * The restrictive policy every table xms_auth has a right on carries (20240101000397_xms_auth_key.sql):
 * the runtime login may switch to xms_auth, so any SQL on its connection could; without the server's
 * auth key that role must see and write nothing. As PostgreSQL deparses it, spaces and case aside.
 */
export const AUTH_KEY_CHECK = '(selectapp_private.auth_key_held()asauth_key_held)';
/** Identity helpers that must be called as (select fn()) in policies. */
const HELPER = /\b((?:app\.)?current_(?:user_id|tenant_id|app_role)|auth\.(?:uid|jwt|role))\(\)/g;

const list = (xs: string[]) => xs.map((x) => `'${x.replace(/'/g, "''")}'`).join(', ');

/** SQL condition: namespace alias n is an app schema. */
export const APP_SCHEMA = `(n.nspname not in (${list(SYSTEM_SCHEMAS)}) and n.nspname not like 'pg\\_%')`;
/** SQL condition: object with oid column `oidcol` of catalog `catalog` is not part of an extension. */
const notExtension = (oidcol: string, catalog: string) =>
  `not exists (select from pg_catalog.pg_depend d where d.classid = '${catalog}'::regclass and d.objid = ${oidcol} and d.deptype = 'e')`;

interface Row {
  object: string;
  problem: string;
}

async function rows(db: Queryable, sql: string): Promise<Row[]> {
  return (await db.query<Row>(sql)).rows;
}

export interface DatabaseCheckOptions {
  exposedSchemas: string[];
  /** permissions.yml `audit:` as compiled (undefined when the matrix does not compile: nothing is exempt) */
  audit?: AuditRules;
  /**
   * how many auth keys (app_private.auth_keys) may be registered: 1 in a live database (the server's,
   * registered by the owner), 0 in one built from the migrations alone (default 1)
   */
  authKeysAllowed?: number;
}

export async function checkDatabase(db: Queryable, options: DatabaseCheckOptions): Promise<Finding[]> {
  const out: Finding[] = [];
  const add = (id: string, object: string, message: string, fix: string, severity: Finding['severity'] = 'error') =>
    out.push({ id, severity, object, message, fix });

  // DB001 / DB002: RLS enabled, forced, at least one policy
  for (const r of await rows(
    db,
    `select pg_catalog.format('%I.%I', n.nspname, c.relname) as object,
            case when not c.relrowsecurity then 'row level security is disabled'
                 when not c.relforcerowsecurity then 'row level security is enabled but not forced (the owner bypasses it)'
                 else 'no policy' end as problem
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and ${APP_SCHEMA} and ${notExtension('c.oid', 'pg_class')}
        and (not (c.relrowsecurity and c.relforcerowsecurity)
             or not exists (select from pg_catalog.pg_policy p where p.polrelid = c.oid))
      order by 1`,
  )) {
    if (r.problem === 'no policy') {
      add('DB002-table-without-policy', r.object, 'the table has no policy: no request role can reach it',
        'grant the roles that need it in permissions.yml and run npm run db:migrate (or drop the table)');
    } else {
      add('DB001-rls-not-forced', r.object, r.problem,
        `alter table ${r.object} enable row level security; alter table ${r.object} force row level security; (in a new migration)`);
    }
  }

  // DB005: audit triggers
  for (const r of await rows(
    db,
    `select pg_catalog.format('%I.%I', n.nspname, c.relname) as object,
            'audit trigger ' || ev || ' is missing, disabled or does not call audit.log_changes()' as problem
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      cross join unnest(array['xms_audit_insert', 'xms_audit_update', 'xms_audit_delete']) as ev
      where c.relkind in ('r', 'p') and not c.relispartition and ${APP_SCHEMA}
        and n.nspname not in (${list(UNAUDITED_SCHEMAS)}) and ${notExtension('c.oid', 'pg_class')}
        and not exists (select from pg_catalog.pg_trigger t join pg_catalog.pg_proc f on f.oid = t.tgfoid
                         join pg_catalog.pg_namespace fn on fn.oid = f.pronamespace
                         where t.tgrelid = c.oid and t.tgname = ev and t.tgenabled <> 'D'
                           and fn.nspname = 'audit' and f.proname = 'log_changes')
      order by 1, 2`,
  )) {
    if (options.audit?.exempt[r.object] !== undefined) continue;
    add('DB005-audit-trigger-missing', r.object, r.problem,
      `select audit.enable_tracking('${r.object}'); (in a new migration), or declare it under audit.exempt in permissions.yml with the reason`);
  }
  for (const [table, reason] of Object.entries(options.audit?.exempt ?? {}).sort()) {
    add('DB005-audit-trigger-missing', table, `not audited: declared exempt in permissions.yml (${reason})`,
      'nothing to do while the reason holds; remove the exemption and enable tracking when it no longer does', 'info');
  }
  out.push(...(await auditRuleFindings(db, options.audit)));

  // DB006: audit log append-only for the runtime and request roles
  const hasAuditLog = (await db.query<{ ok: boolean }>(`select pg_catalog.to_regclass('audit.log') is not null as ok`)).rows[0]?.ok;
  if (hasAuditLog) {
    for (const r of await rows(
      db,
      `select r.rolname::text as object, problem
         from pg_catalog.pg_roles r
        cross join lateral (
          select 'can ' || lower(priv) || ' audit.log' as problem
            from unnest(array['UPDATE', 'DELETE', 'TRUNCATE', 'INSERT']) as priv
           where pg_catalog.has_table_privilege(r.oid, 'audit.log', priv)
          union all
          select 'owns audit.log' where (select c.relowner from pg_catalog.pg_class c where c.oid = 'audit.log'::regclass) = r.oid
        ) problems
        where ${runtimeRoles('r')}
        order by 1, 2`,
    )) {
      add('DB006-audit-log-writable', r.object, `${r.problem}: the audit log must be append-only (written only by the audit trigger)`,
        `revoke all on audit.log from ${r.object}; (in a new migration; only xms_owner owns it)`);
    }
    for (const r of await rows(
      db,
      `select 'audit.log' as object, 'row level security is not forced on the audit log' as problem
         from pg_catalog.pg_class c where c.oid = 'audit.log'::regclass and not (c.relrowsecurity and c.relforcerowsecurity)`,
    )) {
      add('DB006-audit-log-writable', r.object, r.problem, 'alter table audit.log enable row level security; alter table audit.log force row level security;');
    }
  }

  // DB016: TRUNCATE ignores RLS; TRIGGER lets a role attach code to a table
  for (const r of await rows(
    db,
    `select pg_catalog.format('%I.%I', n.nspname, c.relname) as object,
            string_agg(distinct r.rolname || ' ' || priv, ', ' order by r.rolname || ' ' || priv) as problem
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      cross join pg_catalog.pg_roles r
      cross join unnest(array['TRUNCATE', 'TRIGGER']) as priv
      where c.relkind in ('r', 'p') and ${APP_SCHEMA} and ${runtimeRoles('r')}
        and pg_catalog.has_table_privilege(r.oid, c.oid, priv)
      group by 1
      order by 1`,
  )) {
    add('DB016-truncate-or-trigger-granted', r.object, `granted to runtime/request roles: ${r.problem} (TRUNCATE empties every tenant's rows, RLS does not apply to it)`,
      `revoke truncate, trigger on ${r.object} from <role>; (in a new migration)`);
  }

  // DB007: the runtime role and the request roles
  for (const r of await rows(
    db,
    `select r.rolname::text as object, problem
       from pg_catalog.pg_roles r
      cross join lateral (
        select 'is a superuser' as problem where r.rolsuper
        union all select 'has BYPASSRLS' where r.rolbypassrls
        union all select 'inherits its request roles (must be NOINHERIT)' where r.rolname = 'xms_app' and r.rolinherit
        union all select 'owns ' || count(*) || ' relation(s)' from pg_catalog.pg_class c where c.relowner = r.oid having count(*) > 0
        union all select 'owns ' || count(*) || ' function(s)' from pg_catalog.pg_proc p where p.proowner = r.oid having count(*) > 0
        union all select 'owns ' || count(*) || ' schema(s)' from pg_catalog.pg_namespace s where s.nspowner = r.oid having count(*) > 0
        union all select 'can SET ROLE ' || q.rolname || case when q.rolname = 'xms_owner' then ' (the owner of every table: it can disable RLS)' else ' (superuser or BYPASSRLS)' end
          from pg_catalog.pg_roles q
         where q.oid <> r.oid and (q.rolname = 'xms_owner' or q.rolsuper or q.rolbypassrls)
           and not r.rolsuper and pg_catalog.pg_has_role(r.oid, q.oid, 'MEMBER')
      ) problems
      where ${runtimeRoles('r')}
      order by 1, 2`,
  )) {
    add('DB007-runtime-role-privileged', r.object, `the runtime/request role ${r.problem}`,
      r.problem.startsWith('owns')
        ? `alter ... owner to xms_owner for everything ${r.object} owns (in a new migration)`
        : `alter role ${r.object} nosuperuser nobypassrls${r.object === 'xms_app' ? ' noinherit' : ''}; (as a superuser)`);
  }

  // DB008-DB011: SECURITY DEFINER functions
  const exposed = [...new Set(['public', 'app', ...options.exposedSchemas])];
  for (const r of await rows(
    db,
    `select p.oid::regprocedure::text as object, problem
       from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
      cross join lateral (
        select 'DB008' as problem
         where not exists (select from unnest(coalesce(p.proconfig, '{}')) cfg where cfg like 'search\\_path=%')
        union all select 'DB009' where pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')
        union all select 'DB010:' || n.nspname where n.nspname in (${list(exposed)})
        union all
        select 'DB011:' || string_agg(r.rolname::text, ', ' order by r.rolname)
          from pg_catalog.pg_roles r
         where p.oid::regprocedure::text not in (${list(ALLOWED_DEFINER_FUNCTIONS)})
           and ${runtimeRoles('r')}
           and pg_catalog.has_function_privilege(r.oid, p.oid, 'EXECUTE')
        having count(*) > 0
        union all
        -- a trigger runs its function whoever fires it (EXECUTE is checked only at CREATE TRIGGER)
        select 'DB011T:' || string_agg(distinct t.tgrelid::regclass::text, ', ')
          from pg_catalog.pg_trigger t
         where t.tgfoid = p.oid and not t.tgisinternal
           and not (${Object.entries(ALLOWED_DEFINER_TRIGGERS)
             .map(([fn, table]) => `(p.oid::regprocedure::text = ${list([fn])}${table ? ` and t.tgrelid = pg_catalog.to_regclass(${list([table])})` : ''})`)
             .join(' or ')})
        having count(*) > 0
      ) problems
      where p.prosecdef and ${APP_SCHEMA} and ${notExtension('p.oid', 'pg_proc')}
      order by 1, 2`,
  )) {
    const [code, detail] = r.problem.split(/:(.*)/s) as [string, string | undefined];
    if (code === 'DB008') {
      add('DB008-definer-search-path', r.object, 'SECURITY DEFINER function without a pinned search_path (a caller can shadow what it calls)',
        `alter function ${r.object} set search_path = ''; and schema-qualify what it uses`);
    } else if (code === 'DB009') {
      add('DB009-definer-public-execute', r.object, 'SECURITY DEFINER function executable by PUBLIC',
        `revoke execute on function ${r.object} from public;`);
    } else if (code === 'DB010') {
      add('DB010-definer-exposed-schema', r.object, `SECURITY DEFINER function in the exposed schema ${detail}`,
        'move it to an unexposed schema (app_private, audit) or make it SECURITY INVOKER');
    } else if (code === 'DB011T') {
      add('DB011-definer-callable', r.object,
        `SECURITY DEFINER trigger function fired by writes on ${detail}: it runs with its owner's rights for every caller and skips RLS`,
        'make the trigger function SECURITY INVOKER so RLS applies to what it does (only audit.log_changes(), and app_private.revoke_membership_sessions() on app.memberships, may be definer triggers)');
    } else {
      add('DB011-definer-callable', r.object,
        `SECURITY DEFINER function executable by ${detail}: it runs with its owner's rights and skips RLS for them`,
        'make it SECURITY INVOKER so RLS applies (or revoke execute from the request roles and give it its own authorization check)');
    }
  }

  // DB023: the auth subsystem's role acts only with the server's auth key. The role is joined by its
  // oid: an app without xms_auth gives no row (SQL does not promise to short-circuit, and
  // has_table_privilege() throws on a role name that does not exist).
  for (const r of await rows(
    db,
    `select pg_catalog.format('%I.%I', n.nspname, c.relname) as object, 'gate' as problem
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      cross join (select r.oid as auth from pg_catalog.pg_roles r where r.rolname = 'xms_auth') a
      where c.relkind in ('r', 'p', 'v', 'm') and ${APP_SCHEMA} and ${notExtension('c.oid', 'pg_class')}
        and (pg_catalog.has_table_privilege(a.auth, c.oid, 'SELECT') or pg_catalog.has_table_privilege(a.auth, c.oid, 'INSERT')
             or pg_catalog.has_table_privilege(a.auth, c.oid, 'UPDATE') or pg_catalog.has_table_privilege(a.auth, c.oid, 'DELETE'))
        and not (c.relkind in ('r', 'p') and c.relrowsecurity and exists (
              select from pg_catalog.pg_policy p
               where p.polrelid = c.oid and not p.polpermissive and p.polcmd = '*'
                 and (p.polroles = '{0}' or a.auth = any (p.polroles))
                 and pg_catalog.lower(pg_catalog.regexp_replace(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '\\s', '', 'g')) = ${list([AUTH_KEY_CHECK])}
                 and pg_catalog.lower(pg_catalog.regexp_replace(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '\\s', '', 'g')) = ${list([AUTH_KEY_CHECK])}))
      order by 1`,
  )) {
    add('DB023-auth-key-not-required', r.object,
      'xms_auth has a right on it without the restrictive auth-key policy: any SQL on the app connection can switch to xms_auth and use that right',
      `create policy auth_key_required on ${r.object} as restrictive for all to xms_auth using ((select app_private.auth_key_held())) with check ((select app_private.auth_key_held())); (in a new migration), or revoke the right`);
  }

  // DB024: the auth key is the server's alone (src/db/auth-key.ts): the owner registers one, at deploy.
  // A key a migration registers is known to whoever reads the repository; a second one is a second way in.
  const keys = (
    await db.query<{ readable: boolean }>(
      `select pg_catalog.has_table_privilege(k.oid, 'SELECT') as readable
         from (select pg_catalog.to_regclass('app_private.auth_keys') as oid) k where k.oid is not null`,
    )
  ).rows[0];
  if (keys?.readable) {
    const n = Number((await db.query<{ n: string }>('select count(*) as n from app_private.auth_keys')).rows[0]!.n);
    const allowed = options.authKeysAllowed ?? 1;
    if (n > allowed) {
      add('DB024-auth-key-extra', 'app_private.auth_keys',
        allowed === 0
          ? `the migrations register ${n} auth key(s): a key written in the repository lets any SQL on the app connection act as xms_auth`
          : `${n} auth keys are registered (one is the server's): each lets SQL that knows it act as xms_auth`,
        allowed === 0
          ? 'remove the insert from the migration; the server\'s key is registered by src/db/migrate.ts (XMS_APP_PASSWORD) or npm run dev'
          : 'run src/db/migrate.ts with XMS_APP_PASSWORD set: it keeps only the key of that password (src/db/auth-key.ts)');
    }
  }

  // DB012: views
  for (const r of await rows(
    db,
    `select pg_catalog.format('%I.%I', n.nspname, c.relname) as object, c.relkind::text as problem
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('v', 'm') and ${APP_SCHEMA} and ${notExtension('c.oid', 'pg_class')}
        and not coalesce(c.reloptions && array['security_invoker=true', 'security_invoker=on', 'security_invoker=1', 'security_invoker=yes'], false)
      order by 1`,
  )) {
    if (r.problem === 'm') {
      add('DB012-view-not-security-invoker', r.object, 'materialized view: its rows are a copy outside RLS', 'keep it in an unexposed schema with no grant to request roles, or use a view', 'warning');
    } else {
      add('DB012-view-not-security-invoker', r.object, "view without security_invoker: it reads with its owner's rights, skipping RLS",
        `alter view ${r.object} set (security_invoker = true);`);
    }
  }

  // DB022: a foreign key whose columns lead no index (a delete or key update on the referenced table
  // scans the referencing one; Supabase's linter: unindexed_foreign_keys)
  for (const r of await rows(
    db,
    `select pg_catalog.format('%I.%I', n.nspname, c.relname) as object,
            con.conname || ' (' || (select string_agg(a.attname, ', ' order by k.ord) from unnest(con.conkey) with ordinality k(attnum, ord)
                                   join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum)
              || ') references ' || con.confrelid::regclass::text as problem
       from pg_catalog.pg_constraint con
       join pg_catalog.pg_class c on c.oid = con.conrelid
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where con.contype = 'f' and ${APP_SCHEMA} and ${notExtension('c.oid', 'pg_class')}
        and not exists (
          select from pg_catalog.pg_index i
           where i.indrelid = con.conrelid
             and (select array_agg(x order by x) from unnest((i.indkey::int2[])[0:pg_catalog.cardinality(con.conkey) - 1]) x)
                 = (select array_agg(x order by x) from unnest(con.conkey) x))
      order by 1, 2`,
  )) {
    const columns = /\((.*)\) references/.exec(r.problem)?.[1] ?? '';
    add('DB022-foreign-key-unindexed', r.object, `foreign key ${r.problem} leads no index: a delete on the referenced table scans this one`,
      `create index on ${r.object} (${columns}); (in a new migration)`);
  }

  // DB013 / DB014: policy shape
  const policies = (
    await db.query<{ tbl: string; policyname: string; relid: number; qual: string | null; with_check: string | null; columns: string[] | string; indexed: string[] | string }>(
      `select pg_catalog.format('%I.%I', p.schemaname, p.tablename) as tbl, p.policyname::text, c.oid::int as relid, p.qual, p.with_check,
              array(select a.attname::text from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
              array(select a.attname::text from pg_catalog.pg_index i join pg_catalog.pg_attribute a
                        on a.attrelid = i.indrelid and a.attnum = i.indkey[0] where i.indrelid = c.oid) as indexed
         from pg_catalog.pg_policies p
         join pg_catalog.pg_namespace n on n.nspname = p.schemaname
         join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
        where ${APP_SCHEMA}
        order by 1, 2`,
    )
  ).rows;
  for (const p of policies) {
    const object = `${p.tbl} policy ${p.policyname}`;
    const columns = new Set(arr(p.columns));
    const indexed = new Set(arr(p.indexed));
    const used = new Set<string>();
    for (const expr of [p.qual, p.with_check]) {
      if (!expr) continue;
      // only USING filters rows to read (WITH CHECK tests the one new row: no scan)
      if (expr === p.qual) for (const c of outerIdentifiers(expr)) if (columns.has(c)) used.add(c);
      for (const helper of unwrappedHelpers(expr)) {
        add('DB014-helper-not-wrapped', object, `calls ${helper}() per row; wrap it as (select ${helper}()) so it runs once per statement`,
          'fix the policy source (permissions.yml compiles wrapped calls); a hand-written policy must use (select fn())');
      }
      if (/\bcurrent_setting\s*\(/i.test(withoutSubqueries(expr.replace(/'(?:[^']|'')*'/g, "''")))) {
        add('DB014-helper-not-wrapped', object, 'calls current_setting() per row; wrap the expression as (select ...) so it runs once per statement',
          "write the policy as (select current_setting('...', true)) (Supabase's linter: auth_rls_initplan)");
      }
    }
    for (const c of [...used].sort()) {
      if (!indexed.has(c)) {
        add('DB013-policy-column-unindexed', `${p.tbl}.${c}`, `policy ${p.policyname} filters on ${c}, which leads no index (a per-row scan)`,
          `create index on ${p.tbl} (${c}); (in a new migration)`);
      }
    }
  }
  return dedupe(out);
}

interface LiveRule {
  table_name: string;
  exempt_reason: string | null;
  redact: string[] | string;
  ignore_updates_of: string[] | string;
}

/**
 * DB020 / DB021: the audit rules of the live database (audit.table_rules, what audit.log_changes()
 * redacts and ignores) against permissions.yml, and secret-looking columns the audit log would copy.
 */
async function auditRuleFindings(db: Queryable, audit: AuditRules | undefined): Promise<Finding[]> {
  const out: Finding[] = [];
  const hasRules = (await db.query<{ ok: boolean }>(`select pg_catalog.to_regclass('audit.table_rules') is not null as ok`)).rows[0]?.ok;
  const live = new Map<string, { exempt: string | null; redact: string[]; ignore: string[] }>();
  if (hasRules) {
    for (const r of (await db.query<LiveRule>('select table_name, exempt_reason, redact, ignore_updates_of from audit.table_rules')).rows) {
      live.set(r.table_name, { exempt: r.exempt_reason, redact: arr(r.redact).sort(), ignore: arr(r.ignore_updates_of).sort() });
    }
  } else if (audit) {
    out.push({
      id: 'DB021-audit-rules-drift', severity: 'error', object: 'audit.table_rules',
      message: 'the database has no audit.table_rules: the audit trigger redacts nothing permissions.yml declares',
      fix: 'apply the current xms base migration and npm run db:migrate',
    });
  }
  const redacted = (table: string, column: string) => live.get(table)?.redact.includes(column) ?? false;

  // declared secrets the live trigger would copy
  for (const [table, columns] of Object.entries(audit?.redact ?? {}).sort()) {
    for (const column of columns) {
      if (!redacted(table, column)) {
        out.push({
          id: 'DB020-secret-column-copied', severity: 'error', object: `${table}.${column}`,
          message: 'declared secret in permissions.yml (audit.redact), but the database does not redact it: audit.log copies its value',
          fix: 'run npm run db:migrate (the compiled permissions migration writes audit.table_rules); never edit audit.table_rules by hand',
        });
      }
    }
  }
  // columns named like secrets, in audited tables of the private schemas, that nothing redacts
  const columns = (
    await db.query<{ tbl: string; col: string }>(
      `select pg_catalog.format('%I.%I', n.nspname, c.relname) as tbl, a.attname::text as col
         from pg_catalog.pg_attribute a
         join pg_catalog.pg_class c on c.oid = a.attrelid
         join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and n.nspname in (${list(SECRET_SCHEMAS)}) and a.attnum > 0 and not a.attisdropped
        order by 1, 2`,
    )
  ).rows;
  for (const { tbl, col } of columns) {
    if (!looksSecret(col) || redacted(tbl, col) || audit?.exempt[tbl] !== undefined) continue;
    if (audit?.redact[tbl]?.includes(col)) continue; // reported above
    out.push({
      id: 'DB020-secret-column-copied', severity: 'error', object: `${tbl}.${col}`,
      message: 'named like a secret, and audit.log would copy its value: neither permissions.yml (audit.redact) nor the database redacts it',
      fix: `add it to permissions.yml: audit: redact: ${tbl}: [${col}] and run npm run db:migrate (redacting a column that is not secret only hides its value from the log)`,
    });
  }

  // the live rules equal permissions.yml
  if (audit && hasRules) {
    const expected = new Map<string, { exempt: string | null; redact: string[]; ignore: string[] }>();
    for (const t of new Set([...Object.keys(audit.exempt), ...Object.keys(audit.redact), ...Object.keys(audit.ignoreUpdatesOf)])) {
      expected.set(t, { exempt: audit.exempt[t] ?? null, redact: [...(audit.redact[t] ?? [])].sort(), ignore: [...(audit.ignoreUpdatesOf[t] ?? [])].sort() });
    }
    const show = (r: { exempt: string | null; redact: string[]; ignore: string[] } | undefined) =>
      r ? `exempt: ${r.exempt ?? '-'}; redact: [${r.redact.join(', ')}]; ignore_updates_of: [${r.ignore.join(', ')}]` : 'nothing';
    for (const t of [...new Set([...expected.keys(), ...live.keys()])].sort()) {
      const e = expected.get(t);
      const l = live.get(t);
      if (show(e) === show(l)) continue;
      out.push({
        id: 'DB021-audit-rules-drift', severity: 'error', object: t,
        message: `the database's audit rules differ from permissions.yml: live ${show(l)}; permissions.yml ${show(e)}`,
        fix: 'change permissions.yml (audit:) and run npm run db:migrate; never edit audit.table_rules by hand',
      });
    }
  }
  return out;
}

/** SQL condition: role alias r is the runtime login role or a request role. */
function runtimeRoles(r: string): string {
  return `(${r}.rolname in ('xms_app', 'xms_anon', 'xms_auth', 'xms_request', 'anon', 'authenticated')
           or (${r}.rolname like 'xms\\_%' and ${r}.rolname <> 'xms_owner')
           or exists (select from pg_catalog.pg_auth_members m
                       where m.member = ${r}.oid and m.roleid = pg_catalog.to_regrole('xms_request')))`;
}

function arr(v: string[] | string): string[] {
  return Array.isArray(v) ? v : String(v).replace(/^\{|\}$/g, '').split(',').filter(Boolean);
}

/** The expression with every parenthesised sub-SELECT removed (columns there are another table's). */
export function withoutSubqueries(expr: string): string {
  let out = '';
  for (let i = 0; i < expr.length; i++) {
    if (expr[i] === '(' && /^\(\s*select\b/i.test(expr.slice(i, i + 12))) {
      let depth = 0;
      for (; i < expr.length; i++) {
        if (expr[i] === '(') depth++;
        else if (expr[i] === ')' && --depth === 0) break;
      }
      out += ' ';
      continue;
    }
    out += expr[i];
  }
  return out;
}

/** Bare identifiers (not qualified, not function names, not in string literals) outside sub-SELECTs. */
export function outerIdentifiers(expr: string): string[] {
  const text = withoutSubqueries(expr.replace(/'(?:[^']|'')*'/g, "''"));
  const found: string[] = [];
  const re = /(^|[^.\w"])("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)(?![\w$]*\s*\()(?!\s*\.)/gi;
  for (const m of text.matchAll(re)) {
    const id = m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replace(/""/g, '"') : m[2]!;
    found.push(id);
  }
  return found;
}

/** Identity helper calls not directly wrapped in a scalar sub-SELECT. */
export function unwrappedHelpers(expr: string): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(HELPER)) {
    const before = expr.slice(0, m.index);
    if (!/\(\s*select\s+$/i.test(before)) out.push(m[1]!);
  }
  return out;
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.id}|${f.object}|${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
