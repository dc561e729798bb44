import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';
import { descendants } from './dev-server.js';

/** Runs a command to completion (no terminal), returning its status and combined output. */
export function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(command, args, {
    cwd,
    env: { ...process.env, CI: '1', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 15 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}`, stdout: result.stdout };
}

/**
 * `sh` without blocking the event loop, so two long suites (e.g. the app's tests on PGlite and on
 * PostgreSQL) can run side by side on a two-core machine instead of one after the other.
 */
export function shAsync(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 15 * 60_000) {
  return new Promise<{ status: number | null; output: string; stdout: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, CI: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // on time-out the whole tree goes (`npm test` runs the suite in a grandchild, which would keep the
    // pipes open, and this promise pending, until the runner's file limit), children first
    const timer = setTimeout(() => {
      for (const pid of [...descendants(child.pid!).reverse(), child.pid!]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code, output: `${stdout}\n${stderr}`, stdout });
    });
  });
}

/** The last lines of a long output, for a readable failure message. */
export const tail = (text: string, lines = 60) => text.trim().split('\n').slice(-lines).join('\n');

/**
 * The uvu FAIL blocks of a run's output (colours stripped, up to `lines` lines after each), then its
 * tail: a suite's totals alone do not say which test failed.
 */
export function failuresAndTail(text: string, lines = 12): string {
  const clean = text.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
  const blocks = clean.flatMap((line, i) => (line.includes(' FAIL ') ? [clean.slice(i, i + lines).join('\n')] : []));
  return [...blocks.slice(0, 5), tail(text)].join('\n---\n');
}

/** Sums uvu's closing `Total:` / `Passed:` lines in an output. */
export function uvuSummary(output: string) {
  const clean = output.replace(/\x1b\[[0-9;]*m/g, '');
  const total = [...clean.matchAll(/Total:\s+(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  const passed = [...clean.matchAll(/Passed:\s+(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  return { total, passed };
}

/**
 * `npm pack` of this checkout into `dir`; returns the `file:` spec a generated app depends on, so an
 * end-to-end test installs exactly this code and never the registry's create-xms-app.
 * --ignore-scripts: `npm test` has built dist/ already, and `prepare` would rebuild it in place while
 * the files running beside this one read it.
 */
export function packCheckout(dir: string): string {
  const pack = sh('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], REPO_ROOT);
  if (pack.status !== 0) throw new Error(`npm pack failed:\n${tail(pack.output)}`);
  const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack wrote no tarball');
  return `file:${join(dir, tarball)}`;
}

/**
 * A new, empty database on the server of `adminUrl` (so a generated app's suite never shares a
 * database with another run), and a function that drops it.
 */
export async function freshDatabase(adminUrl: string, label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const pg = (await import('pg')).default;
  const name = `xms_${label}_${process.pid}_${Date.now()}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`drop database if exists ${name} with (force)`) };
}

/**
 * A new npm cache at `dir` that starts with this machine's cached packages: the index copied, the
 * content hard-linked (a cache's files are immutable and named by their hash, and `npm cache clean
 * --force` in the new cache only unlinks them, never empties this machine's cache). An install with it
 * reads the tarballs an earlier install fetched instead of downloading them again, and still asks the
 * registry for anything missing. Where hard links cannot be made (another file system), the cache
 * starts empty.
 */
export function seededNpmCache(dir: string): string {
  const from = join(sh('npm', ['config', 'get', 'cache'], REPO_ROOT).stdout.trim(), '_cacache');
  const into = join(dir, '_cacache');
  mkdirSync(into, { recursive: true });
  if (!existsSync(join(from, 'index-v5')) || !existsSync(join(from, 'content-v2'))) return dir;
  const linked = spawnSync('cp', ['-al', join(from, 'content-v2'), join(into, 'content-v2')], { stdio: 'ignore' });
  if (linked.status === 0) cpSync(join(from, 'index-v5'), join(into, 'index-v5'), { recursive: true });
  else rmSync(join(into, 'content-v2'), { recursive: true, force: true });
  return dir;
}
