// run-tests: early
// End to end: scaffold an app from this checkout (the CLI packs itself, so the app never uses the
// registry's create-xms-app), install it, typecheck it and run the app's own test suite on PGlite
// and on real PostgreSQL too, through PgBouncer in transaction pooling mode.
// The PostgreSQL server is a throw-away cluster of this file's own (DATABASE_URL's server only where
// there are no PostgreSQL binaries): the roles the app's migrations create are shared by every
// database of a cluster, and on a server of its own they never meet those of the `lock=postgres`
// files. So this file, the longest of the run, shares the machine (started first) instead of
// running alone: its install, single-threaded and network-bound steps leave a core to other files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { create, tempDir } from '../helpers/cli.js';
import { devServerTests } from '../helpers/dev-server.js';
import { readDockerfile, runStage } from '../helpers/dockerfile.js';
import { failuresAndTail, freshDatabase, seededNpmCache, sh, shAsync, tail, uvuSummary } from '../helpers/e2e.js';
import { startPgbouncer } from '../helpers/pgbouncer.js';
import { ownPostgresServer } from '../helpers/postgres.js';

const PRESET = process.env.XMS_E2E_PRESET ?? 'full';
const { dir: work, cleanup } = tempDir('xms-e2e-');
const appDir = join(work, 'e2e-app');
// started by the first test that needs it; stopped at the end, or on the way out if the file crashes or
// the runner ends it at its time limit (SIGTERM, then SIGKILL 5 s later): the server is a daemon, which
// the runner's kill of this file's process group does not reach
let server: ReturnType<typeof ownPostgresServer> | undefined;
const postgresUrl = () => (server ??= ownPostgresServer('e2e')).url;
const stopServer = () => {
  server?.stop();
  server = undefined;
};
process.once('exit', stopServer);
process.once('SIGTERM', () => {
  stopServer();
  process.exit(143);
});
test.after(() => {
  stopServer();
  cleanup();
});

test(`scaffold the "${PRESET}" preset from this checkout and install it (the CLI packs itself: not on the registry)`, () => {
  const result = create([appDir, '--preset', PRESET, '--db', 'pglite', '--package-manager', 'npm', '--install', '--git'], {
    env: { CREATE_XMS_APP_SPEC: undefined, XDG_CACHE_HOME: join(work, 'cache') },
    timeout: 600_000, // a full install on a busy machine can take minutes
  });
  assert.is(result.status, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /Installing dependencies with npm/);
  assert.match(JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')).devDependencies['create-xms-app'], /^file:.*\.tgz$/);
});

test("the app's engines.node lies inside every installed package's engines, and .nvmrc inside the app's", () => {
  // semver comes with the app (fastify depends on it)
  const semver = createRequire(join(appDir, 'package.json'))('semver') as { subset(sub: string, sup: string): boolean };
  const range = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')).engines.node as string;
  const lock = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };
  const narrower = Object.entries(lock.packages)
    .filter(([path, entry]) => path && !Array.isArray(entry.engines) && entry.engines?.node && !semver.subset(range, entry.engines.node))
    .map(([path, entry]) => `${path.replace(/^.*node_modules\//, '')}@${entry.version} needs node ${(entry.engines as { node: string }).node}`);
  assert.equal(narrower, [], `engines.node "${range}" promises versions these packages refuse (EBADENGINE)`);
  const nvmrc = readFileSync(join(appDir, '.nvmrc'), 'utf8').trim();
  assert.ok(semver.subset(`${nvmrc}.x`, range), `.nvmrc ${nvmrc} is inside ${range}`);
});

test("installing set up the pre-commit hook: a commit that weakens an invariant is refused with the fix, a clean one passes", () => {
  const git = (...args: string[]) =>
    spawnSync('git', ['-c', 'user.name=e2e', '-c', 'user.email=e2e@example.test', ...args], { cwd: appDir, encoding: 'utf8', timeout: 120_000 });
  assert.is(git('config', 'core.hooksPath').stdout.trim(), '.githooks', "the app's prepare script ran at install, inside the new repository");
  assert.is(git('log', '--format=%s').stdout.trim(), 'Initial commit from create-xms-app');
  const sessions = join(appDir, 'src/auth/sessions.ts');
  const original = readFileSync(sessions, 'utf8');
  assert.match(original, /httpOnly: true/);
  writeFileSync(sessions, original.replace(/httpOnly: true/, 'httpOnly: false'));
  git('add', '-A');
  const weak = git('commit', '-m', 'a plausible fix that lets scripts read the session cookie');
  assert.is.not(weak.status, 0, 'the weakening commit is refused');
  const said = weak.stdout + weak.stderr;
  assert.match(said, /SRV008-cookie-insecure/);
  assert.match(said, /fix: .*httpOnly: true/, 'the finding says how to fix it');
  assert.match(said, /commit refused/);
  writeFileSync(sessions, original);
  writeFileSync(join(appDir, 'NOTES.md'), 'A clean change.\n');
  git('add', '-A');
  const clean = git('commit', '-m', 'a clean change');
  assert.is(clean.status, 0, clean.stdout + clean.stderr);
  assert.is(git('log', '--format=%s').stdout.trim().split('\n').length, 2, 'only the clean commit was added');
});

test('the generated app typechecks (strict)', () => {
  const result = sh('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'], appDir);
  assert.is(result.status, 0, tail(result.output));
});

// The two runs share nothing (PGlite in-process snapshots vs a database of its own on the server), so
// they run side by side: the PGlite run is the longer one, and the PostgreSQL run's core is not left
// idle meanwhile. The PostgreSQL run is every suite but the browser's (test/ui/): the database, HTTP,
// import and server suites are what the pooler and the real server can change; the browser pages
// drive the same routes the HTTP suites call and run on PGlite here, so a second Chromium pass would
// spend a core on nothing the pooler can change.
const POSTGRES_SKIPS = '^ui/';
test("the generated app's own tests pass on PGlite, and (all but the browser's) on real PostgreSQL through PgBouncer in transaction pooling mode", async () => {
  const serverUrl = postgresUrl(); // in CI: a server or an error
  // Scale out: every connection of the PostgreSQL run (migrations, the runtime login, the rate-limit
  // test's two instances) goes through the pooler, four server connections per database and user, so
  // state one transaction left on a server connection would reach the next (test/faults/pgbouncer.test.ts
  // inspects the server connections after two app servers' requests).
  const pooler = serverUrl ? await startPgbouncer(serverUrl, { poolSize: 4 }) : null;
  if (serverUrl && !pooler && process.env.CI) assert.unreachable('pgbouncer is required in CI (.ci/run installs it with apt-get)');
  if (serverUrl && !pooler) console.log('    pgbouncer is not installed: the suite connects to PostgreSQL directly');
  // a database of its own: nothing left by another run (or by a previous run on this server) leaks in
  const database = serverUrl ? await freshDatabase(serverUrl, 'e2e') : null;
  try {
    const url = database && (pooler ? pooler.via(database.url) : database.url);
    const [onPglite, onPostgres] = await Promise.all([
      shAsync('npm', ['test'], appDir, { DATABASE_URL: '' }),
      url ? shAsync('npm', ['test', '--', '--ignore', POSTGRES_SKIPS], appDir, { DATABASE_URL: url }) : null,
    ]);
    const label = `PostgreSQL${pooler ? ` through ${pooler.version}` : ''}`;
    for (const [name, result] of [['PGlite', onPglite], [label, onPostgres]] as const) {
      if (!result) {
        console.log(`    skipped on ${name}: no PostgreSQL server (no binaries for scripts/pg-cluster.sh, DATABASE_URL unset)`);
        continue;
      }
      const summary = uvuSummary(result.output);
      console.log(`    generated app on ${name}: ${summary.passed}/${summary.total} passed`);
      assert.is(result.status, 0, `${name}:\n${failuresAndTail(result.output)}`);
      assert.ok(summary.total > 0, `the app ran tests on ${name}`);
      // the skip pattern keeps exactly the browser's files out of the PostgreSQL run, and nothing else
      const clean = result.output.replace(/\x1b\[[0-9;]*m/g, '');
      for (const file of ['db/matrix.test.ts', 'http/sessions.test.ts', 'server/health.test.ts']) assert.ok(clean.includes(file), `${name} ran ${file}`);
      assert.is(clean.includes('ui/pages.test.ts'), result === onPglite, `${name} ${result === onPglite ? 'ran' : 'skipped'} the browser's suites`);
    }
  } finally {
    await pooler?.stop();
    await database?.drop();
  }
});

test("the app's database tests pass on a Supabase-shaped database migrated by the real Supabase CLI", () => {
  const serverUrl = postgresUrl();
  if (!serverUrl || !process.env.SUPABASE_CLI) {
    console.log('    skipped: needs a PostgreSQL server and SUPABASE_CLI (scripts/supabase-cli.sh)');
    return;
  }
  // The harness gives each fresh database Supabase's roles and auth.uid(), then runs `supabase db push`.
  const result = sh('node', ['--import', 'tsx', './node_modules/uvu/bin.js', 'test', 'db/.*\\.test\\.ts$'], appDir, {
    XMS_TEST_MIGRATOR: 'supabase',
    DATABASE_URL: serverUrl,
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

// The production image: its runtime stage run outside Docker on this built app (the build stage is what
// this suite already ran here: install, then build). Only production dependencies are installed, the
// documented release step migrates from the image's files, and the server starts and passes the
// image's own HEALTHCHECK command.
test("the Dockerfile's production stage runs outside Docker: npm ci --omit=dev, migrate, start, HEALTHCHECK passes", async () => {
  const [build, runtime, ...more] = readDockerfile(appDir);
  assert.ok(build && runtime && more.length === 0, 'two stages: build, then runtime');
  assert.equal(build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args), ['npm ci', 'npm run build']);
  const buildDir = build.instructions.find((i) => i.op === 'WORKDIR')!.args;
  const root = join(work, 'image-root');
  // A cache of the image's own: its `npm cache clean --force` must not empty this machine's cache (other
  // installs may be reading it at the same time). It starts with this machine's packages (hard links), so
  // `npm ci --omit=dev` installs from the lock file what the app's install fetched, without a second
  // download; what the stage proves is the same: the lock file's production part installs, nothing else.
  const npmEnv = { npm_config_cache: seededNpmCache(join(work, 'image-npm-cache')), npm_config_audit: 'false', npm_config_fund: 'false' };
  const image = runStage(runtime, { root, context: appDir, stageDirs: { [build.name!]: { root: appDir, workdir: buildDir } }, env: npmEnv });
  assert.is(image.user, 'node', 'the server runs as the unprivileged node user');
  assert.ok(image.cmd && image.healthcheck, 'CMD and HEALTHCHECK');
  assert.ok(existsSync(join(image.workdir, 'node_modules/fastify')), 'production dependencies installed');
  for (const dev of ['typescript', 'tsx', 'vite', 'create-xms-app']) {
    assert.not.ok(existsSync(join(image.workdir, 'node_modules', dev)), `${dev} (a dev dependency) is not in the image`);
  }
  const port = 3990 + (process.pid % 9);
  const base = { ...process.env, ...image.env, PORT: String(port), DATABASE_URL: '' };
  let env: NodeJS.ProcessEnv;
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined;
  const serverUrl = postgresUrl();
  if (serverUrl) {
    // production for real: migrate as the owner (setting xms_app's password), serve as xms_app
    database = await freshDatabase(serverUrl, 'image');
    const password = `image_${process.pid}_${Date.now()}`;
    const migrated = spawnSync(process.execPath, ['dist/src/db/migrate.js'], {
      cwd: image.workdir, env: { ...base, MIGRATION_DATABASE_URL: database.url, XMS_APP_PASSWORD: password }, encoding: 'utf8',
    });
    assert.is(migrated.status, 0, migrated.stdout + migrated.stderr);
    const appUrl = new URL(database.url);
    appUrl.username = 'xms_app';
    appUrl.password = password;
    // no mail is sent here: production only requires the SMTP server to be named
    env = { ...base, DATABASE_URL: appUrl.toString(), APP_ORIGIN: 'https://app.example.test', SMTP_URL: 'smtp://127.0.0.1:9' };
  } else {
    // no PostgreSQL here: production refuses the embedded database, so prove that, then serve in development
    const refused = spawnSync(image.cmd![0]!, image.cmd!.slice(1), { cwd: image.workdir, env: { ...base, APP_ORIGIN: 'https://app.example.test' }, encoding: 'utf8', timeout: 60_000 });
    assert.is(refused.status, 1);
    assert.match(refused.stderr, /refusing to start in production: DATABASE_URL is not set/);
    console.log('    no DATABASE_URL: the image started in development on PGlite (production needs PostgreSQL)');
    env = { ...base, NODE_ENV: 'development', APP_ORIGIN: `http://127.0.0.1:${port}`, COOKIE_SECURE: 'false' };
    const migrated = spawnSync(process.execPath, ['dist/src/db/migrate.js'], { cwd: image.workdir, env, encoding: 'utf8' });
    assert.is(migrated.status, 0, migrated.stdout + migrated.stderr);
  }
  const command = image.cmd!.map((word) => (word === 'node' ? process.execPath : word));
  const server = spawn(command[0]!, command.slice(1), { cwd: image.workdir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout.on('data', (chunk) => (output += chunk));
  server.stderr.on('data', (chunk) => (output += chunk));
  try {
    const started = Date.now();
    const probe = image.healthcheck!.map((word) => (word === 'node' ? process.execPath : word));
    while (spawnSync(probe[0]!, probe.slice(1), { env, stdio: 'ignore', timeout: 10_000 }).status !== 0) {
      if (Date.now() - started > 60_000 || server.exitCode !== null) throw new Error(`the image's server never passed its HEALTHCHECK:\n${tail(output)}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.is(health.status, 200);
    assert.match(health.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  } finally {
    server.kill();
    await database?.drop();
  }
});

test('with a Docker engine, the image builds, runs as a non-root user and refuses an unsafe config', () => {
  if (spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 }).status !== 0) {
    console.log('    skipped: no Docker engine here (the production stage ran outside Docker above)');
    return;
  }
  const spec = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')).devDependencies['create-xms-app'] as string;
  if (spec.startsWith('file:')) {
    console.log(`    skipped: this app depends on a local create-xms-app tarball (${spec}) outside the build context`);
    return;
  }
  const tag = `xms-e2e-${process.pid}`;
  const built = spawnSync('docker', ['build', '-q', '-t', tag, appDir], { encoding: 'utf8', timeout: 900_000 });
  assert.is(built.status, 0, built.stdout + built.stderr);
  try {
    const uid = spawnSync('docker', ['run', '--rm', '--entrypoint', 'id', tag, '-u'], { encoding: 'utf8' });
    assert.not.equal(uid.stdout.trim(), '0', 'not root');
    const refused = spawnSync('docker', ['run', '--rm', tag], { encoding: 'utf8', timeout: 120_000 });
    assert.is(refused.status, 1);
    assert.match(refused.stderr, /refusing to start in production/);
  } finally {
    spawnSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' });
  }
});
// npm run dev on the same installed app (after the build: it must not need one)
devServerTests(test, () => appDir, assert);

test.run();
