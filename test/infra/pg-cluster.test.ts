// scripts/pg-cluster.sh: a throw-away PostgreSQL cluster on loopback, reached through `pg`.
// Skipped (and says why) where no PostgreSQL binaries are installed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(repo, 'scripts/pg-cluster.sh');

function cluster(...args: string[]) {
  const r = spawnSync('bash', [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// mkdtemp under /tmp: the postgres system user must be able to enter every parent folder
const parent = mkdtempSync(path.join('/tmp', 'xms-pg-test-'));
chmodSync(parent, 0o755);
const dir = path.join(parent, 'cluster');
const started = cluster('start', dir);

if (started.code === 3) {
  console.log(`pg-cluster: skipped, ${started.stderr.trim()}`);
  rmSync(parent, { recursive: true, force: true });
  test.skip('start, select 1, stop (no PostgreSQL binaries here)', () => {});
} else {
  test('start prints one export line with a loopback URL on a non-default port', () => {
    assert.is(started.code, 0, started.stderr);
    assert.match(started.stdout, /^export DATABASE_URL=postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\n$/);
    const port = Number(/:(\d+)\//.exec(started.stdout)![1]);
    assert.ok(port !== 5432 && port >= 1024, `port ${port}`);
    assert.is(cluster('env', dir).stdout, started.stdout, '`env DIR` repeats the export line');
  });

  test('select 1 through pg; loopback only, socket in DIR, trust for postgres', async () => {
    const url = started.stdout.trim().replace(/^export DATABASE_URL=/, '');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query('select 1 as one, current_setting($1) as listen, current_setting($2) as sock, current_setting($3) as major',
        ['listen_addresses', 'unix_socket_directories', 'server_version_num']);
      assert.is(rows[0].one, 1);
      assert.is(rows[0].listen, '127.0.0.1');
      assert.is(rows[0].sock, dir);
      assert.ok(Number(rows[0].major) >= 150000, `server_version_num ${rows[0].major}`);
    } finally {
      await client.end();
    }
  });

  test('stop refuses a folder it did not make', () => {
    const other = mkdtempSync(path.join(os.tmpdir(), 'not-a-cluster-'));
    try {
      const r = cluster('stop', other);
      assert.is.not(r.code, 0);
      assert.match(r.stderr, /refusing/);
      assert.ok(existsSync(other));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('stop stops the server and removes the folder', async () => {
    const url = started.stdout.trim().replace(/^export DATABASE_URL=/, '');
    const r = cluster('stop', dir);
    assert.is(r.code, 0, r.stderr);
    assert.not.ok(existsSync(dir));
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    let refused = false;
    await client.connect().catch(() => { refused = true; });
    if (!refused) await client.end();
    assert.ok(refused, 'the server no longer answers');
  });

  test.after(() => {
    if (existsSync(dir)) cluster('stop', dir);
    rmSync(parent, { recursive: true, force: true });
  });
}

test.run();
