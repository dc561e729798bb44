// run-tests: lock=postgres
/**
 * `xms harden --database-url` on a real PostgreSQL (15 here): the brief's fixture (with the Supabase
 * shim) in a fresh database; harden reads the live state, writes one migration; applied, every table
 * has RLS forced and its audit triggers; a second run writes nothing. DATABASE_URL (a superuser) or a
 * throw-away cluster from scripts/pg-cluster.sh; skipped, with the reason printed, without PostgreSQL.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { migrationFiles } from '../../lib/check/database.js';
import { harden } from '../../generators/harden/harden.js';
import { SUPABASE_SHIM } from '../../lib/check/supabase-shim.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { postgresServer, withClient } from '../helpers/postgres.js';

const server = postgresServer('harden');
const url = server.url;
const skipReason = server.skipReason;

const dbName = `xms_harden_${process.pid}`;
const target = () => {
  const u = new URL(url!);
  u.pathname = `/${dbName}`;
  return u.toString();
};


const root = mkdtempSync(join(tmpdir(), 'xms-harden-pg-out-'));

test.after(async () => {
  if (url && !skipReason) await withClient(url, (c) => c.query(`drop database if exists ${dbName} with (force)`)).catch(() => {});
  rmSync(root, { recursive: true, force: true });
  server.stop();
});

test('harden --database-url: one migration from the live state; applied, everything is forced and audited; then nothing to do', async () => {
  if (skipReason) {
    console.log(`  skipped: ${skipReason}`);
    return;
  }
  await withClient(url!, (c) => c.query(`create database ${dbName}`));
  await withClient(target(), async (c) => {
    await c.query(SUPABASE_SHIM);
    for (const m of migrationFiles(join(REPO_ROOT, 'test', 'harden', 'fixtures', 'migrations'))) await c.query(readFileSync(m.file, 'utf8'));
  });
  const out = join(root, 'supabase', 'migrations');
  const first = await harden(root, { databaseUrl: target(), outDir: out });
  assert.is(first.tables.length, 8);
  assert.is(first.noPolicy.length, 6);
  assert.ok(first.migration);
  await withClient(target(), async (c) => {
    await c.query(readFileSync(join(root, first.migration!.path), 'utf8'));
    await c.query(readFileSync(join(root, first.migration!.path), 'utf8')); // twice: idempotent
    const r = await c.query<{ t: string; ok: boolean; triggers: number }>(
      `select c.relname as t, c.relrowsecurity and c.relforcerowsecurity as ok,
              (select count(*)::int from pg_trigger g where g.tgrelid = c.oid and g.tgname like 'xms\\_audit\\_%') as triggers
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r'`,
    );
    assert.is(r.rows.length, 8);
    for (const row of r.rows) assert.ok(row.ok && row.triggers === 3, JSON.stringify(row));
  });
  const second = await harden(root, { databaseUrl: target(), outDir: out });
  assert.is(second.migration, undefined);
  assert.equal(second.changed, []);
  assert.is(readdirSync(out).length, 1);
});

test.run();
