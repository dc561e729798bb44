// `xms check` reuses the server and PGlite findings of an app whose inputs did not change
// (lib/check/findings-cache.ts). Any edit is a new key: an edited migration or source file is checked
// again and its weakening found; a source edit re-runs the server checks only, and the database part
// reads nothing but the inputs of its key (traced); a live database is never answered from the cache.
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCheck, type Report } from '../../lib/check/index.js';
import { findingsKeys, isDatabaseInput } from '../../lib/check/findings-cache.js';
import { scaffold } from './app.js';
import { traceFileReads } from '../helpers/fs-trace.js';

delete process.env.DATABASE_URL;
delete process.env.XMS_CHECK_NO_CACHE;

const { appDir, cleanup } = scaffold('default');
test.after(cleanup);
// a node_modules folder: the cache lives in this app's node_modules/.cache/xms-check
mkdirSync(join(appDir, 'node_modules'));
const cache = join(appDir, 'node_modules', '.cache', 'xms-check');
const entries = () => (existsSync(cache) ? readdirSync(cache).filter((f) => f.startsWith('findings-')) : []);
const summary = (r: Report) => r.findings.map((f) => `${f.severity} ${f.id} ${f.object}: ${f.message}`).sort();
const errors = (r: Report) => r.findings.filter((f) => f.severity === 'error').map((f) => `${f.id} ${f.object}`);
const migrations = join(appDir, 'supabase', 'migrations');
/** The migration that creates app.records (a file that existed when the findings were cached). */
const recordsMigration = () => {
  const name = readdirSync(migrations).find((f) => /create table (if not exists )?app\.records\b/i.test(readFileSync(join(migrations, f), 'utf8')));
  if (!name) throw new Error('no migration creates app.records');
  return join(migrations, name);
};

let clean: string[] = [];

test('the second check of unchanged files takes the server and database findings from the cache', async () => {
  const first = await runCheck(appDir, { groups: ['db', 'server'] });
  assert.is(first.errors, 0, summary(first).join('\n'));
  assert.is(first.cached, undefined);
  assert.is(entries().length, 2, entries().join(', '));
  const second = await runCheck(appDir, { groups: ['db', 'server'] });
  assert.equal(second.cached, ['server', 'pglite']);
  assert.equal(summary(second), summary(first));
  clean = summary(first);
});

test('an edited migration is applied and checked again: its weakening is found', async () => {
  const file = recordsMigration();
  const before = readFileSync(file, 'utf8');
  // the edit is in a migration that existed before (not a new file), at its end
  appendFileSync(file, '\nalter table app.records no force row level security;\n');
  try {
    const report = await runCheck(appDir, { groups: ['db', 'server'] });
    assert.not.ok(report.cached?.includes('pglite'), 'the database findings were taken from the cache');
    assert.ok(errors(report).includes('DB001-rls-not-forced app.records'), errors(report).join(', '));
  } finally {
    writeFileSync(file, before);
  }
  // the restored file is the content checked first: its findings again, from the cache
  const restored = await runCheck(appDir, { groups: ['db', 'server'] });
  assert.equal(restored.cached, ['server', 'pglite']);
  assert.equal(summary(restored), clean);
});

test('an edited source file is checked again: its weakening is found', async () => {
  const file = join(appDir, 'src', 'auth', 'sessions.ts');
  const before = readFileSync(file, 'utf8');
  assert.match(before, /httpOnly:\s*true/);
  writeFileSync(file, before.replace(/httpOnly:\s*true/, 'httpOnly: false'));
  try {
    const report = await runCheck(appDir, { groups: ['server'] });
    assert.is(report.cached, undefined);
    assert.ok(errors(report).some((e) => e.startsWith('SRV008-cookie-insecure')), errors(report).join(', '));
  } finally {
    writeFileSync(file, before);
  }
});

test('a source edit re-runs the server checks only (no PGlite), and finds its weakening', async () => {
  const file = join(appDir, 'src', 'auth', 'sessions.ts');
  const before = readFileSync(file, 'utf8');
  // not the content the test above checked (its server findings are cached)
  writeFileSync(file, `${before.replace(/httpOnly:\s*true/, 'httpOnly: false')}\n// edited\n`);
  try {
    const report = await runCheck(appDir, { groups: ['db', 'server'] });
    assert.equal(report.cached, ['pglite']);
    assert.is(report.database, 'pglite');
    assert.ok(errors(report).some((e) => e.startsWith('SRV008-cookie-insecure')), errors(report).join(', '));
  } finally {
    writeFileSync(file, before);
  }
});

test('every database input is in the database key, and a source file is not', () => {
  const base = findingsKeys(appDir);
  assert.ok(base.pglite && base.server);
  const inputs = ['permissions.yml', 'supabase/config.toml', ...readdirSync(migrations).map((f) => `supabase/migrations/${f}`)];
  for (const path of inputs) {
    assert.ok(isDatabaseInput(path), path);
    const file = join(appDir, path);
    const before = readFileSync(file);
    appendFileSync(file, ' ');
    try {
      const edited = findingsKeys(appDir);
      assert.is.not(edited.pglite, base.pglite, `editing ${path} kept the database key`);
      assert.is.not(edited.server, base.server, `editing ${path} kept the server key`);
    } finally {
      writeFileSync(file, before);
    }
  }
  // a new migration is a new key too
  const added = join(migrations, '29990101000000_added.sql');
  writeFileSync(added, 'select 1;\n');
  try {
    assert.is.not(findingsKeys(appDir).pglite, base.pglite, 'a new migration kept the database key');
  } finally {
    unlinkSync(added);
  }
  const source = join(appDir, 'src', 'server', 'app.ts');
  const before = readFileSync(source);
  appendFileSync(source, '\n');
  try {
    const edited = findingsKeys(appDir);
    assert.is(edited.pglite, base.pglite, 'a source edit changed the database key');
    assert.is.not(edited.server, base.server);
  } finally {
    writeFileSync(source, before);
  }
  assert.equal(findingsKeys(appDir), base);
});

test('the database checks read no app file outside the inputs of their key (traced)', async () => {
  const trace = traceFileReads(appDir);
  const read = trace.read;
  process.env.XMS_CHECK_NO_CACHE = '1'; // every migration applied: the widest set of reads
  try {
    const report = await runCheck(appDir, { groups: ['db'] });
    assert.is(report.database, 'pglite');
  } finally {
    delete process.env.XMS_CHECK_NO_CACHE;
    trace.stop();
  }
  const outside = [...read].filter((p) => p !== '' && p !== 'node_modules' && !p.startsWith('node_modules/') && !isDatabaseInput(p));
  assert.equal(outside, [], `the database checks read files their cache key does not cover: ${outside.join(', ')}`);
  assert.ok(read.has('permissions.yml') && [...read].some((p) => p.startsWith('supabase/migrations/')), [...read].join(', '));
});

test('a file added anywhere outside node_modules, .git and dist is a new key', async () => {
  const file = join(appDir, 'src', 'extra.ts');
  writeFileSync(file, 'export const extra = 1;\n');
  try {
    const report = await runCheck(appDir, { groups: ['server'] });
    assert.is(report.cached, undefined);
  } finally {
    unlinkSync(file);
  }
});

test('an app holding a symbolic link is not cached; a live database never is', async () => {
  const link = join(appDir, 'src', 'linked');
  symlinkSync(join(appDir, 'src', 'auth'), link, 'dir');
  try {
    const a = await runCheck(appDir, { groups: ['server'] });
    const b = await runCheck(appDir, { groups: ['server'] });
    assert.is(a.cached, undefined);
    assert.is(b.cached, undefined);
  } finally {
    unlinkSync(link);
  }
  // the database part is keyed for PGlite only: a DATABASE_URL check must reach the database
  // (here an unreachable one: the check fails instead of answering from the cache)
  let failed = false;
  try {
    await runCheck(appDir, { groups: ['db'], databaseUrl: 'postgres://nobody@127.0.0.1:1/none' });
  } catch {
    failed = true;
  }
  assert.ok(failed, 'a live database check was answered without the database');
});

test('an entry another user could have written is not read', async () => {
  if (typeof process.getuid !== 'function') return;
  chmodSync(cache, 0o777);
  try {
    const report = await runCheck(appDir, { groups: ['db', 'server'] });
    assert.is(report.cached, undefined);
    assert.equal(summary(report), clean);
  } finally {
    chmodSync(cache, 0o700);
  }
});

test.run();
