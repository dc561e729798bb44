// The dry run is the plan: for every generator (and scaffolding each preset) the files `--dry-run`
// lists are exactly the files the real run changes, compiled matrix and app record included.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { add, assertUnchanged, fingerprint, scaffold, stablePath, type TempApp } from './helpers.js';
import { create, REPO_ROOT } from '../helpers/cli.js';
import { listTree } from '../../lib/engine/index.js';
import { newRecord, serialiseRecord, RECORD_FILE } from '../../lib/update/record.js';
import type { Feature } from '../../lib/app/index.js';

const apps: TempApp[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'xms-dry-run-'));
test.after(() => {
  for (const app of apps) app.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

async function app(features: Feature[], options: { record?: boolean } = {}): Promise<string> {
  const made = await scaffold(features);
  apps.push(made);
  if (options.record) {
    const record = newRecord({ name: 'gen-test-app', features, db: 'pglite', packageManager: 'npm' }, made.dir);
    writeFileSync(join(made.dir, RECORD_FILE), serialiseRecord(record));
  }
  return made.dir;
}

/** The files whose content differs between two fingerprints (created, changed or deleted). */
function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...new Set([...before.keys(), ...after.keys()])].filter((path) => before.get(path) !== after.get(path)).sort();
}

/** Runs `xms add <name> <argv> --dry-run`, then for real; the listed files must be the changed files. */
async function assertDryRunIsTheRun(dir: string, name: string, argv: string[]): Promise<string[]> {
  const before = fingerprint(dir);
  const dry = await add(dir, name, [...argv, '--dry-run']);
  assertUnchanged(before, dir, `xms add ${name} --dry-run`);
  const listed = dry.slice(1).map((line) => /^\s+(?:create|update) (.+)$/.exec(line)?.[1] ?? `unparsed: ${line}`).sort();
  assert.match(dry[0] ?? '', new RegExp(`would change ${listed.length} files`));
  await add(dir, name, argv);
  const changed = changedFiles(before, fingerprint(dir));
  // a new migration's version is the time of the run: the two runs may fall in different seconds
  const stable = (paths: string[]) => paths.map(stablePath).sort();
  assert.equal(stable(listed), stable(changed), `xms add ${name} ${argv.join(' ')}: dry run vs run`);
  assert.ok(changed.length > 0, 'the case changes something');
  return changed;
}

test('table: the compiled matrix and the app record are part of the plan', async () => {
  const dir = await app(['admin'], { record: true });
  const changed = await assertDryRunIsTheRun(dir, 'table', ['products', '--columns', 'sku:text:unique,qty:int,notes:text?']);
  for (const path of ['src/generated/permissions.ts', 'src/generated/permissions.testdata.ts', RECORD_FILE]) {
    assert.ok(changed.includes(path), `${path} is planned`);
  }
  assert.ok(changed.some((path) => /^supabase\/migrations\/\d{14}_xms_permissions\.sql$/.test(path)), 'the new policy migration is planned');
  // a second table in the same app (the previous permissions migration now exists)
  await assertDryRunIsTheRun(dir, 'table', ['orders', '--columns', 'total:numeric,placed:date']);
});

test('table: minimal app (no admin feature), no record', async () => {
  await assertDryRunIsTheRun(await app([]), 'table', ['notes', '--columns', 'body:text']);
});

test('admin-function: first one (the trail migration) and a second one', async () => {
  const dir = await app(['admin'], { record: true });
  await assertDryRunIsTheRun(dir, 'admin-function', ['archive-old-records', '--description', 'archives records']);
  await assertDryRunIsTheRun(dir, 'admin-function', ['recount']);
});

test('csv-import: into an app without the feature, by natural key, and by content hash', async () => {
  const dir = await app(['admin'], { record: true });
  await add(dir, 'table', ['products', '--columns', 'sku:text:unique,qty:int']);
  const changed = await assertDryRunIsTheRun(dir, 'csv-import', ['products', '--key', 'sku']);
  assert.ok(changed.includes('package.json'), 'the feature brings its dependencies');
  const full = await app(['admin', 'csv-import', 'ui']);
  await add(full, 'table', ['orders', '--columns', 'total:numeric']);
  await assertDryRunIsTheRun(full, 'csv-import', ['orders']);
});

test('auth: restoring removed files and dependencies', async () => {
  const dir = await app(['admin'], { record: true });
  rmSync(join(dir, 'src/security/rate-limit.ts'));
  rmSync(join(dir, 'test/http/rate-limit.test.ts'));
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  delete pkg.dependencies['rate-limiter-flexible'];
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const changed = await assertDryRunIsTheRun(dir, 'auth', []);
  assert.equal(changed, ['package.json', RECORD_FILE, 'src/security/rate-limit.ts', 'test/http/rate-limit.test.ts'].sort());
});

test('harden: a Supabase project this tool did not create', async () => {
  const dir = join(scratch, 'harden');
  mkdirSync(dir, { recursive: true });
  cpSync(join(REPO_ROOT, 'test', 'harden', 'fixtures', 'migrations'), join(dir, 'supabase', 'migrations'), { recursive: true });
  const changed = await assertDryRunIsTheRun(dir, 'harden', ['--migrations', 'supabase/migrations', '--schemas', 'public']);
  assert.equal(changed.length, 1);
  assert.match(changed[0]!, /^supabase\/migrations\/\d{14}_xms_harden\.sql$/);
});

for (const [preset, db] of [['minimal', 'pglite'], ['default', 'postgres'], ['full', 'supabase']] as const) {
  test(`scaffolding --preset ${preset} --db ${db}: the dry run lists exactly the written tree`, () => {
    const target = join(scratch, `${preset}-app`);
    const args = ['--preset', preset, '--db', db, '--yes', '--no-install', '--no-git'];
    const dry = create([target, '--dry-run', ...args], { env: { CREATE_XMS_APP_SPEC: '' } });
    assert.is(dry.status, 0, dry.stderr);
    const listed = dry.stdout.split('\n').filter((line) => /^ {2}\S/.test(line)).map((line) => line.trim()).sort();
    const real = create([target, ...args], { env: { CREATE_XMS_APP_SPEC: '' } });
    assert.is(real.status, 0, real.stderr);
    assert.equal(listed, listTree(target));
  });
}

test.run();
