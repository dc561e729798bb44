/**
 * Debian's PgBouncer in transaction pooling mode (what Supabase's pooler and most PgBouncer setups
 * run) in front of a PostgreSQL server on 127.0.0.1, for the scale-out tests:
 *
 *   const pooler = await startPgbouncer(adminUrl, { poolSize: 4 }); // null: not installed
 *   pooler.via(url)        // the same database and user, through the pooler
 *   await pooler.stop()
 *
 * A small pool makes every server connection serve many client transactions in turn, so session state
 * left by one request (a SET without LOCAL, a prepared statement name, an advisory lock) would reach
 * the next one. Run as the postgres system user when the tests run as root (pgbouncer refuses root).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface Pgbouncer {
  /** postgres://... of the pooler (the user and database of `url`) */
  via(url: string): string;
  /** PgBouncer's own console (SHOW SERVERS, ...), as the admin user */
  admin<T = Record<string, unknown>>(command: string): Promise<T[]>;
  version: string;
  stop(): Promise<void>;
}

/** The pgbouncer binary (PATH, then Debian's /usr/sbin), or null when it is not installed. */
export function pgbouncerBinary(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v pgbouncer || { test -x /usr/sbin/pgbouncer && echo /usr/sbin/pgbouncer; }'], { encoding: 'utf8' });
  const path = found.stdout?.trim();
  return found.status === 0 && path ? path : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function startPgbouncer(serverUrl: string, options: { poolSize?: number; users?: string[] } = {}): Promise<Pgbouncer | null> {
  const binary = pgbouncerBinary();
  if (!binary) return null;
  const target = new URL(serverUrl);
  const dir = mkdtempSync(join(tmpdir(), 'xms-pgbouncer-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const adminUser = decodeURIComponent(target.username || 'postgres');
  const asRoot = process.getuid?.() === 0;
  const files: Record<string, string> = {
    // trust still needs every user listed: the admin and the app's runtime login
    'users.txt': [adminUser, ...(options.users ?? ['xms_app'])].map((u) => `"${u}" ""\n`).join(''),
    'pgbouncer.ini': [
      '[databases]',
      // every database of the server, logging in as the client's user (trust on 127.0.0.1)
      `* = host=${target.hostname} port=${target.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      `admin_users = ${adminUser}`,
      'pool_mode = transaction',
      'max_client_conn = 1000',
      `default_pool_size = ${options.poolSize ?? 4}`,
      'ignore_startup_parameters = extra_float_digits,options',
      '',
    ].join('\n'),
  };
  const owner = asRoot
    ? { uid: Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()), gid: Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()) }
    : undefined;
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text, { mode: 0o644 });
    if (owner) chownSync(join(dir, name), owner.uid, owner.gid);
  }
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const [cmd, args] = asRoot ? ['runuser', ['-u', 'postgres', '--', binary, join(dir, 'pgbouncer.ini')]] : [binary, [join(dir, 'pgbouncer.ini')]];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  // a crashed test run must not leave the pooler running
  const onExit = () => kill('SIGKILL');
  process.once('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const via = (url: string) => {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  };
  const connect = async (url: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    return c;
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`pgbouncer exited ${child.exitCode}:\n${output}`);
    }
    try {
      const c = await connect(via(serverUrl));
      await c.query('select 1');
      await c.end();
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`pgbouncer did not accept connections within 20 s: ${(error as Error).message}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const consoleUrl = new URL(via(serverUrl));
  consoleUrl.pathname = '/pgbouncer';
  return {
    via,
    version: spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]!,
    async admin<T>(command: string) {
      // the console speaks the simple query protocol only: a query without parameters uses it
      const c = await connect(consoleUrl.toString());
      try {
        return (await c.query(command)).rows as T[];
      } finally {
        await c.end();
      }
    },
    stop,
  };
}
