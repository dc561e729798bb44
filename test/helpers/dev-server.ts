// `npm run dev` of an installed app, as a user runs it: the process tree it starts, what it answers,
// and what is left after a signal (Linux: the tree is read from /proc).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

export interface DevRun {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts `npm run dev` in `appDir` (PGlite, the given port), in a process group of its own. */
export function startDev(appDir: string, port: number, env: NodeJS.ProcessEnv = {}): DevRun {
  const child = spawn('npm', ['run', 'dev'], {
    cwd: appDir,
    env: { ...process.env, DATABASE_URL: '', NODE_ENV: 'development', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Resolves once `pattern` has matched `count` times in the output; rejects when the process exits or time runs out. */
export async function waitForOutput(run: DevRun, pattern: RegExp, count: number, timeoutMs: number): Promise<void> {
  const started = Date.now();
  const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  while ((run.output().match(global)?.length ?? 0) < count) {
    if (run.child.exitCode !== null) throw new Error(`npm run dev exited ${run.child.exitCode}:\n${run.output()}`);
    if (Date.now() - started > timeoutMs) throw new Error(`npm run dev said ${pattern} fewer than ${count} times in ${timeoutMs / 1000} s:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Resolves with the "Ready: <url>" line's URL; rejects when the process exits or time runs out. */
export async function waitForReady(run: DevRun, timeoutMs: number): Promise<string> {
  const started = Date.now();
  for (;;) {
    const ready = /Ready: (http:\/\/\S+)/.exec(run.output());
    if (ready) return ready[1]!;
    if (run.child.exitCode !== null) throw new Error(`npm run dev exited ${run.child.exitCode}:\n${run.output()}`);
    if (Date.now() - started > timeoutMs) throw new Error(`npm run dev said no "Ready" within ${timeoutMs / 1000} s:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every live descendant of `pid` (children, their children, ...). */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z') parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  let frontier = [pid];
  while (frontier.length) {
    const next: number[] = [];
    for (const [child, parent] of parentOf) if (frontier.includes(parent)) next.push(child);
    found.push(...next);
    frontier = next;
  }
  return found;
}

export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits until none of `pids` is alive; returns those still alive after `timeoutMs`. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const started = Date.now();
  for (;;) {
    const left = pids.filter(alive);
    if (!left.length || Date.now() - started > timeoutMs) return left;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Holds a port on 127.0.0.1 (another program using it). */
export function holdPort(): Promise<{ port: number; server: Server }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, server }));
  });
}

type Test = (name: string, fn: () => Promise<void> | void) => void;

/**
 * The `npm run dev` tests of an installed app (test/e2e/generated-app.test.ts registers them on its
 * app, after its own tests, so no second install is needed).
 */
export function devServerTests(test: Test, appDir: () => string, assert: typeof import('uvu/assert')): void {
  const linuxOnly = () => {
    if (process.platform === 'linux') return false;
    // a test that cannot run never counts as passed in CI
    if (process.env.CI) assert.unreachable('the process tree is read from /proc: CI must run on Linux');
    console.log('    skipped: the process tree is read from /proc (Linux only)');
    return true;
  };

  test('npm run dev: one Ready line, the API and the hot-reloading UI on one port under the CSP; SIGTERM leaves nothing running', async () => {
    if (linuxOnly()) return;
    const port = await freePort();
    const dev = startDev(appDir(), port);
    try {
      const url = await waitForReady(dev, 240_000);
      assert.is(url, `http://127.0.0.1:${port}`);
      assert.is(dev.output().match(/Ready: /g)?.length, 1, 'one Ready line');

      const health = await fetch(`${url}/health`);
      assert.is(health.status, 200);
      assert.equal(await health.json(), { status: 'ok' });
      assert.match(health.headers.get('content-security-policy') ?? '', /script-src 'self';/);

      if (existsSync(join(appDir(), 'web'))) {
        const page = await fetch(`${url}/`);
        const html = await page.text();
        assert.is(page.status, 200, html);
        const csp = page.headers.get('content-security-policy') ?? '';
        assert.not.match(csp, /unsafe-inline|unsafe-eval/);
        assert.match(csp, /frame-ancestors 'none'/);
        const nonce = /script-src 'self' 'nonce-([A-Za-z0-9+/=]{16,})'/.exec(csp)?.[1];
        assert.ok(nonce, `a nonce in script-src: ${csp}`);
        assert.match(csp, new RegExp(`style-src 'self' 'nonce-${nonce.replace(/[+/=]/g, '\\$&')}'`));
        // every script tag of the page carries this page load's nonce; Vite's client is loaded
        const scripts = html.match(/<script\b[^>]*>/g) ?? [];
        assert.ok(scripts.length >= 2, html);
        for (const tag of scripts) assert.ok(tag.includes(`nonce="${nonce}"`), tag);
        assert.match(html, /\/@vite\/client/);
        const again = await fetch(`${url}/`);
        await again.arrayBuffer();
        assert.is.not(again.headers.get('content-security-policy'), csp, 'a new nonce per page load');

        const client = await fetch(`${url}/@vite/client`);
        assert.is(client.status, 200);
        assert.match(client.headers.get('content-type') ?? '', /javascript/);
        assert.is(client.headers.get('x-content-type-options'), 'nosniff');
        await client.arrayBuffer();
        const module = await fetch(`${url}/src/main.tsx`);
        assert.is(module.status, 200);
        await module.arrayBuffer();
        // Vite serves web/ and the dependencies, never the server's code or the app's files
        for (const path of [`/@fs${join(appDir(), 'src/config.ts')}`, `/@fs${join(appDir(), 'package.json')}`]) {
          const response = await fetch(`${url}${path}`);
          await response.arrayBuffer();
          assert.ok(response.status === 403 || response.status === 404, `${path}: ${response.status}`);
        }
      }
      // human-readable log lines, not JSON
      assert.not.match(dev.output(), /^\{"level":/m);
      assert.match(dev.output(), /request completed/);

      const tree = descendants(dev.child.pid!);
      assert.ok(tree.length >= 2, `npm run dev started its processes: ${tree.join(', ')}`);
      // npm alone is signalled, as a process manager does
      process.kill(dev.child.pid!, 'SIGTERM');
      await dev.exited;
      const left = await waitGone(tree, 20_000);
      assert.equal(left, [], `still running after SIGTERM: ${left.map((pid) => `${pid} ${readCmd(pid)}`).join('; ')}`);
    } finally {
      try {
        process.kill(-dev.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  test('npm run dev on a busy port: a one-line hint naming PORT and a non-zero exit', async () => {
    if (linuxOnly()) return;
    const { port, server } = await holdPort();
    const dev = startDev(appDir(), port);
    try {
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 240_000).unref());
      const code = await Promise.race([dev.exited, timeout]);
      assert.ok(code !== 'timeout' && code !== null && code !== 0, `exit code ${code}:\n${dev.output()}`);
      const hints = dev.output().split('\n').filter((line) => /in use/.test(line));
      assert.is(hints.length, 1, dev.output());
      assert.match(hints[0]!, new RegExp(`Port ${port}\\b.*PORT=\\d+`));
      assert.not.match(dev.output(), /^\s+at /m, 'no stack trace');
    } finally {
      server.close();
      try {
        process.kill(-dev.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  // The supervisor holds the embedded database across restarts (src/db/dev-database-host.ts): a change
  // under src/ restarts the server alone, a new migration is applied first; the server's queries reach
  // the database after each restart (a refused log-in reads the rate limits and the credentials).
  test('npm run dev restarts: a src/ change with the database kept open, a new migration applied first', async () => {
    if (linuxOnly()) return;
    const dir = appDir();
    const migration = join(dir, 'supabase', 'migrations', '20991231000000_dev_restart_probe.sql');
    const source = join(dir, 'src', 'server', 'app.ts');
    const original = readFileSync(source, 'utf8');
    const port = await freePort();
    const dev = startDev(dir, port);
    const refusedLogin = async (url: string) => {
      const response = await fetch(`${url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: url },
        body: JSON.stringify({ email: 'nobody@example.com', password: 'not the password of anyone' }),
      });
      await response.arrayBuffer();
      return response.status;
    };
    try {
      const url = await waitForReady(dev, 240_000);
      assert.is(await refusedLogin(url), 401);

      writeFileSync(source, `${original}\n// touched by the restart test\n`);
      await waitForOutput(dev, /Ready: /, 2, 120_000);
      assert.match(dev.output(), /Restarting: src\/server\/app\.ts changed/);
      assert.is(await refusedLogin(url), 401, 'the restarted server reaches the database');
      assert.not.match(dev.output(), /20991231000000/);

      writeFileSync(migration, "comment on schema app is 'the restart test was here';\n");
      await waitForOutput(dev, /Ready: /, 3, 120_000);
      assert.match(dev.output(), /applied migration 20991231000000/);
      assert.is(await refusedLogin(url), 401, 'and after migrating');

      const tree = descendants(dev.child.pid!);
      process.kill(dev.child.pid!, 'SIGTERM');
      await dev.exited;
      assert.equal(await waitGone(tree, 20_000), [], 'nothing left running');
    } finally {
      try {
        process.kill(-dev.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      writeFileSync(source, original);
      rmSync(migration, { force: true });
      // the data folder now has the probe's migration: the next start begins from a fresh one
      rmSync(join(dir, '.data', 'pglite'), { recursive: true, force: true });
    }
  });
}

function readCmd(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '?';
  }
}
