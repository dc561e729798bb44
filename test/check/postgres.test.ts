// run-tests: lock=postgres
/**
 * `xms check --database-url` on a real PostgreSQL (15 here): DATABASE_URL (a superuser), or a
 * throw-away cluster from scripts/pg-cluster.sh. A fresh database gets the app's migrations; the check
 * passes; then changes made directly in the live database (not in any migration) are caught: RLS no
 * longer forced, and a policy added by hand (drift: in the database, in neither the matrix nor the
 * migrations), an xms function redefined, a trigger disabled and a function reading a setting the server
 * does not own. Skipped, with the reason printed, without PostgreSQL.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyMigrations, migrationFiles } from '../../lib/check/database.js';
import { SUPABASE_SHIM } from '../../lib/check/supabase-shim.js';
import { formatReport, runCheck } from '../../lib/check/index.js';
import { scaffold } from './app.js';
import { databaseUrl, postgresServer, withClient } from '../helpers/postgres.js';

const server = postgresServer('check');
const url = server.url;
const skipReason = server.skipReason;

const dbName = `xms_check_${process.pid}`;
const supabaseDb = `xms_check_supabase_${process.pid}`;


let app: ReturnType<typeof scaffold> | undefined;

test.before(async () => {
  if (skipReason) return;
  app = scaffold('default');
  await withClient(url!, async (c) => {
    await c.query(`create database ${dbName}`);
    await c.query(`create database ${supabaseDb}`);
  });
});

test.after(async () => {
  if (url && !skipReason) {
    await withClient(url, async (c) => {
      await c.query(`drop database if exists ${dbName} with (force)`);
      await c.query(`drop database if exists ${supabaseDb} with (force)`);
    }).catch(() => {});
  }
  app?.cleanup();
  server.stop();
});

test('a migrated PostgreSQL database passes; live changes made outside the migrations are caught', async () => {
  if (skipReason) {
    console.log(`  skipped: ${skipReason}`);
    return;
  }
  const target = databaseUrl(url!, dbName);
  await withClient(target, async (c) => {
    const db = { query: (s: string, p?: unknown[]) => c.query(s, p), exec: async (s: string) => void (await c.query(s)), close: async () => {} };
    const applied = await applyMigrations(db, migrationFiles(join(app!.appDir, 'supabase', 'migrations')));
    assert.is(applied.failure, undefined, JSON.stringify(applied.failure));
  });

  const clean = await runCheck(app!.appDir, { databaseUrl: target, groups: ['db'] });
  assert.is(clean.database, 'postgres');
  assert.is(clean.errors, 0, formatReport(clean));

  await withClient(target, async (c) => {
    await c.query('alter table app.records no force row level security');
    await c.query('create policy sneaky on app.records for select to xms_member using (true)');
  });
  const report = await runCheck(app!.appDir, { databaseUrl: target, groups: ['db'] });
  const ids = report.findings.filter((f) => f.severity === 'error').map((f) => `${f.id} ${f.object}`);
  assert.ok(ids.includes('DB001-rls-not-forced app.records'), ids.join('\n'));
  assert.ok(ids.includes('DB003-policy-drift app.records policy sneaky'), ids.join('\n'));
});

test('on PostgreSQL: an xms function redefined, a trigger disabled and a setting read in the live database are caught', async () => {
  if (skipReason) {
    console.log(`  skipped: ${skipReason}`);
    return;
  }
  const target = databaseUrl(url!, dbName);
  await withClient(target, async (c) => {
    await c.query(`create or replace function app.current_tenant_id() returns uuid language sql stable security invoker set search_path = ''
                     as $$ select nullif(pg_catalog.current_setting('app.tenant_id', true), '')::uuid $$`);
    await c.query('alter table app.records disable trigger records_touch_updated_at');
    await c.query('alter event trigger xms_secure_new_tables disable');
  });
  const report = await runCheck(app!.appDir, { databaseUrl: target, groups: ['db'] });
  const ids = report.findings.filter((f) => f.severity === 'error').map((f) => `${f.id} ${f.object}`);
  assert.ok(ids.includes('DB017-function-drift function app.current_tenant_id()'), ids.join('\n'));
  assert.ok(ids.includes('DB018-trigger-drift trigger records_touch_updated_at on app.records'), ids.join('\n'));
  assert.ok(ids.includes('DB018-trigger-drift event trigger xms_secure_new_tables'), ids.join('\n'));
  assert.ok(ids.includes('DB019-function-reads-request-setting app.current_tenant_id()'), ids.join('\n'));
  // changed in the live database, not by a migration: the fix points at the xms migration
  const drift = report.findings.find((f) => f.id === 'DB017-function-drift')!;
  assert.match(drift.fix, '_xms_tables.sql');
});

test('on a Supabase-shaped database (auth.uid() exists) the helpers take their Supabase form: no false drift', async () => {
  if (skipReason) {
    console.log(`  skipped: ${skipReason}`);
    return;
  }
  const target = databaseUrl(url!, supabaseDb);
  await withClient(target, async (c) => {
    const db = { query: (s: string, p?: unknown[]) => c.query(s, p), exec: async (s: string) => void (await c.query(s)), close: async () => {} };
    await db.exec(SUPABASE_SHIM);
    const applied = await applyMigrations(db, migrationFiles(join(app!.appDir, 'supabase', 'migrations')));
    assert.is(applied.failure, undefined, JSON.stringify(applied.failure));
    const lang = await c.query(`select l.lanname from pg_proc p join pg_language l on l.oid = p.prolang where p.oid = 'app.current_tenant_id()'::regprocedure`);
    assert.is(lang.rows[0].lanname, 'plpgsql', 'the Supabase variant of the helper');
  });
  const report = await runCheck(app!.appDir, { databaseUrl: target, groups: ['db'] });
  assert.is(report.errors, 0, formatReport(report));
});

test.run();
