// @ts-check
/**
 * `npm run dev`: the whole app in one terminal, restarted when its code changes.
 *
 * This process only supervises, and it is plain JavaScript that Node runs as it is: it starts in a
 * few milliseconds, with no TypeScript loader. Before each start of the server it
 *
 *   1. transpiles src/ to JavaScript in node_modules/.cache/xms-dev/js/ (esbuild, the transform tsx
 *      applies), only the files whose content changed since the last start;
 *   2. compiles permissions.yml when it changed (compileIfChanged, src/db/dev-data.ts);
 *   3. starts the server (src/server/dev-server.ts, transpiled) in a child process with plain `node`:
 *      the server's modules load without a loader thread between them and Node;
 *   4. meanwhile opens the embedded database (PGlite), migrated first when needed, and answers the
 *      server's queries through their IPC channel (src/db/dev-database-host.ts). It stays open
 *      while the server restarts. With DATABASE_URL the server migrates and connects itself.
 *
 * It restarts the server when a file under src/ changes; a change to permissions.yml or a migration
 * recompiles, closes the database and migrates it again first. The server serves the API and,
 * with the UI, Vite's hot-reloading dev UI on the same port. (The supervisor's own copy of
 * src/db/ is loaded once: an edit to src/db/client.ts, dev-data.ts, migrate.ts or
 * dev-database-host.ts reaches the database side on the next `npm run dev`.)
 *
 * - A transpiled module sees `import.meta.url` of its .ts file, and stack traces name the .ts files
 *   and lines (source maps), as when tsx runs src/ directly (tests, `npm run db:migrate`).
 * - A first start that fails (a busy port, a bad setting, a syntax error) ends `npm run dev` with its
 *   exit code; a restart that fails waits for the next change.
 * - SIGINT (Ctrl-C) and SIGTERM stop the server, then this process: nothing is left running. So does
 *   the end of the parent process (npm), and the server stops if this process dies (IPC closes).
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The transpiled copy of src/, one per app folder (apps may share a node_modules); its package.json
 * is the app's (type: module).
 */
const OUT = join('node_modules', '.cache', 'xms-dev', 'js', createHash('sha256').update(process.cwd()).digest('hex').slice(0, 16));
const MANIFEST = join(OUT, 'manifest.json');
const SERVER = join(OUT, 'src', 'server', 'dev-server.js');
/** What restarts the server; src/generated/ is written by `xms compile`, which restarts it anyway. */
const WATCHED = ['src', 'permissions.yml', 'supabase/migrations'];
const RECOMPILE = /^(permissions\.yml|supabase[\\/]migrations)/;

/**
 * @typedef {object} Manifest what the last transpile wrote
 * @property {string} [settings] hash of what the output also depends on (see transpile())
 * @property {Record<string, string>} files source file -> hash of its content
 *
 * @typedef {object} DevData src/db/dev-data.ts, transpiled
 * @property {() => boolean} compileIfChanged
 *
 * @typedef {import('../db/client.js').Database} Database
 * @typedef {object} DevDatabaseHost src/db/dev-database-host.ts, transpiled
 * @property {(options: { log?: (line: string) => void }) => Promise<Database>} openHostedDatabase
 * @property {(database: () => Promise<Database>, channel: import('node:child_process').ChildProcess) => { drop(): Promise<void> }} hostDatabase
 */

/** @param {string} file a .ts file under src/ */
const output = (file) => join(OUT, file.replace(/\.ts$/, '.js'));
/** @param {string | Buffer} data */
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/**
 * Transpiles the .ts files under src/ whose content differs from the last run (the manifest keeps
 * each file's hash, under the esbuild version, Node version and tsconfig.json that produced it) and
 * removes the output of deleted files. Returns false when a file does not compile (printed why).
 */
async function transpile() {
  const tsconfig = readFileSync('tsconfig.json', 'utf8');
  const esbuildPackage = readFileSync(createRequire(resolve('package.json')).resolve('esbuild/package.json'));
  const settings = sha256(`${process.version}\0${sha256(esbuildPackage)}\0${tsconfig}`);
  /** @type {Manifest} */
  let last = { files: {} };
  try {
    last = JSON.parse(readFileSync(MANIFEST, 'utf8'));
  } catch {
    // no manifest yet: everything is transpiled
  }
  const previous = last.settings === settings ? last.files : {};
  /** @type {Record<string, string>} */
  const files = {};
  /** @type {[string, Buffer][]} */
  const changed = [];
  const sources = readdirSync('src', { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))
    .map((path) => join('src', path))
    .sort();
  for (const file of sources) {
    const source = readFileSync(file);
    files[file] = sha256(source);
    if (previous[file] !== files[file] || !existsSync(output(file))) changed.push([file, source]);
  }
  const removed = Object.keys(last.files).filter((file) => !(file in files));
  if (!changed.length && !removed.length && last.settings === settings && existsSync(join(OUT, 'package.json'))) return true;

  for (const file of removed) rmSync(output(file), { force: true });
  if (changed.length) {
    const { transform } = await import('esbuild');
    try {
      await Promise.all(
        changed.map(async ([file, source]) => {
          const { code } = await transform(source, {
            loader: 'ts',
            format: 'esm',
            platform: 'node',
            target: `node${process.versions.node}`,
            tsconfigRaw: tsconfig,
            sourcefile: resolve(file),
            sourcemap: 'inline',
            // module-relative paths (data files, web/) resolve from src/, as under tsx
            define: { 'import.meta.url': JSON.stringify(pathToFileURL(resolve(file)).href) },
          });
          mkdirSync(dirname(output(file)), { recursive: true });
          writeFileSync(output(file), code);
        }),
      );
    } catch (error) {
      console.error(error instanceof Error ? error.message : error);
      return false;
    }
  }
  writeFileSync(join(OUT, 'package.json'), readFileSync('package.json'));
  writeFileSync(MANIFEST, JSON.stringify({ settings, files }));
  return true;
}

/** @type {DevData | undefined} */
let devData;
/** Runs `xms compile` when permissions.yml, the migrations or the compiler changed (src/db/dev-data.ts). */
async function compile() {
  devData ??= await import(pathToFileURL(resolve(OUT, 'src', 'db', 'dev-data.js')).href);
  return /** @type {DevData} */ (devData).compileIfChanged();
}

/**
 * The embedded database this process holds for the server (undefined with DATABASE_URL, or before
 * the first open); a rejected open ends the first start, or waits for the next change.
 * @type {Promise<Database> | undefined}
 */
let database;
const hostsDatabase = !process.env.DATABASE_URL && process.env.NODE_ENV !== 'production';
/** @type {DevDatabaseHost | undefined} */
let host;

/**
 * Starts opening the database (migrating it first when needed), unless it is open: the server's
 * queries wait for it. A failure reaches the server as its first query's error.
 */
function openDatabase() {
  if (!host || database) return;
  database = host.openHostedDatabase({ log: (line) => console.log(line) });
  database.catch(() => {}); // reported by the server, whose queries get it
}

/** the rollback of what the last stopped server left open */
let dropped = Promise.resolve();

/** Closes the database (before migrations change it, and at the end). */
async function closeDatabase() {
  const open = database;
  database = undefined;
  await dropped;
  await open?.then((db) => db.close(), () => {});
}

/** @type {import('node:child_process').ChildProcess | undefined} */
let server;
/** the children this process stopped on purpose */
const stopped = new WeakSet();
let everReady = false;
let stopping = false;

function startServer() {
  // the child inherits the terminal; stack traces through the source maps name the .ts files;
  // "advanced" serialization carries the database's rows as they are (dates, bytes, bigints)
  const child = fork(SERVER, {
    stdio: 'inherit',
    execArgv: ['--enable-source-maps', ...process.execArgv],
    serialization: 'advanced',
    env: hostsDatabase ? { ...process.env, XMS_DEV_DATABASE: 'ipc' } : process.env,
  });
  server = child;
  if (hostsDatabase && host) {
    const hosted = host.hostDatabase(() => database ?? Promise.reject(new Error('the development database is closed')), child);
    // what the server left open (a restart mid-request) is rolled back
    child.on('exit', () => {
      dropped = hosted.drop();
    });
  }
  child.on('message', (/** @type {any} */ message) => {
    if (message?.ready) everReady = true;
  });
  child.on('exit', (code, signal) => {
    if (server === child) server = undefined;
    if (stopping || stopped.has(child)) return;
    // a first start that failed ends npm run dev (the database closed first: its folder consistent)
    if (!everReady) return void closeDatabase().finally(() => process.exit(code || 1));
    console.error(`The server stopped (${signal ?? `exit ${code}`}); waiting for a change to restart it.`);
  });
}

/** @returns {Promise<void>} */
function stopServer() {
  const child = server;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    stopped.add(child);
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** @type {Set<string> | undefined} */
let pending;
let restarting = Promise.resolve();
/** @param {string} path */
function changed(path) {
  if (stopping || /^src[\\/]generated[\\/]/.test(path)) return;
  if (pending) return void pending.add(path);
  pending = new Set([path]);
  // one restart for a burst of changes (an editor saving several files, a git checkout)
  setTimeout(() => {
    const paths = [...(pending ?? [])];
    pending = undefined;
    restarting = restarting.then(async () => {
      if (stopping) return;
      console.log(`Restarting: ${paths.slice(0, 3).join(', ')}${paths.length > 3 ? ', ...' : ''} changed`);
      await stopServer();
      if (paths.some((p) => RECOMPILE.test(p))) {
        await closeDatabase();
        if (!(await compile())) {
          console.error('xms compile failed; waiting for a change.');
          return;
        }
      }
      if (!(await transpile())) {
        console.error('src/ does not compile; waiting for a change.');
        return;
      }
      if (stopping) return;
      openDatabase();
      startServer();
    });
  }, 100);
}

/** @type {import('node:fs').FSWatcher[]} */
const watchers = [];
function watchFiles() {
  for (const target of WATCHED) {
    try {
      const recursive = target !== 'permissions.yml';
      watchers.push(watch(target, { recursive }, (_event, name) => changed(recursive && name ? `${target}/${name}` : target)));
    } catch {
      // a missing file or folder is not watched
    }
  }
}

async function shutdown() {
  if (stopping) return;
  stopping = true;
  for (const w of watchers) w.close();
  await stopServer();
  // after the server: a PGlite data folder is then left consistent
  await closeDatabase();
  process.exit(0);
}

process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
// npm passes SIGTERM to the shell that runs this script, and the shell dies without passing it on:
// when the parent process is gone, stop as if signalled
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void shutdown();
}, 250).unref();

// compiling writes src/generated/: transpiled again after it (nothing to do when it did not run)
if (!(await transpile()) || !(await compile()) || !(await transpile())) process.exit(1);
if (hostsDatabase) host = await import(pathToFileURL(resolve(OUT, 'src', 'db', 'dev-database-host.js')).href);
// the database opens here while the server process loads its modules on the other core
openDatabase();
startServer();
watchFiles();
