/**
 * `xms harden`: retrofits a project this tool did not create (Supabase or plain PostgreSQL).
 *
 *   xms harden --database-url <url> | --migrations <dir> [--schemas public,other] [--out <dir>] [--dry-run] [--json]
 *
 * Reads the current state (the live database, or the migrations applied in order to a fresh PGlite
 * with a minimal Supabase shim: roles anon / authenticated / service_role, auth.uid()), then writes ONE
 * migration (Supabase layout: <next version>_xms_harden.sql) that enables and forces RLS on every
 * table of the chosen schemas (default public), installs the audit schema, log and trigger functions
 * where absent, and adds the audit triggers everywhere (idempotent, like supa_audit's enable_tracking).
 * It prints which tables now have no policy (they fail closed, visibly). When everything is already
 * hardened it writes nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { newMigrationFileName } from '../../lib/matrix/migrations.js';
import { join, relative, resolve } from 'node:path';
import { applyMigrations, extensionsIn, migrationFiles, MissingModuleError, openPglite, openPostgres } from '../../lib/check/database.js';
import { SUPABASE_SHIM } from '../../lib/check/supabase-shim.js';
import type { Queryable } from '../../lib/check/types.js';

export class HardenError extends Error {
  override name = 'HardenError';
}

export interface HardenOptions {
  databaseUrl?: string;
  migrationsDir?: string;
  /** default ['public'] */
  schemas?: string[];
  /** where to write the migration (default: the migrations folder, else <cwd>/supabase/migrations) */
  outDir?: string;
  dryRun?: boolean;
  now?: Date;
}

export interface TableState {
  qualified: string;
  rlsEnabled: boolean;
  rlsForced: boolean;
  policies: number;
  auditTriggers: number;
}

export interface HardenResult {
  source: string;
  schemas: string[];
  tables: TableState[];
  /** tables that had something to fix */
  changed: string[];
  /** tables without any policy (closed to every role without BYPASSRLS once RLS is forced) */
  noPolicy: string[];
  /** the written (or, with dryRun, planned) migration: path relative to cwd and its SQL */
  migration?: { path: string; sql: string };
}

const STATE_SQL = `
  select pg_catalog.format('%I.%I', n.nspname, c.relname) as qualified,
         c.relrowsecurity as "rlsEnabled", c.relforcerowsecurity as "rlsForced",
         (select count(*)::int from pg_catalog.pg_policy p where p.polrelid = c.oid) as policies,
         (select count(*)::int from pg_catalog.pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal
             and t.tgname in ('xms_audit_insert', 'xms_audit_update', 'xms_audit_delete') and t.tgenabled <> 'D') as "auditTriggers"
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.relkind in ('r', 'p') and not c.relispartition and n.nspname = any($1::text[])
     and not exists (select from pg_catalog.pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
   order by 1`;

async function readState(db: Queryable, schemas: string[]): Promise<{ tables: TableState[]; auditInstalled: boolean }> {
  const tables = (await db.query<TableState>(STATE_SQL, [schemas])).rows;
  const audit = await db.query<{ ok: boolean }>(
    `select pg_catalog.to_regprocedure('audit.log_changes()') is not null
        and pg_catalog.to_regprocedure('audit.enable_tracking(regclass, text)') is not null
        and pg_catalog.to_regclass('audit.log') is not null as ok`,
  );
  return { tables, auditInstalled: Boolean(audit.rows[0]?.ok) };
}

const sqlLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

export async function harden(cwd: string, options: HardenOptions): Promise<HardenResult> {
  if (!options.databaseUrl === !options.migrationsDir) throw new HardenError('give exactly one of --database-url <url> or --migrations <dir>.');
  const schemas = options.schemas?.length ? options.schemas : ['public'];
  for (const s of schemas) if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(s)) throw new HardenError(`--schemas: "${s}" is not a plain schema name.`);
  const migrationsDir = options.migrationsDir ? resolve(cwd, options.migrationsDir) : undefined;
  if (migrationsDir && !existsSync(migrationsDir)) throw new HardenError(`${options.migrationsDir}: no such folder.`);
  const outDir = resolve(cwd, options.outDir ?? options.migrationsDir ?? join('supabase', 'migrations'));

  let db: Queryable | undefined;
  let state: Awaited<ReturnType<typeof readState>>;
  const source = options.databaseUrl ? 'the database at DATABASE_URL' : `the migrations in ${relative(cwd, migrationsDir!) || '.'}`;
  try {
    if (options.databaseUrl) {
      db = await openPostgres(cwd, options.databaseUrl);
    } else {
      const files = migrationFiles(migrationsDir!);
      db = await openPglite(cwd, { extensions: extensionsIn(files) });
      await db.exec(SUPABASE_SHIM);
      const applied = await applyMigrations(db, files, { relativeTo: cwd });
      if (applied.failure) {
        throw new HardenError(`${applied.failure.file} does not apply to a fresh PostgreSQL (PGlite): ${applied.failure.message}; run xms harden --database-url against the project's database instead.`);
      }
    }
    state = await readState(db, schemas);
    // an audit.log of another shape would make the installed trigger fail every write: refuse
    const columns = (
      await db.query<{ name: string }>(
        `select a.attname::text as name from pg_catalog.pg_attribute a
          where a.attrelid = pg_catalog.to_regclass('audit.log') and a.attnum > 0 and not a.attisdropped`,
      )
    ).rows.map((r) => r.name);
    const needed = ['actor_id', 'tenant_id', 'db_role', 'action', 'table_name', 'row_key', 'old_row', 'new_row'];
    const missing = needed.filter((c) => !columns.includes(c));
    if (columns.length > 0 && missing.length > 0 && !state.auditInstalled) {
      throw new HardenError(`audit.log already exists with another shape (no ${missing.join(', ')}); rename it or drop it before running xms harden.`);
    }
  } catch (error) {
    if (error instanceof MissingModuleError) throw new HardenError(error.message);
    throw error;
  } finally {
    await db?.close().catch(() => {});
  }

  const needs = (t: TableState) => !t.rlsEnabled || !t.rlsForced || t.auditTriggers < 3;
  const changed = state.tables.filter(needs).map((t) => t.qualified);
  const noPolicy = state.tables.filter((t) => t.policies === 0).map((t) => t.qualified);
  const result: HardenResult = { source, schemas, tables: state.tables, changed, noPolicy };
  if (changed.length === 0 && state.auditInstalled) return result;

  const describe = (t: TableState) =>
    [
      !t.rlsEnabled ? 'RLS was disabled' : !t.rlsForced ? 'RLS was enabled, not forced' : 'RLS was already forced',
      t.auditTriggers < 3 ? `${t.auditTriggers}/3 audit triggers` : 'audited',
      t.policies === 0 ? 'NO POLICY' : `${t.policies} ${t.policies === 1 ? 'policy' : 'policies'}`,
    ].join('; ');
  const { TemplateRenderer } = await import('../../lib/engine/render.js');
  const { builtinTemplatesDir, packageRoot } = await import('../../lib/engine/paths.js');
  const sql = new TemplateRenderer([]).render(readFileSync(join(builtinTemplatesDir(), 'harden', 'migration.sql.hbs'), 'utf8'), {
    xmsVersion: JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version,
    source,
    schemaList: schemas.map((s) => `schema ${s}`).join(', '),
    schemaLiterals: schemas.map(sqlLiteral).join(', '),
    noPolicy,
    tables: state.tables.map((t) => ({ qualified: t.qualified, literal: t.qualified.replace(/'/g, "''"), state: describe(t) })),
  });
  const fileName = newMigrationFileName(migrationFiles(outDir), 'xms_harden', options.now);
  const path = join(outDir, fileName);
  if (!options.dryRun) {
    const { applyChanges } = await import('../../lib/engine/changes.js');
    applyChanges(outDir, [{ path: fileName, after: sql }]);
  }
  result.migration = { path: relative(cwd, path), sql };
  return result;
}

export function formatHarden(result: HardenResult, dryRun = false): string {
  const lines: string[] = [];
  lines.push(`xms harden: ${result.tables.length} table(s) in ${result.schemas.join(', ')} (from ${result.source})`);
  if (!result.migration) {
    lines.push('  every table already has RLS enabled and forced and its audit triggers: nothing to write.');
  } else {
    lines.push(`  ${dryRun ? 'would write' : 'wrote'} ${result.migration.path}`);
    for (const t of result.changed) lines.push(`    hardened: ${t}`);
  }
  if (result.noPolicy.length) {
    lines.push(`  ${result.noPolicy.length} table(s) have NO policy: with RLS forced they are closed to every role without BYPASSRLS (fail closed).`);
    lines.push('  Write the policies they need:');
    for (const t of result.noPolicy) lines.push(`    no policy: ${t}`);
  } else {
    lines.push('  every table has at least one policy.');
  }
  if (result.migration && !dryRun) lines.push('  apply it with `supabase db push` (or your migrator), then run it again: it will find nothing to do.');
  return lines.join('\n');
}

export async function hardenCommand(args: string[], cwd: string): Promise<number> {
  const options: HardenOptions = {};
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new HardenError(`${flag} needs a value.`);
      return v;
    };
    if (flag === '--database-url') options.databaseUrl = value();
    else if (flag === '--migrations') options.migrationsDir = value();
    else if (flag === '--schemas' || flag === '--schema') options.schemas = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (flag === '--out') options.outDir = value();
    else if (flag === '--dry-run') options.dryRun = true;
    else if (flag === '--json') json = true;
    else throw new HardenError(`unknown option ${a} (xms harden --database-url <url> | --migrations <dir> [--schemas a,b] [--out dir] [--dry-run] [--json]).`);
  }
  const result = await harden(cwd, options);
  if (json) console.log(JSON.stringify({ ...result, migration: result.migration?.path }, null, 2));
  else console.log(formatHarden(result, options.dryRun));
  return 0;
}
