// run-tests: early
// End to end for the feature generators: pack this checkout, scaffold an app from the tarball (one
// install), run `xms add table`, `xms add csv-import` and `xms add admin-function` twice each with
// the app's own xms binary (the second run must change nothing), then typecheck the app and run its
// own test suite, which now includes the generated tests and the matrix tests over the new tables.
// Then the minimal and default presets, with this app's dependencies, typecheck and pass their tests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { create, tempDir } from '../helpers/cli.js';
import { packCheckout, sh, shAsync, tail, uvuSummary } from '../helpers/e2e.js';

const { dir: work, cleanup } = tempDir('xms-gen-e2e-');
const appDir = join(work, 'gen-e2e-app');
test.after(cleanup);


test('scaffold (admin + csv-import) from a packed tarball of this checkout and install it', () => {
  const result = create([appDir, '--features', 'admin,csv-import', '--db', 'pglite', '--package-manager', 'npm', '--install', '--no-git'], {
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
  for (const [name, args, created] of RUNS) {
    const first = sh('npx', ['xms', 'add', name, ...args], appDir);
    assert.is(first.status, 0, `xms add ${name} ${args.join(' ')}\n${tail(first.output)}`);
    assert.match(first.stdout, created);
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

// The minimal and default presets (features: none, admin) need a subset of this app's dependencies
// (admin and csv-import; the dependencies follow the features): borrow its node_modules instead of
// installing again, then typecheck and test them too (conditional template code is where typos hide).
// They are here, not in test/e2e/generated-app.test.ts (the full preset's install), so that the two
// long files that install an app share this work out between them. Both presets run side by side.
const otherPresets = ['minimal', 'default'];
test('the "minimal" and "default" presets typecheck and pass their own tests (dependencies borrowed from this app)', async () => {
  await Promise.all(
    otherPresets.map(async (preset) => {
      const dir = join(work, `e2e-${preset}`);
      const result = create([dir, '--preset', preset, '--db', 'pglite', '--package-manager', 'npm', '--no-install', '--no-git']);
      assert.is(result.status, 0, result.stderr);
      symlinkSync(join(appDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
      const typecheck = await shAsync('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], dir);
      assert.is(typecheck.status, 0, `${preset}: ${tail(typecheck.output)}`);
      const tests = await shAsync('npm', ['test'], dir, { DATABASE_URL: '' });
      const summary = uvuSummary(tests.output);
      console.log(`    "${preset}" app on PGlite: ${summary.passed}/${summary.total} passed`);
      assert.is(tests.status, 0, `${preset}: ${tail(tests.output)}`);
      assert.ok(summary.total > 0, `the ${preset} app ran tests`);
    }),
  );
});

test.run();
