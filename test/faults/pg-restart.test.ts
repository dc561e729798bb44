// run-tests: lock=faults
// Fault: PostgreSQL restarts (fast: every session is ended) while the app is writing. The pool must
// recover, a request after the restart must succeed, and nothing may be half-written: every record
// the API confirmed (201) exists with exactly one audit row; a request that failed left nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { faultKit, sleep, type FaultApp, type Server } from '../helpers/faults.js';

const kit = faultKit('restart');
let app: FaultApp;
let server: Server;
let restart: () => Promise<void>;
test.before(async () => {
  const cluster = kit.cluster();
  restart = cluster.restart;
  app = await kit.app(cluster);
  server = await kit.server(app, { DATABASE_POOL_MAX: '6' });
});
test.after(() => kit.cleanup());

test('records written under load while PostgreSQL restarts: confirmed ones exist once with one audit row, failed ones left nothing', async () => {
  const user = await app.user('member');
  const confirmed = new Map<string, string>(); // title -> id
  const failed: string[] = [];
  let stop = false;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const title = `w${w}-${i}`;
      try {
        const res = await server.fetch(user, 'POST', '/api/records', { title, body: 'under load' });
        if (res.status === 201) confirmed.set(title, res.json.id);
        else failed.push(title);
      } catch {
        failed.push(title); // the connection itself failed
      }
    }
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  await sleep(1500);
  const beforeRestart = confirmed.size;
  await restart();
  await sleep(1000);
  stop = true;
  await Promise.all(workers);
  assert.ok(beforeRestart > 0, 'writes succeeded before the restart');
  assert.ok(failed.length > 0, 'the restart made some requests fail (else nothing was tested)');
  assert.ok(server.process.exitCode === null, `the server survived the restart:\n${server.output()}`);

  // the pool recovers: every request after the restart succeeds
  for (let i = 0; i < 20; i++) {
    const res = await server.fetch(user, 'POST', '/api/records', { title: `after-${i}`, body: 'after' });
    assert.is(res.status, 201, `request ${i} after the restart: ${JSON.stringify(res.json)}\n${server.output()}`);
    confirmed.set(`after-${i}`, res.json.id);
  }

  const rows = await app.sql<{ id: string; title: string }>('select id, title from app.records where tenant_id = $1', [user.tenantId]);
  const byTitle = new Map(rows.map((r) => [r.title, r.id]));
  for (const [title, id] of confirmed) assert.is(byTitle.get(title), id, `confirmed record ${title} is missing`);
  for (const title of failed) assert.not.ok(byTitle.has(title), `failed request ${title} left a row`);
  assert.is(rows.length, confirmed.size, 'no row but the confirmed ones');
  const audit = await app.sql<{ id: string; n: number }>(
    `select row_key->>'id' as id, count(*)::int as n from audit.log
      where table_name = 'app.records' and action = 'INSERT' and tenant_id = $1 group by 1`,
    [user.tenantId],
  );
  const audited = new Map(audit.map((a) => [a.id, a.n]));
  for (const id of confirmed.values()) assert.is(audited.get(id), 1, `record ${id} has ${audited.get(id) ?? 0} audit rows`);
  assert.is(audit.length, confirmed.size, 'no audit row for a write that did not happen');
});

test.run();
