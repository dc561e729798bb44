// Helpers shared by the benchmarks (not a benchmark itself): a throw-away PostgreSQL database,
// scaffolding an app from this checkout, medians, clean-up on exit and on Ctrl-C.
import { spawnSync } from 'node:child_process';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const quick = process.argv.includes('--quick');

export function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
/** A string option (`--name value`), or fallback. */
export function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

// --- results: each benchmark prints its measurements as one JSON line with this prefix, which
// bench/index.mjs (npm run bench) parses; { <row id>: { ...measurements } }
export const RESULT_PREFIX = '@@bench-result ';
export function emit(results) {
  console.log(`${RESULT_PREFIX}${JSON.stringify(results)}`);
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

/**
 * BEGIN, one statement without parameters (none when `enter` is undefined) and one with, in ONE
 * round trip, as the app's request entry sends them (src/db/client.ts pipelinedBegin):
 * extended-protocol messages before one Sync.
 * Resolves to the last statement's result.
 */
export function pipelinedBegin(client, enter, text, values) {
  return new Promise((resolve, reject) => {
    const query = new pg.Query({ text, values, queryMode: 'extended' }, undefined, (error, results) =>
      error ? reject(error) : resolve(results.at(-1)),
    );
    const prepare = query.prepare.bind(query);
    query.prepare = (connection) => {
      for (const statement of enter ? ['begin', enter] : ['begin']) {
        connection.parse({ text: statement });
        connection.bind({});
        connection.execute({});
      }
      prepare(connection);
    };
    client.query(query);
  });
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

/**
 * Pins this process (all its threads) to CPU 0 and the given server processes to CPU 1, so that
 * every side of a comparison talks to its database across the same pair of cores. Unpinned, the
 * scheduler places each connection's backend where it will, and a backend that shares the client's
 * core wakes faster: measured on this 2-core machine kind, that alone moved a side's ratio by up to
 * 0.2x from one run to the next (docs/benchmarks.md, session 32). Answers a line for the report, or
 * undefined when the machine has one core or taskset cannot pin (the run goes on unpinned).
 */
export function pinClientAndServers(serverPids) {
  if (availableParallelism() < 2 || process.argv.includes('--no-pin')) return undefined;
  const pin = (cpu, pid) => spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0;
  if (!pin(0, process.pid) || !serverPids.every((pid) => pin(1, pid))) {
    console.warn('warning: taskset could not pin the client and the database processes: the run is unpinned');
    return undefined;
  }
  return 'the client pinned to CPU 0 and the database backends to CPU 1, alike for every side (taskset)';
}

/** The repo's pg (a devDependency). */
export const pg = createRequire(join(root, 'package.json'))('pg');

/**
 * The superuser URL of a PostgreSQL server on 127.0.0.1: DATABASE_URL's, else a throw-away cluster
 * (scripts/pg-cluster.sh) stopped and removed at clean-up.
 */
export function postgresServer() {
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
  return serverUrl;
}

/**
 * A superuser URL of a fresh database: in DATABASE_URL's server if set, else in a throw-away
 * cluster (scripts/pg-cluster.sh) on 127.0.0.1. Both are removed at clean-up.
 */
let databases = 0;
export async function freshDatabase() {
  const serverUrl = postgresServer();
  const name = `xms_bench_${process.pid}_${databases++}`;
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

/**
 * An installed app with the given features: --app <dir> (an installed app made by bench/index.mjs,
 * reused by every benchmark of the run), else a new one scaffolded and installed from this checkout.
 */
export function installedApp(features) {
  const given = option('app');
  if (given) return given;
  console.log(`scaffolding and installing an app (features: ${features || 'none'}) ...`);
  return scaffold([...(features ? ['--features', features] : ['--preset', 'minimal']), '--yes', '--no-git', '--install']);
}

/**
 * require() of a benchmark tool (autocannon, create-vite, ...): from --tools <dir> (bench/index.mjs
 * installs them once per run), else installed now into a temp folder.
 */
export function toolsDir(specs) {
  const given = option('tools');
  if (given) return given;
  const dir = tempDir('xms-bench-tools-');
  sh('npm', ['init', '-y'], { cwd: dir });
  sh('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', ...specs], { cwd: dir, timeout: 600_000 });
  return dir;
}
export const requireFrom = (dir, name) => createRequire(join(dir, 'package.json'))(name);

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Stops a child process (SIGTERM, SIGKILL after 5 s); resolves when it has exited. */
export function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/**
 * Starts `cmd args` in cwd with env (in its own process group, stopped at clean-up) and waits until
 * GET http://127.0.0.1:<port><path> answers 200. Returns { child, ms } (ms: start to first 200).
 */
export async function startServer(name, cwd, cmd, args, env, port, { path = '/health', timeoutMs = 60_000 } = {}) {
  const started = now();
  // env values set to undefined remove the variable
  const merged = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined));
  // its output goes through a pipe to a process of its own that writes it to a file, as a deployed
  // server's goes to its log collector: not into this process, whose event loop is also the load
  // generator's (autocannon runs here, and a server under load writes a line per request)
  const outputDir = mkdtempSync(join(tmpdir(), 'xms-bench-output-'));
  onCleanup(() => rmSync(outputDir, { recursive: true, force: true }));
  const outputFile = join(outputDir, 'output.log');
  const outputFd = openSync(outputFile, 'w');
  const collector = spawn('cat', [], { stdio: ['pipe', outputFd, 'ignore'] });
  closeSync(outputFd); // cat has its own
  const child = spawn(cmd, args, { cwd, env: merged, stdio: ['ignore', collector.stdin, collector.stdin], detached: true });
  collector.stdin.destroy(); // the server holds the pipe's writing end: cat ends when the server does
  const collected = new Promise((resolve) => collector.once('exit', resolve));
  // the last 64 KiB of its output, for an error message
  const output = () => {
    const fd = openSync(outputFile, 'r');
    try {
      const size = fstatSync(fd).size;
      const buffer = Buffer.alloc(Math.min(size, 64 * 1024));
      readSync(fd, buffer, 0, buffer.length, size - buffer.length);
      return buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      process.kill(-child.pid, 'SIGTERM'); // the group: npm run dev starts tsx, which starts node
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(timer);
    rmSync(outputDir, { recursive: true, force: true });
  };
  onCleanup(stop);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      await collected;
      throw new Error(`${name} exited ${child.exitCode}:\n${output()}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      if (res.status === 200) return { child, ms: now() - started, stop, output };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${name} did not answer on 127.0.0.1:${port} within ${timeoutMs / 1000} s:\n${output()}`);
}

/** Peak resident set size (VmHWM) of a running process, in MiB. */
export function peakRssMiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM for process ${pid}`);
  return Number(m[1]) / 1024;
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
