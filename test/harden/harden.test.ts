/**
 * `xms harden` on the brief's case (test/harden/fixtures/migrations): eight tables in public, RLS on
 * three of them (policies on two). One migration; afterwards every table has RLS enabled and forced
 * and its audit triggers, the audit log records writes, and the report lists the tables without a
 * policy. A second run writes nothing, and applying the migration twice changes nothing.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyMigrations, extensionsIn, migrationFiles, openPglite } from '../../lib/check/database.js';
import { checkSettingReads } from '../../lib/check/functions.js';
import { formatHarden, harden } from '../../generators/harden/harden.js';
import { SUPABASE_SHIM } from '../../lib/check/supabase-shim.js';
import { REPO_ROOT, runCli, XMS_BIN } from '../helpers/cli.js';

const FIXTURE = join(REPO_ROOT, 'test', 'harden', 'fixtures', 'migrations');
const ALL = ['admin_settings', 'clients', 'invoice_lines', 'invoices', 'notes', 'profiles', 'projects', 'user_roles'].map((t) => `public.${t}`);
const NO_POLICY = ['admin_settings', 'clients', 'invoice_lines', 'invoices', 'notes', 'projects'].map((t) => `public.${t}`);

let root = '';
let dir = '';

test.before(() => {
  root = mkdtempSync(join(tmpdir(), 'xms-harden-'));
  dir = join(root, 'supabase', 'migrations');
  cpSync(FIXTURE, dir, { recursive: true });
});

test.after(() => {
  rmSync(root, { recursive: true, force: true });
});

test('the fixture uses extensions (as Supabase projects do): PGlite loads its contrib builds', () => {
  assert.equal(extensionsIn(migrationFiles(FIXTURE)), ['citext', 'uuid-ossp']);
});

test('first run: one migration, every table hardened, the tables without policy reported', async () => {
  const result = await harden(root, { migrationsDir: 'supabase/migrations', now: new Date('2024-03-01T00:00:00Z') });
  assert.equal(result.tables.map((t) => t.qualified), ALL);
  assert.equal(result.changed, ALL);
  assert.equal(result.noPolicy, NO_POLICY);
  assert.ok(result.migration);
  assert.is(result.migration!.path, join('supabase', 'migrations', '20240301000000_xms_harden.sql'));
  const files = readdirSync(dir).sort();
  assert.equal(files, ['20230101000000_business.sql', '20230601000000_accounts.sql', '20240301000000_xms_harden.sql']);
  const text = formatHarden(result);
  for (const t of NO_POLICY) assert.match(text, `no policy: ${t}`);
  assert.not.match(text, 'no policy: public.profiles');
  // the five business tables had no RLS at all; of the three with RLS, admin_settings had no policy
  const before = new Map(result.tables.map((t) => [t.qualified, t]));
  assert.equal(ALL.filter((t) => before.get(t)!.rlsEnabled), ['public.admin_settings', 'public.profiles', 'public.user_roles']);
});

test('after the migration: RLS enabled and forced and the three audit triggers on all eight tables; writes are audited', async () => {
  const db = await openPglite(REPO_ROOT, { extensions: extensionsIn(migrationFiles(dir)) });
  try {
    await db.exec(SUPABASE_SHIM);
    const applied = await applyMigrations(db, migrationFiles(dir));
    assert.is(applied.failure, undefined, JSON.stringify(applied.failure));
    const rows = (
      await db.query<{ t: string; enabled: boolean; forced: boolean; triggers: number }>(
        `select format('%I.%I', n.nspname, c.relname) as t, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
                (select count(*)::int from pg_trigger g where g.tgrelid = c.oid and g.tgname like 'xms\\_audit\\_%') as triggers
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind = 'r' order by 1`,
      )
    ).rows;
    assert.equal(rows.map((r) => r.t), ALL);
    for (const r of rows) {
      assert.ok(r.enabled && r.forced, `${r.t}: RLS enabled and forced`);
      assert.is(r.triggers, 3, `${r.t}: audit triggers`);
    }
    // a bulk write is audited with the actor from the JWT claims, one row per affected row
    await db.exec(`begin; select set_config('request.jwt.claims', '{"sub":"11111111-1111-1111-1111-111111111111"}', true);
      insert into public.clients (name) values ('a'), ('b'); commit;`);
    const audit = (await db.query<{ action: string; actor_id: string; table_name: string }>(`select action, actor_id, table_name from audit.log order by id`)).rows;
    assert.is(audit.length, 2);
    assert.equal(audit[0], { action: 'INSERT', actor_id: '11111111-1111-1111-1111-111111111111', table_name: 'public.clients' });
    // a setting any role can set_config() names no actor: only the JWT claims PostgREST sets do
    await db.exec(`begin; select set_config('app.user_id', '22222222-2222-2222-2222-222222222222', true);
      insert into public.clients (name) values ('forged'); commit;`);
    const forged = (await db.query<{ actor_id: string | null }>(`select actor_id from audit.log order by id desc limit 1`)).rows[0]!;
    assert.is(forged.actor_id, null);
    assert.equal(await checkSettingReads(db, { schemaCondition: `n.nspname = 'audit'`, exposedSchemas: [] }), [], 'DB019 on the hardened audit functions');
    // the API roles cannot touch the log
    const priv = (await db.query<{ ok: boolean }>(`select has_table_privilege('authenticated', 'audit.log', 'UPDATE') or has_table_privilege('anon', 'audit.log', 'SELECT') as ok`)).rows[0]!;
    assert.is(priv.ok, false);
    // applying the same migration again changes nothing (idempotent)
    const before = (await db.query<{ n: number }>(`select count(*)::int as n from pg_trigger where tgname like 'xms\\_audit\\_%'`)).rows[0]!.n;
    const harden = migrationFiles(dir).find((m) => m.name === 'xms_harden')!;
    await db.exec(readFileSync(harden.file, 'utf8'));
    await db.exec('reset role');
    const after = (await db.query<{ n: number }>(`select count(*)::int as n from pg_trigger where tgname like 'xms\\_audit\\_%'`)).rows[0]!.n;
    assert.is(after, before);
    assert.is(after, 24);
  } finally {
    await db.close();
  }
});

test('second run: nothing to do, no new migration, the same tables reported without policy', async () => {
  const result = await harden(root, { migrationsDir: 'supabase/migrations' });
  assert.is(result.migration, undefined);
  assert.equal(result.changed, []);
  assert.equal(result.noPolicy, NO_POLICY);
  assert.is(readdirSync(dir).length, 3);
  assert.match(formatHarden(result), 'nothing to write');
});

test('the CLI: xms harden --migrations, and bad input gets one line and a non-zero exit', () => {
  const ok = runCli(XMS_BIN, ['harden', '--migrations', 'supabase/migrations'], { cwd: root });
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, 'nothing to write');
  const none = runCli(XMS_BIN, ['harden'], { cwd: root });
  assert.is(none.status, 1);
  assert.match(none.stderr, /exactly one of --database-url/);
  const bad = runCli(XMS_BIN, ['harden', '--migrations', 'nope'], { cwd: root });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /nope: no such folder/);
});

test('the harden generator (xms add harden / plop): plans one migration, then nothing', async () => {
  const gen = (await import('../../generators/harden/index.js')).default;
  const other = mkdtempSync(join(tmpdir(), 'xms-harden-gen-'));
  try {
    cpSync(FIXTURE, join(other, 'supabase', 'migrations'), { recursive: true });
    const answers = { 'database-url': '', migrations: 'supabase/migrations', schemas: 'public' };
    const plan = await gen.plan(other, answers);
    const changes = plan.changes;
    assert.is(changes.length, 1);
    assert.match(changes[0]!.path, /^supabase\/migrations\/\d{14}_xms_harden\.sql$/);
    assert.is(changes[0]!.before, undefined);
    const report = (plan.notes ?? []).join('\n');
    for (const t of NO_POLICY) assert.match(report, `no policy: ${t}`);
    writeFileSync(join(other, changes[0]!.path), changes[0]!.after);
    assert.equal((await gen.plan(other, answers)).changes, []);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test.run();
