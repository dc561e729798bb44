// run-tests: lock=faults
// Fault: the server is killed (SIGKILL) in the middle of a CSV import. Nothing of that import may be
// visible (rows or ledger entry), and a retry of the same file imports it once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { faultKit, ORIGIN, sleep, type FaultApp, type Server } from '../helpers/faults.js';

const kit = faultKit('import');
let app: FaultApp;
let server: Server;
test.before(async () => {
  app = await kit.app(kit.cluster());
  server = await kit.server(app);
});
test.after(() => kit.cleanup());

const ROWS = 40_000;
const rows = Array.from({ length: ROWS }, (_, i) => `row ${i},body of row ${i} ${'x'.repeat(40)}\n`);
const csv = Buffer.from(`title,body\n${rows.join('')}`);

/** Waits (bounded) until fn() is true. */
async function until(what: string, fn: () => Promise<boolean>, seconds = 30): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

const importBackends = async () =>
  (
    await app.sql<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity where datname = current_database() and usename = 'xms_app' and backend_xid is not null`,
    )
  )[0]!.n;

test('SIGKILL mid-import leaves nothing; the retry imports the file once', async () => {
  const user = await app.user('member');
  const boundary = `----fault${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n`);
  const tailPart = Buffer.from(`\r\n--${boundary}--\r\n`);

  // stream the first half, then hold the upload open: the server is staging rows in its transaction
  const upload = request(`${server.url}/api/imports/records`, {
    method: 'POST',
    headers: { origin: ORIGIN, cookie: user.cookie, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + csv.length + tailPart.length },
  });
  const outcome = new Promise<string>((resolve) => {
    upload.on('error', (error) => resolve(`error: ${error.message}`));
    upload.on('response', (res) => resolve(`status ${res.statusCode}`));
  });
  upload.write(head);
  upload.write(csv.subarray(0, csv.length / 2));
  await until('the import transaction is open on the server', async () => (await importBackends()) > 0);
  await sleep(500); // let it stage some batches
  await server.kill();
  assert.match(await outcome, /^error/, 'the killed server answered nothing');
  upload.destroy();

  // PostgreSQL sees the connection drop and rolls the transaction back
  await until('the killed server\'s transaction is gone', async () => (await importBackends()) === 0);
  const [after] = await app.sql<{ records: number; ledger: number }>(
    `select (select count(*)::int from app.records where tenant_id = $1) as records,
            (select count(*)::int from app.imports where tenant_id = $1) as ledger`,
    [user.tenantId],
  );
  assert.equal(after, { records: 0, ledger: 0 });

  // a new server; the same file, this time whole
  server = await kit.server(app);
  const send = async () => {
    const form = new FormData();
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'big.csv');
    const res = await fetch(`${server.url}/api/imports/records`, { method: 'POST', headers: { origin: ORIGIN, cookie: user.cookie }, body: form });
    return { status: res.status, body: (await res.json()) as { inserted: number; duplicates: { file: boolean } } };
  };
  const retry = await send();
  assert.is(retry.status, 200, JSON.stringify(retry.body));
  assert.is(retry.body.inserted, ROWS);
  const again = await send();
  assert.is(again.status, 200, JSON.stringify(again.body));
  assert.is(again.body.inserted, 0);
  assert.ok(again.body.duplicates.file);
  const [final] = await app.sql<{ records: number; ledger: number }>(
    `select (select count(*)::int from app.records where tenant_id = $1) as records,
            (select count(*)::int from app.imports where tenant_id = $1) as ledger`,
    [user.tenantId],
  );
  assert.equal(final, { records: ROWS, ledger: 1 });
});

test.run();
