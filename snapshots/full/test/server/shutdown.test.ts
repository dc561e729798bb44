/**
 * The production entry point (src/server/index.ts) as its own process: SIGTERM lets it close the
 * server and the database and exit with 0, instead of dying of the signal (which loses the last
 * asynchronous log lines). On a migrated PGlite data folder of its own, in test mode.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const dataDir = mkdtempSync(join(tmpdir(), 'xms-shutdown-'));
const env = { ...process.env, NODE_ENV: 'test', DATABASE_URL: '', PGLITE_DATA_DIR: dataDir, HOST: '127.0.0.1' };
test.after(() => rmSync(dataDir, { recursive: true, force: true }));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

test('SIGTERM: the server closes and the process exits with 0', async () => {
  const migrated = spawnSync(process.execPath, ['--import', 'tsx', 'src/db/migrate.ts'], { env, encoding: 'utf8', timeout: 300_000 });
  assert.is(migrated.status, 0, `migrate: ${migrated.stderr}`);
  const port = await freePort();
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/server/index.ts'], { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout.on('data', (chunk) => (output += chunk));
  server.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    const started = Date.now();
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      assert.ok(Date.now() - started < 120_000 && server.exitCode === null, `the server did not start: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    server.kill('SIGTERM');
    const { code, signal } = await exited;
    assert.equal({ code, signal }, { code: 0, signal: null }, `exit after SIGTERM: ${output}`);
    const refused = await fetch(`http://127.0.0.1:${port}/health`).then(() => false, () => true);
    assert.ok(refused, 'nothing listens any more');
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }
});

test.run();
