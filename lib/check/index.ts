/**
 * `xms check`: proves the invariants of a generated app on its repo and on a database.
 *
 *   xms check [--json] [--cwd dir] [--database-url url] [--skip-db]
 *
 * Database: DATABASE_URL's (as given, else from the environment), or a fresh in-memory PGlite with
 * supabase/migrations applied in order (the compiled permissions migration included). Exit code 1 on
 * any error finding. See ./catalog.ts (and the README) for every check id.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CHECKS } from './catalog.js';
import { extensionsIn, migrationFiles, openMigratedPglite, openPostgres } from './database.js';
import { APP_SCHEMA, SYSTEM_SCHEMAS, checkDatabase } from './db-checks.js';
import { comparePolicies, expectedPolicies, readPolicies } from './drift.js';
import { checkSettingReads, compareOwnedObjects, readObjects } from './functions.js';
import { SUPABASE_SHIM } from './supabase-shim.js';
import { checkBundle, checkEnvFiles } from './repo-checks.js';
import { checkServer } from './server/index.js';
import { findingsKeys, readFindings, writeFindings, type CachedPart } from './findings-cache.js';
import type { AuditRules } from '../matrix/parse.js';
import type { CheckOptions, Finding, Queryable, Report } from './types.js';

export { CHECKS, CHECK_IDS, type CheckInfo } from './catalog.js';
export type { CheckOptions, Finding, Report, Severity } from './types.js';

/** Schemas listed in supabase/config.toml [api] schemas (served by PostgREST). */
export function exposedSchemas(appDir: string): string[] {
  const file = join(appDir, 'supabase', 'config.toml');
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const api = /^\[api\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(text);
  const m = api && /^\s*schemas\s*=\s*\[([^\]]*)\]/m.exec(api[1]!);
  return m ? [...m[1]!.matchAll(/"([^"]+)"|'([^']+)'/g)].map((x) => x[1] ?? x[2]!) : [];
}

const isAppSchema = (schema: string) => !SYSTEM_SCHEMAS.includes(schema) && !schema.startsWith('pg_');

async function databaseFindings(appDir: string, url: string | undefined): Promise<{ findings: Finding[]; kind: Report['database'] }> {
  const findings: Finding[] = [];
  const files = migrationFiles(join(appDir, 'supabase', 'migrations'));
  let compiledSql: string | undefined;
  let audit: AuditRules | undefined;
  try {
    const { compileApp } = await import('../matrix/write.js');
    // the package's cache only: nothing in the app (node_modules/.cache) decides what the check expects
    const compiled = await compileApp(appDir, { cache: 'package' });
    compiledSql = compiled.sql;
    audit = compiled.testData.audit;
  } catch (error) {
    findings.push({
      id: 'DB015-matrix-invalid',
      severity: 'error',
      object: 'permissions.yml',
      message: (error as Error).message,
      fix: 'fix permissions.yml (xms compile shows the same errors with their lines)',
    });
  }
  const options = { exposedSchemas: exposedSchemas(appDir), audit };
  let live: Queryable | undefined;
  let scratch: Queryable | undefined;
  try {
    if (url) {
      live = await openPostgres(appDir, url);
      findings.push(...(await checkDatabase(live, options)), ...(await checkSettingReads(live, { schemaCondition: APP_SCHEMA, ...options })));
      const livePolicies = await readPolicies(live);
      const liveObjects = await readObjects(live);
      const facts = (
        await live.query<{ supabase: boolean; superuser: boolean }>(
          `select exists (select from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                           where n.nspname = 'auth' and p.proname = 'uid' and p.pronargs = 0) as supabase,
                  (select rolsuper from pg_catalog.pg_roles where rolname = current_user) as superuser`,
        )
      ).rows[0];
      // where the live database has Supabase's auth.uid(), the migrations take their Supabase branch
      const opened = await openMigratedPglite(appDir, files, { extensions: extensionsIn(files), prelude: facts?.supabase ? SUPABASE_SHIM : undefined, relativeTo: appDir });
      scratch = opened.db;
      const applied = opened.applied;
      if (applied.failure) {
        findings.push(migrationFailure(applied.failure, 'the expected policies, functions and triggers cannot be computed'));
        return { findings, kind: 'postgres' };
      }
      findings.push(...compareOwnedObjects(liveObjects, applied.owned, { missingEventTriggerSeverity: facts?.superuser ? 'error' : 'warning' }));
      if (compiledSql !== undefined) {
        const expected = await expectedOrFinding(scratch, compiledSql, false, findings);
        if (expected) findings.push(...comparePolicies(livePolicies, expected, applied.policyOrigin, isAppSchema));
      }
      return { findings, kind: 'postgres' };
    }
    const opened = await openMigratedPglite(appDir, files, { extensions: extensionsIn(files), relativeTo: appDir });
    live = opened.db;
    const applied = opened.applied;
    if (applied.failure) {
      findings.push(migrationFailure(applied.failure, 'no database check could run'));
      return { findings, kind: 'pglite' };
    }
    // built from the migrations alone: no auth key may be registered (the owner registers the server's)
    findings.push(...(await checkDatabase(live, { ...options, authKeysAllowed: 0 })), ...(await checkSettingReads(live, { schemaCondition: APP_SCHEMA, ...options })));
    findings.push(...compareOwnedObjects(applied.objects, applied.owned));
    if (compiledSql !== undefined) {
      const livePolicies = await readPolicies(live);
      const expected = await expectedOrFinding(live, compiledSql, true, findings);
      if (expected) findings.push(...comparePolicies(livePolicies, expected, applied.policyOrigin, isAppSchema));
    }
    return { findings, kind: 'pglite' };
  } finally {
    await live?.close().catch(() => {});
    await scratch?.close().catch(() => {});
  }
}

async function expectedOrFinding(db: Queryable, sql: string, rollback: boolean, findings: Finding[]) {
  try {
    return await expectedPolicies(db, sql, { rollback });
  } catch (error) {
    findings.push({
      id: 'DB015-matrix-invalid',
      severity: 'error',
      object: 'permissions.yml',
      message: `the compiled matrix does not apply on top of the migrations: ${(error as Error).message}`,
      fix: 'run npm run db:migrate and fix what it reports (a table of the matrix missing from the migrations?)',
    });
    return undefined;
  }
}

function migrationFailure(failure: { file: string; message: string }, consequence: string): Finding {
  return {
    id: 'DB000-migrations-failed',
    severity: 'error',
    object: failure.file,
    message: `the migration fails on a fresh PostgreSQL (PGlite): ${failure.message}; ${consequence}`,
    fix: 'fix the migration (npm run db:migrate shows the same error)',
  };
}

/** checkServer(appDir) in a worker thread (./server-worker); its errors keep their name and message. */
function serverChecksInWorker(appDir: string): Promise<Finding[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./server-worker.js', import.meta.url), { workerData: { appDir } });
    worker.once('message', (message: { findings?: Finding[]; error?: { name: string; message: string; stack?: string } }) => {
      if (message.findings) resolve(message.findings);
      else {
        const error = new Error(message.error!.message);
        error.name = message.error!.name;
        error.stack = message.error!.stack;
        reject(error);
      }
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the server checks' worker exited with code ${code}`)));
  });
}

export async function runCheck(appDir: string, options: CheckOptions = {}): Promise<Report> {
  const started = performance.now();
  const groups = new Set(options.groups ?? ['db', 'server', 'repo']);
  const findings: Finding[] = [];
  let database: Report['database'] = 'skipped';
  const withDatabase = groups.has('db') && !options.skipDatabase;
  const url = withDatabase ? options.databaseUrl ?? (process.env.DATABASE_URL || undefined) : undefined;
  // findings of unchanged files (./findings-cache): never for a live database
  const cacheable = groups.has('server') || (withDatabase && !url);
  const keys = cacheable ? findingsKeys(appDir) : { server: undefined, pglite: undefined };
  const cached: CachedPart[] = [];
  const fromCache = (part: CachedPart) => {
    const hit = readFindings(appDir, part, keys[part]);
    if (hit) cached.push(part);
    return hit;
  };
  const cachedServer = groups.has('server') ? fromCache('server') : undefined;
  const cachedDb = withDatabase && !url ? fromCache('pglite') : undefined;
  // independent of the database: alongside it in a worker thread (built code; TypeScript sources run
  // under a loader that worker threads do not inherit), else here
  const inWorker = withDatabase && !cachedDb && !import.meta.url.endsWith('.ts');
  const server = !groups.has('server')
    ? Promise.resolve([])
    : cachedServer
      ? Promise.resolve(cachedServer)
      : inWorker
        ? serverChecksInWorker(appDir)
        : checkServer(appDir);
  server.catch(() => {}); // awaited below, after the database checks
  let dbFindings: Finding[] = [];
  if (withDatabase) {
    if (cachedDb) {
      dbFindings = cachedDb;
      database = 'pglite';
    } else {
      const db = await databaseFindings(appDir, url);
      dbFindings = db.findings;
      database = db.kind;
    }
  }
  findings.push(...dbFindings);
  const serverFindings = await server;
  findings.push(...serverFindings);
  const fresh: [CachedPart, Finding[]][] = [];
  if (groups.has('server') && !cachedServer) fresh.push(['server', serverFindings]);
  if (withDatabase && !url && !cachedDb) fresh.push(['pglite', dbFindings]);
  if (fresh.length) {
    const after = findingsKeys(appDir);
    for (const [part, list] of fresh) if (after[part] === keys[part]) writeFindings(appDir, part, keys[part], list);
  }
  if (groups.has('repo')) findings.push(...checkBundle(appDir), ...checkEnvFiles(appDir));
  const ran = CHECKS.filter((c) => groups.has(c.group) && !(c.group === 'db' && database === 'skipped')).map((c) => c.id);
  return {
    appDir,
    database,
    findings,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    ms: Math.round(performance.now() - started),
    ran,
    ...(cached.length ? { cached } : {}),
  };
}

export function formatReport(report: Report, options: { color?: boolean } = {}): string {
  const c = (code: number, s: string) => (options.color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const lines: string[] = [];
  const where = report.database === 'pglite' ? 'PGlite with the migrations' : report.database === 'postgres' ? 'DATABASE_URL' : 'skipped';
  lines.push(`xms check: ${report.appDir} (database: ${where})`);
  const order = { error: 0, warning: 1, info: 2 } as const;
  const sorted = [...report.findings].sort((a, b) => order[a.severity] - order[b.severity] || a.id.localeCompare(b.id) || a.object.localeCompare(b.object));
  for (const f of sorted) {
    const sev = f.severity === 'error' ? c(31, 'error  ') : f.severity === 'warning' ? c(33, 'warning') : c(36, 'info   ');
    lines.push(`  ${sev} ${c(1, f.id)}  ${f.object}`);
    lines.push(`          ${f.message}`);
    lines.push(`          fix: ${f.fix}`);
  }
  const infos = report.findings.length - report.errors - report.warnings;
  lines.push(
    `${report.errors === 0 ? c(32, 'ok') : c(31, 'FAILED')}: ${report.errors} error(s), ${report.warnings} warning(s), ${infos} info; ${report.ran.length} checks in ${(report.ms / 1000).toFixed(1)} s` +
      (report.cached?.length ? ` (${report.cached.map((p) => (p === 'pglite' ? 'database' : p)).join(' and ')} findings of unchanged files from the cache)` : ''),
  );
  return lines.join('\n');
}

/** The `xms check` command: returns the exit code. */
export async function checkCommand(args: string[], cwd: string): Promise<number> {
  let json = false;
  let databaseUrl: string | undefined;
  let skipDatabase = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') json = true;
    else if (a === '--skip-db') skipDatabase = true;
    else if (a === '--database-url') databaseUrl = args[++i];
    else if (a.startsWith('--database-url=')) databaseUrl = a.slice('--database-url='.length);
    else throw new Error(`unknown option for xms check: ${a}`);
  }
  if (!existsSync(join(cwd, 'package.json'))) throw new Error(`${cwd} has no package.json: run xms check in an app (or pass --cwd)`);
  const report = await runCheck(cwd, { databaseUrl, skipDatabase });
  if (json) console.log(JSON.stringify(report, null, 2));
  else console.log(formatReport(report, { color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR }));
  return report.errors > 0 ? 1 : 0;
}
