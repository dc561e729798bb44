/**
 * Fault tests (test/faults): a generated app served by real processes on a PostgreSQL cluster of the
 * test's own, so a test may restart the database or kill a server.
 *
 *   const f = faultKit('restart');                  // everything below is undone by f.cleanup()
 *   const pg = f.cluster();                         // scripts/pg-cluster.sh; pg.restart()
 *   const app = await f.app(pg);                    // full preset, migrated, xms_app with a password
 *   const server = await f.server(app);             // `node --import tsx src/server/index.ts`, production config
 *   const user = await app.user('member');          // a session cookie, as sign-up + log-in would make
 *   await server.fetch(user, 'POST', '/api/records', { title: 'x', body: 'y' });
 *
 * No PostgreSQL binaries is a failure, not a skip: these tests exist to run on PostgreSQL.
 * Dependencies: the app links a node_modules installed once per package.json (cached in the temp
 * folder as xms-app-modules-<hash>), or XMS_APP_NODE_MODULES (an installed full-preset app's).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { create, REPO_ROOT } from './cli.js';
import { packCheckout, sh, tail } from './e2e.js';

const CLUSTER_SCRIPT = join(REPO_ROOT, 'scripts', 'pg-cluster.sh');
export const ORIGIN = 'https://app.example.test';
const APP_PASSWORD = `xms_app_${randomBytes(8).toString('hex')}`;

export interface Cluster {
  /** superuser URL of database postgres */
  url: string;
  /** pg_ctl restart -m fast; asynchronous, so requests keep flowing meanwhile */
  restart(): Promise<void>;
}

export interface FaultApp {
  dir: string;
  /** superuser URL of the app's database */
  ownerUrl: string;
  /** the runtime login xms_app */
  appUrl: string;
  user(role: string, tenantId?: string): Promise<{ id: string; tenantId: string; cookie: string }>;
  /** one statement as the superuser */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export interface Server {
  url: string;
  process: ChildProcess;
  /** the server's output so far (for failure messages) */
  output(): string;
  fetch(user: { cookie: string } | null, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** SIGKILL, and wait for the process to be gone */
  kill(): Promise<void>;
}

export function faultKit(label: string) {
  const undo: (() => void)[] = [];
  const cleanup = () => {
    while (undo.length) {
      try {
        undo.pop()!();
      } catch {
        // keep undoing the rest
      }
    }
  };
  // a crash or an interrupt must not leave a cluster or a server running
  process.once('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(1);
    });
  }

  function cluster(): Cluster {
    const dir = mkdtempSync(join(tmpdir(), `xms-faults-${label}-`));
    rmSync(dir, { recursive: true });
    mkdirSync(dir, { mode: 0o755 });
    const stop = () => {
      spawnSync('bash', [CLUSTER_SCRIPT, 'stop', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    };
    undo.push(stop);
    const started = spawnSync('bash', [CLUSTER_SCRIPT, 'start', dir], {
      encoding: 'utf8',
      env: { ...process.env, PG_CLUSTER_PORT: process.env.PG_CLUSTER_PORT ?? '55510' },
      timeout: 120_000,
    });
    const url = /DATABASE_URL=(\S+)/.exec(started.stdout ?? '')?.[1];
    if (started.status !== 0 || !url) {
      throw new Error(`could not start a PostgreSQL cluster (fault tests need PostgreSQL binaries): ${tail(started.stderr ?? '', 10)}`);
    }
    return {
      url,
      restart() {
        return new Promise((resolve, reject) => {
          const child = spawn('bash', [CLUSTER_SCRIPT, 'restart', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr!.on('data', (d) => (stderr += d));
          const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
          child.once('exit', (code) => {
            clearTimeout(timer);
            if (code === 0) resolve();
            else reject(new Error(`restart failed: ${stderr}`));
          });
        });
      },
    };
  }

  async function app(server: Cluster): Promise<FaultApp> {
    const work = mkdtempSync(join(tmpdir(), `xms-faults-${label}-app-`));
    undo.push(() => rmSync(work, { recursive: true, force: true }));
    const dir = join(work, 'app');
    const made = create([dir, '--preset', 'full', '--db', 'postgres', '--no-install', '--no-git', '--yes']);
    if (made.status !== 0) throw new Error(`scaffold failed: ${made.stderr}`);
    symlinkSync(installedModules(dir), join(dir, 'node_modules'), 'dir');

    const name = `xms_faults_${label}`;
    await withClient(server.url, (c) => c.query(`create database ${name}`));
    const ownerUrl = withDatabase(server.url, name);
    const migrated = sh('node', ['--import', 'tsx', 'src/db/migrate.ts'], dir, {
      MIGRATION_DATABASE_URL: ownerUrl,
      DATABASE_URL: ownerUrl,
      XMS_APP_PASSWORD: APP_PASSWORD,
    });
    if (migrated.status !== 0) throw new Error(`migrations failed:\n${tail(migrated.output)}`);
    const appUrl = new URL(ownerUrl);
    appUrl.username = 'xms_app';
    appUrl.password = APP_PASSWORD;

    const sql = <T,>(text: string, params: unknown[] = []) => withClient(ownerUrl, async (c) => (await c.query(text, params)).rows as T[]);
    return {
      dir,
      ownerUrl,
      appUrl: appUrl.toString(),
      sql,
      // the rows sign-up and log-in write (test/helpers/app.ts does the same in the app's own suite)
      async user(role: string, tenantId?: string) {
        const token = randomBytes(32).toString('base64url');
        const ids = await withClient(ownerUrl, async (c) => {
          await c.query('begin');
          const tenant = tenantId ?? (await c.query(`insert into app.tenants (name) values ('fault tenant') returning id`)).rows[0].id;
          const userId = (await c.query(`insert into app.users (display_name) values ('fault user') returning id`)).rows[0].id;
          await c.query('insert into app.memberships (user_id, tenant_id, role) values ($1, $2, $3)', [userId, tenant, role]);
          // a confirmed address: the database refuses a session to an unconfirmed account
          await c.query(`insert into app_private.credentials (user_id, email, password_hash, email_verified_at) values ($1, $2, 'not-a-hash', now())`, [
            userId,
            `u-${randomUUID()}@example.test`,
          ]);
          await c.query(
            `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
             values ($1, $2, $3, $4, now() + interval '1 hour', now() + interval '2 hours')`,
            [createHash('sha256').update(token, 'utf8').digest(), userId, tenant, `xms_${role}`],
          );
          await c.query('commit');
          return { id: userId as string, tenantId: tenant as string };
        });
        return { ...ids, cookie: `__Host-session=${token}` };
      },
    };
  }

  async function server(target: FaultApp, env: NodeJS.ProcessEnv = {}): Promise<Server> {
    const port = await freePort();
    let output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/index.ts'], {
      cwd: target.dir,
      detached: true, // its own process group: killed with everything it started
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        APP_ORIGIN: ORIGIN,
        DATABASE_URL: target.appUrl,
        // production requires an SMTP server; nothing here sends mail (a connection is opened per message)
        SMTP_URL: 'smtp://127.0.0.1:9',
        MIGRATION_DATABASE_URL: '',
        HOST: '127.0.0.1',
        PORT: String(port),
        API_LIMIT_PER_MINUTE: '1000000',
        LOG_LEVEL: 'warn',
        ...env,
      },
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const kill = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
        await exited;
      }
    };
    undo.push(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${tail(output)}`);
      try {
        if ((await fetch(`${url}/health`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the server did not answer within 60 s:\n${tail(output)}`);
      await sleep(100);
    }
    return {
      url,
      process: child,
      output: () => output,
      kill,
      async fetch(user, method, path, body) {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: {
            origin: ORIGIN,
            ...(user ? { cookie: user.cookie } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = text;
        }
        return { status: res.status, json };
      },
    };
  }

  return { cluster, app, server, cleanup, undo: (fn: () => void) => undo.push(fn) };
}

/**
 * node_modules for a scaffolded app: XMS_APP_NODE_MODULES, else one `npm install` per distinct
 * package.json (this checkout packed for create-xms-app), kept in the temp folder for the next file.
 */
function installedModules(appDir: string): string {
  if (process.env.XMS_APP_NODE_MODULES) return process.env.XMS_APP_NODE_MODULES;
  const manifest = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8'));
  delete manifest.devDependencies?.['create-xms-app'];
  const key = createHash('sha256').update(JSON.stringify(manifest)).digest('hex').slice(0, 16);
  const cache = join(tmpdir(), `xms-app-modules-${key}`);
  const done = join(cache, '.installed');
  if (!existsSync(done)) {
    rmSync(cache, { recursive: true, force: true });
    mkdirSync(cache, { recursive: true });
    manifest.devDependencies = { ...manifest.devDependencies, 'create-xms-app': packCheckout(cache) };
    writeFileSync(join(cache, 'package.json'), JSON.stringify(manifest, null, 2));
    const lock = join(appDir, 'package-lock.json');
    if (existsSync(lock)) cpSync(lock, join(cache, 'package-lock.json'));
    const installed = sh('npm', ['install', '--no-audit', '--no-fund'], cache);
    if (installed.status !== 0) {
      rmSync(cache, { recursive: true, force: true });
      throw new Error(`npm install failed:\n${tail(installed.output)}`);
    }
    writeFileSync(done, '');
  }
  return join(cache, 'node_modules');
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
