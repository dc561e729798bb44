// `xms check` on PGlite starts from a snapshot of the migrated database once the same migrations were
// checked twice; the findings are the ones of a full replay, and any change to a migration is a new key
// (the changed migration is applied and checked, never the snapshot of the old ones).
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCheck, type Report } from '../../lib/check/index.js';
import { scaffold } from './app.js';

delete process.env.DATABASE_URL;
delete process.env.XMS_CHECK_NO_CACHE;
// this suite is about the migrated snapshot: the findings cache would answer the repeated checks
process.env.XMS_CHECK_NO_FINDINGS_CACHE = '1';

const { appDir, cleanup } = scaffold('minimal');
test.after(cleanup);
// a node_modules folder: the check's cache lives in this app's node_modules/.cache/xms-check
mkdirSync(join(appDir, 'node_modules'));
const cache = join(appDir, 'node_modules', '.cache', 'xms-check');
const snapshots = () => (existsSync(cache) ? readdirSync(cache).filter((f) => /^migrated-.*\.tar\.gz$/.test(f)) : []);
const summary = (r: Report) => r.findings.map((f) => `${f.severity} ${f.id} ${f.object}: ${f.message}`).sort();

test('the second check of the same migrations writes the snapshot, the third starts from it with the same findings', async () => {
  const first = await runCheck(appDir, { groups: ['db'] });
  assert.equal(snapshots(), [], 'a set of migrations seen once is not dumped');
  const second = await runCheck(appDir, { groups: ['db'] });
  assert.is(snapshots().length, 1);
  const third = await runCheck(appDir, { groups: ['db'] });
  assert.is(first.errors, 0, summary(first).join('\n'));
  assert.equal(summary(second), summary(first));
  assert.equal(summary(third), summary(first));
});

test('a new migration is applied and checked although a snapshot of the others exists', async () => {
  assert.is(snapshots().length, 1);
  writeFileSync(join(appDir, 'supabase', 'migrations', '29990101000000_weaken.sql'), 'alter table app.records no force row level security;\n');
  const report = await runCheck(appDir, { groups: ['db'] });
  const errors = report.findings.filter((f) => f.severity === 'error').map((f) => `${f.id} ${f.object}`);
  assert.ok(errors.includes('DB001-rls-not-forced app.records'), errors.join(', '));
});

test.run();
