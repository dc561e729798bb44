// Helpers shared by the benchmarks (not a benchmark itself): a throw-away PostgreSQL database,
// scaffolding an app from this checkout, medians, clean-up on exit and on Ctrl-C.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const quick = process.argv.includes('--quick');

export function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
export const now = () => Number(process.hrtime.bigint()) / 1e6;

// --- clean-up: run in reverse order on normal exit, error, SIGINT/SIGTERM -------------------------
const cleanups = [];
export function onCleanup(fn) {
  cleanups.push(fn);
}
export async function cleanup() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (error) {
      console.error(`clean-up: ${error.message}`);
    }
  }
}
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}
/** Runs main(), always cleans up, exits 1 on failure. */
export function run(main) {
  main()
    .then(cleanup, async (error) => {
      if (stopping) return; // interrupted: the signal handler cleans up and exits
      console.error(error);
      await cleanup();
      process.exitCode = 1;
    });
}

/** A connected pg client whose connection errors (a server stopped at clean-up) are not fatal. */
export async function connect(connectionString) {
  const client = new pg.Client({ connectionString });
  client.on('error', () => {});
  await client.connect();
  return client;
}

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sh(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  return r.stdout;
}
export { sh };

/** The repo's pg (a devDependency). */
export const pg = createRequire(join(root, 'package.json'))('pg');

/**
 * A superuser URL of a fresh database: in DATABASE_URL's server if set, else in a throw-away
 * cluster (scripts/pg-cluster.sh) on 127.0.0.1. Both are removed at clean-up.
 */
export async function freshDatabase() {
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const parent = mkdtempSync(join(tmpdir(), 'xms-bench-pg-'));
    chmodSync(parent, 0o711); // the server may run as the postgres user: it must enter the folder
    const dir = join(parent, 'cluster');
    onCleanup(() => rmSync(parent, { recursive: true, force: true }));
    const out = sh('bash', [join(root, 'scripts/pg-cluster.sh'), 'start', dir]);
    onCleanup(() => sh('bash', [join(root, 'scripts/pg-cluster.sh'), 'stop', dir]));
    serverUrl = /export DATABASE_URL=(\S+)/.exec(out)?.[1];
    if (!serverUrl) throw new Error(`pg-cluster.sh printed no DATABASE_URL: ${out}`);
  }
  const host = new URL(serverUrl).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost') throw new Error(`benchmarks run only against 127.0.0.1 (DATABASE_URL names ${host})`);
  const name = `xms_bench_${process.pid}`;
  const admin = await connect(serverUrl);
  await admin.query(`create database ${name}`);
  await admin.end();
  onCleanup(async () => {
    const c = await connect(serverUrl);
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { serverUrl, url: url.toString() };
}

/** Scaffolds an app from this checkout into a new temp folder (dist/ must be built). */
export function scaffold(args, options = {}) {
  const parent = tempDir('xms-bench-app-');
  const dir = join(parent, 'app');
  sh(process.execPath, [join(root, 'bin/create-xms-app.js'), dir, ...args], {
    env: { ...process.env, CI: '1', CREATE_XMS_APP_SPEC: `file:${root}` },
    timeout: options.timeout ?? 600_000,
  });
  return dir;
}

/** The app's migrations in version order (the file names start with the version). */
export function migrationFiles(app) {
  const folder = join(app, 'supabase/migrations');
  return readdirSync(folder)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => join(folder, f));
}

/** Applies the app's migrations as the connected (super)user, in version order. */
export async function applyMigrations(client, app) {
  for (const file of migrationFiles(app)) await client.query(readFileSync(file, 'utf8'));
}

export function pgBin(name) {
  for (const dir of ['/usr/lib/postgresql/15/bin', ...(existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort().reverse().map((v) => `/usr/lib/postgresql/${v}/bin`) : [])]) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}

export const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
