// End to end: pack this checkout, scaffold an app that depends on the packed tarball (never the
// registry's create-xms-app), install it, typecheck it and run the app's own test suite on PGlite
// and, when DATABASE_URL points at a PostgreSQL server, on that server too, through PgBouncer in
// transaction pooling mode.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { create, tempDir } from '../helpers/cli.js';
import { devServerTests } from '../helpers/dev-server.js';
import { freshDatabase, packCheckout, sh, tail, uvuSummary } from '../helpers/e2e.js';
import { startPgbouncer } from '../helpers/pgbouncer.js';

const PRESET = process.env.XMS_E2E_PRESET ?? 'full';
const { dir: work, cleanup } = tempDir('xms-e2e-');
const appDir = join(work, 'e2e-app');
test.after(cleanup);

test(`scaffold the "${PRESET}" preset from a packed tarball of this checkout and install it`, () => {
  const result = create([appDir, '--preset', PRESET, '--db', 'pglite', '--package-manager', 'npm', '--install', '--no-git'], {
    env: { CREATE_XMS_APP_SPEC: packCheckout(work) },
  });
  assert.is(result.status, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /Installing dependencies with npm/);
});

test('the generated app typechecks (strict)', () => {
  const result = sh('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], appDir);
  assert.is(result.status, 0, tail(result.output));
});

test("the generated app's own tests pass on PGlite", () => {
  const result = sh('npm', ['test'], appDir, { DATABASE_URL: '' });
  const summary = uvuSummary(result.output);
  console.log(`    generated app on PGlite: ${summary.passed}/${summary.total} passed`);
  assert.is(result.status, 0, tail(result.output));
  assert.ok(summary.total > 0, 'the app ran tests');
});

test("the generated app's own tests pass on real PostgreSQL, through PgBouncer in transaction pooling mode", async () => {
  if (!process.env.DATABASE_URL) {
    console.log('    skipped: DATABASE_URL is not set (no PostgreSQL server); the suite ran on PGlite only');
    return;
  }
  // Scale out: every connection of the suite (migrations, the runtime login, the rate-limit test's two
  // instances) goes through the pooler, four server connections per database and user, so state one
  // transaction left on a server connection would reach the next (test/faults/pgbouncer.test.ts
  // inspects the server connections after two app servers' requests).
  const pooler = await startPgbouncer(process.env.DATABASE_URL, { poolSize: 4 });
  if (!pooler && process.env.CI) assert.unreachable('pgbouncer is required in CI (.ci/run installs it with apt-get)');
  if (!pooler) console.log('    pgbouncer is not installed: the suite connects to PostgreSQL directly');
  // a database of its own: nothing left by another run (or by a previous CI run on this server) leaks in
  const database = await freshDatabase(process.env.DATABASE_URL, 'e2e');
  const url = pooler ? pooler.via(database.url) : database.url;
  const result = sh('npm', ['test'], appDir, { DATABASE_URL: url });
  await pooler?.stop();
  await database.drop();
  const summary = uvuSummary(result.output);
  console.log(`    generated app on PostgreSQL${pooler ? ` through ${pooler.version}` : ''}: ${summary.passed}/${summary.total} passed`);
  assert.is(result.status, 0, tail(result.output));
  assert.ok(summary.total > 0, 'the app ran tests');
});

test("the app's database tests pass on a Supabase-shaped database migrated by the real Supabase CLI", () => {
  if (!process.env.DATABASE_URL || !process.env.SUPABASE_CLI) {
    console.log('    skipped: needs DATABASE_URL (a PostgreSQL server) and SUPABASE_CLI (scripts/supabase-cli.sh)');
    return;
  }
  // The harness gives each fresh database Supabase's roles and auth.uid(), then runs `supabase db push`.
  const result = sh('node', ['--import', 'tsx', './node_modules/uvu/bin.js', 'test', 'db/.*\\.test\\.ts$'], appDir, {
    XMS_TEST_MIGRATOR: 'supabase',
  });
  const summary = uvuSummary(result.output);
  console.log(`    database suite after supabase db push: ${summary.passed}/${summary.total} passed`);
  assert.is(result.status, 0, tail(result.output));
  assert.ok(summary.total > 0, 'the database suite ran');
});

test('the generated app builds, and the built server (npm start) serves sign-up with its security headers', async () => {
  const result = sh('npm', ['run', 'build'], appDir);
  assert.is(result.status, 0, tail(result.output));
  const migrated = sh('npm', ['run', 'db:migrate'], appDir, { DATABASE_URL: '' });
  assert.is(migrated.status, 0, tail(migrated.output));
  // the built code runs from dist/: what it reads at run time (data files, the UI build) must be found there too
  const port = 3900 + (process.pid % 90);
  const origin = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, ['dist/src/server/index.js'], {
    cwd: appDir,
    env: { ...process.env, DATABASE_URL: '', NODE_ENV: 'development', PORT: String(port), APP_ORIGIN: origin, COOKIE_SECURE: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout.on('data', (chunk) => (output += chunk));
  server.stderr.on('data', (chunk) => (output += chunk));
  try {
    const started = Date.now();
    while (!/listening/i.test(output)) {
      if (Date.now() - started > 60_000 || server.exitCode !== null) throw new Error(`the built server did not start:\n${tail(output)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const response = await fetch(`${origin}/api/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ email: 'built@example.test', password: 'a long and unusual pass phrase 42', tenantName: 'Built' }),
    });
    assert.ok(response.status < 300, `sign-up answered ${response.status}: ${await response.text()}\n${tail(output)}`);
    assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  } finally {
    server.kill();
  }
});

// npm run dev on the same installed app (after the build: it must not need one)
devServerTests(test, () => appDir, assert);

// The other presets use a subset of the full preset's dependencies: borrow its node_modules instead of
// installing again, then typecheck and test them too (conditional template code is where typos hide).
for (const preset of ['minimal', 'default'].filter((name) => name !== PRESET)) {
  test(`the "${preset}" preset typechecks and passes its own tests (dependencies borrowed from ${PRESET})`, () => {
    const dir = join(work, `e2e-${preset}`);
    const result = create([dir, '--preset', preset, '--db', 'pglite', '--package-manager', 'npm', '--no-install', '--no-git']);
    assert.is(result.status, 0, result.stderr);
    symlinkSync(join(appDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const typecheck = sh('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], dir);
    assert.is(typecheck.status, 0, tail(typecheck.output));
    const tests = sh('npm', ['test'], dir, { DATABASE_URL: '' });
    const summary = uvuSummary(tests.output);
    console.log(`    "${preset}" app on PGlite: ${summary.passed}/${summary.total} passed`);
    assert.is(tests.status, 0, tail(tests.output));
    assert.ok(summary.total > 0, 'the app ran tests');
  });
}

test.run();
