// xms add admin-function: what it writes, idempotence, refusals (one line, nothing written), --dry-run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { add, assertRefused, assertSnapshot, assertUnchanged, findFile, fingerprint, scaffold, type TempApp } from './helpers.js';

let app: TempApp;
let minimal: TempApp;
test.before(async () => {
  app = await scaffold(['admin']);
  minimal = await scaffold([]);
});
test.after(() => {
  app?.cleanup();
  minimal?.cleanup();
});

const ARGS = ['archive-old-records', '--description', 'Archives records older than a year.'];

test('--dry-run writes nothing', async () => {
  const before = fingerprint(app.dir);
  const lines = await add(app.dir, 'admin-function', [...ARGS, '--dry-run']);
  assert.match(lines[0]!, new RegExp(`would change ${lines.length - 1} files \\(dry run, nothing written\\)`));
  assert.ok(lines.length - 1 >= 4, lines.join('\n'));
  assertUnchanged(before, app.dir, 'dry run');
});

test('writes the route (admin scope, own guard), its test, the trail table and its matrix entry', async () => {
  const lines = await add(app.dir, 'admin-function', ARGS);
  assert.ok(lines.some((l) => /compiled supabase\/migrations\/\d{14}_xms_permissions\.sql/.test(l)), lines.join('\n'));
  assertSnapshot('admin-function', app.dir, 'src/routes/admin/archive-old-records.ts');
  assertSnapshot('admin-function', app.dir, 'test/admin/archive-old-records.test.ts');
  assertSnapshot('admin-function', app.dir, findFile(app.dir, /_xms_admin_operations\.sql$/));
  const route = readFileSync(join(app.dir, 'src/routes/admin/archive-old-records.ts'), 'utf8');
  assert.ok(route.includes("if (request.session?.role !== 'admin')"), 'server guard from the session');
  assert.ok(route.includes('request.withDb('), "the admin's request transaction");
  const index = readFileSync(join(app.dir, 'src/routes/admin/index.ts'), 'utf8');
  assert.match(index, /import \{ archiveOldRecordsAdminFunction \} from '\.\/archive-old-records\.js';\n\/\/ xms:admin-imports/);
  assert.match(index, /await app\.register\(archiveOldRecordsAdminFunction\);\n\s*\/\/ xms:admin-routes/);
  const matrix = parse(readFileSync(join(app.dir, 'permissions.yml'), 'utf8'));
  assert.equal(matrix.tables.admin_operations, { admin: { select: 'tenant', insert: 'tenant' } });
});

test('a second function reuses the trail table; second runs change nothing', async () => {
  const lines = await add(app.dir, 'admin-function', ['purge-sessions']);
  assert.ok(!lines.some((l) => l.includes('xms_admin_operations')), 'one trail migration');
  const before = fingerprint(app.dir);
  assert.equal(await add(app.dir, 'admin-function', ARGS), ['admin-function: nothing to change (already applied).']);
  assert.equal(await add(app.dir, 'admin-function', ['purge-sessions']), ['admin-function: nothing to change (already applied).']);
  assertUnchanged(before, app.dir, 'second runs');
});

test('works in an app without the admin feature (the base admin scope)', async () => {
  await add(minimal.dir, 'admin-function', ['rotate-keys']);
  const index = readFileSync(join(minimal.dir, 'src/routes/admin/index.ts'), 'utf8');
  assert.match(index, /await app\.register\(rotateKeysAdminFunction\);/);
});

test('bad input: one line, nothing written', async () => {
  await assertRefused(app.dir, 'admin-function', ['Archive'], /--name: invalid admin function name "Archive"/);
  await assertRefused(app.dir, 'admin-function', ['a_b'], /--name: invalid admin function name "a_b"/);
  await assertRefused(app.dir, 'admin-function', ['../evil'], /--name: invalid admin function name/);
  await assertRefused(app.dir, 'admin-function', ['users'], /reserved/);
  await assertRefused(app.dir, 'admin-function', [], /missing answer for "name" and no terminal to ask: pass --name/);
});

test.run();
