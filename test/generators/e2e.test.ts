// run-tests: early
// End to end for the feature generators: pack this checkout, scaffold the "default" preset (features:
// admin) from the tarball and install it, run `xms add table`, `xms add csv-import` (which also adds
// the csv-import feature the preset lacks, with its dependencies) and `xms add admin-function` twice
// each with the app's own xms binary (the second run must change nothing), install what the generators
// added, then typecheck the app and run its whole test suite, which now includes the generated tests
// and the matrix tests over the new tables: the default preset's own suite, after the generators.
// Then the minimal preset, with this app's dependencies, typechecks and passes its tests. (The full
// preset has test/e2e/generated-app.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { create, tempDir } from '../helpers/cli.js';
import { packCheckout, sh, shAsync, tail, uvuSummary } from '../helpers/e2e.js';

const { dir: work, cleanup } = tempDir('xms-gen-e2e-');
const appDir = join(work, 'gen-e2e-app');
test.after(cleanup);


test('scaffold the "default" preset from a packed tarball of this checkout and install it', () => {
  const result = create([appDir, '--preset', 'default', '--db', 'pglite', '--package-manager', 'npm', '--install', '--no-git'], {
    env: { CREATE_XMS_APP_SPEC: packCheckout(work) },
    timeout: 600_000, // a full install beside another long file's (they start together) can take minutes
  });
  assert.is(result.status, 0, `${result.stdout}\n${result.stderr}`);
});

const RUNS: [string, string[], RegExp][] = [
  ['table', ['products', '--columns', 'sku:text:unique,qty:int,notes:text?'], /created src\/routes\/api\/products\.ts/],
  ['table', ['notes', '--columns', 'title:text,body:text?,pinned:boolean'], /created src\/routes\/api\/notes\.ts/],
  ['csv-import', ['products', '--key', 'sku'], /created src\/imports\/tables\/products\.ts/],
  ['csv-import', ['notes'], /created src\/imports\/tables\/notes\.ts/],
  ['admin-function', ['archive-old-records', '--description', 'Archives old records.'], /created src\/routes\/admin\/archive-old-records\.ts/],
];

test('xms add table / csv-import / admin-function write their files, and a second run changes nothing', () => {
  assert.not.ok(existsSync(join(appDir, 'src/imports')), 'the default preset has no csv-import feature before the generator adds it');
  for (const [name, args, created] of RUNS) {
    const first = sh('npx', ['xms', 'add', name, ...args], appDir);
    assert.is(first.status, 0, `xms add ${name} ${args.join(' ')}\n${tail(first.output)}`);
    assert.match(first.stdout, created);
    if (name === 'csv-import' && args[0] === 'products') assert.match(first.output, /run npm install \(@fastify\/multipart, csv-parse, pg-copy-streams\)/);
  }
  for (const [name, args] of RUNS) {
    const again = sh('npx', ['xms', 'add', name, ...args], appDir);
    assert.is(again.status, 0, tail(again.output));
    assert.match(again.stdout, new RegExp(`${name}: nothing to change \\(already applied\\)`), again.output);
  }
  const bad = sh('npx', ['xms', 'add', 'table', 'orders', '--columns', 'from:text'], appDir);
  assert.is.not(bad.status, 0);
  assert.match(bad.output, /--columns: invalid column name "from": it is an SQL keyword/);
  const testData = readFileSync(join(appDir, 'src/generated/permissions.testdata.ts'), 'utf8');
  for (const table of ['products', 'notes', 'admin_operations', 'imports']) assert.ok(testData.includes(`"app.${table}"`), `matrix tests cover ${table}`);
});

test('npm install adds what the generators added to package.json', () => {
  const result = sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], appDir);
  assert.is(result.status, 0, tail(result.output));
  for (const name of ['@fastify/multipart', 'csv-parse', 'pg-copy-streams']) assert.ok(existsSync(join(appDir, 'node_modules', name, 'package.json')), `${name} installed`);
});

test('the app typechecks (strict) after the generators', () => {
  const result = sh('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], appDir);
  assert.is(result.status, 0, tail(result.output));
});

test("the app's own tests pass after the generators (generated tests and matrix tests included)", () => {
  const result = sh('npm', ['test'], appDir, { DATABASE_URL: '' });
  const clean = result.output.replace(/\x1b\[[0-9;]*m/g, '');
  const { passed, total } = uvuSummary(clean);
  console.log(`    generated app after the generators: ${passed}/${total} passed`);
  assert.is(result.status, 0, tail(clean, 120));
  for (const file of ['tables/products.test.ts', 'imports/notes.test.ts', 'admin/archive-old-records.test.ts', 'imports/csv-import.test.ts']) {
    assert.ok(clean.includes(file), `ran ${file}`);
  }
});

// The minimal preset (no features) needs a subset of this app's dependencies (they follow the
// features): borrow its node_modules instead of installing again, then typecheck and test it too
// (conditional template code is where typos hide).
test('the "minimal" preset typechecks and passes its own tests (dependencies borrowed from this app)', async () => {
  const dir = join(work, 'e2e-minimal');
  const result = create([dir, '--preset', 'minimal', '--db', 'pglite', '--package-manager', 'npm', '--no-install', '--no-git']);
  assert.is(result.status, 0, result.stderr);
  symlinkSync(join(appDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const typecheck = await shAsync('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], dir);
  assert.is(typecheck.status, 0, `minimal: ${tail(typecheck.output)}`);
  const tests = await shAsync('npm', ['test'], dir, { DATABASE_URL: '' });
  const summary = uvuSummary(tests.output);
  console.log(`    "minimal" app on PGlite: ${summary.passed}/${summary.total} passed`);
  assert.is(tests.status, 0, `minimal: ${tail(tests.output)}`);
  assert.ok(summary.total > 0, 'the minimal app ran tests');
});

test.run();
