/**
 * `npm run dev`: the whole app in one terminal, restarted when its code changes.
 *
 * This process only supervises: it compiles permissions.yml when it changed (src/db/dev-data.ts),
 * starts the server (src/server/dev-server.ts) in a child process, and restarts it when a file under
 * src/ changes; a change to permissions.yml or a migration recompiles first. The server migrates what
 * needs it, serves the API and, with the UI, Vite's hot-reloading dev UI on the same port.
 *
 * - A first start that fails (a busy port, a bad setting) ends `npm run dev` with its exit code; a
 *   restart that fails waits for the next change.
 * - SIGINT (Ctrl-C) and SIGTERM stop the server, then this process: nothing is left running. So does
 *   the end of the parent process (npm), and the server stops if this process dies (IPC closes).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { compileIfChanged } from '../db/dev-data.js';

const SERVER = new URL('./dev-server.ts', import.meta.url);
/** What restarts the server; src/generated/ is written by `xms compile`, which restarts it anyway. */
const WATCHED = ['src', 'permissions.yml', 'supabase/migrations'];
const RECOMPILE = /^(permissions\.yml|supabase[\\/]migrations)/;

let server: ChildProcess | undefined;
/** the children this process stopped on purpose */
const stopped = new WeakSet<ChildProcess>();
let everReady = false;
let stopping = false;

/**
 * The server's large dependencies load before the TypeScript loader (tsx), which would otherwise
 * re-read each of their files for source maps: PGlite and Vite take seconds through it, not 0.3-1 s.
 */
function preloads(): string[] {
  const modules = [];
  if (!process.env.DATABASE_URL) modules.push('@electric-sql/pglite');
  if (existsSync('web/vite.config.ts')) modules.push('vite');
  return modules.flatMap((name) => ['--import', name]);
}

function startServer(): void {
  // the child inherits the terminal; `--import tsx` comes from this process's own flags
  const child = fork(SERVER, { stdio: 'inherit', execArgv: [...preloads(), ...process.execArgv] });
  server = child;
  child.on('message', (message: { ready?: boolean }) => {
    if (message?.ready) everReady = true;
  });
  child.on('exit', (code, signal) => {
    if (server === child) server = undefined;
    if (stopping || stopped.has(child)) return;
    if (!everReady) process.exit(code || 1);
    console.error(`The server stopped (${signal ?? `exit ${code}`}); waiting for a change to restart it.`);
  });
}

function stopServer(): Promise<void> {
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

let pending: Set<string> | undefined;
let restarting = Promise.resolve();
function changed(path: string): void {
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
      if (paths.some((p) => RECOMPILE.test(p)) && !compileIfChanged()) {
        console.error('xms compile failed; waiting for a change.');
        return;
      }
      if (!stopping) startServer();
    });
  }, 100);
}

const watchers: FSWatcher[] = [];
function watchFiles(): void {
  for (const target of WATCHED) {
    try {
      const recursive = target !== 'permissions.yml';
      watchers.push(watch(target, { recursive }, (_event, name) => changed(recursive && name ? `${target}/${name}` : target)));
    } catch {
      // a missing file or folder is not watched
    }
  }
}

async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const w of watchers) w.close();
  await stopServer();
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

if (!compileIfChanged()) process.exit(1);
startServer();
watchFiles();
