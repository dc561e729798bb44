// run-tests: lock=faults
// Fault: two app instances behind one database, writing at the same time. "No lost update" for this
// API: a PATCH sets only the fields it names, so two PATCHes of different fields of one row, sent to
// different instances at the same moment, must both be in the row afterwards; every confirmed (2xx)
// create and change is present; and the audit log holds exactly one row per change, chained: the
// later UPDATE's old_row already carries the earlier one's change (the writes were serialised).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { faultKit, type FaultApp, type Server } from '../helpers/faults.js';

const kit = faultKit('instances');
let app: FaultApp;
let a: Server;
let b: Server;
test.before(async () => {
  app = await kit.app(kit.cluster());
  [a, b] = await Promise.all([kit.server(app), kit.server(app)]);
});
test.after(() => kit.cleanup());

const N = 40;

test('concurrent creates and PATCHes through two instances: nothing lost, one audit row per change', async () => {
  const admin = await app.user('admin');
  const created = await Promise.all(
    Array.from({ length: N }, (_, i) => (i % 2 ? a : b).fetch(admin, 'POST', '/api/records', { title: `t-${i}`, body: `b-${i}` })),
  );
  for (const res of created) assert.is(res.status, 201, JSON.stringify(res.json));
  const ids = created.map((res) => res.json.id as string);

  // at once: A changes every title, B every body, and both create more rows
  const results = await Promise.all([
    ...ids.map((id, i) => a.fetch(admin, 'PATCH', `/api/records/${id}`, { title: `A-${i}` })),
    ...ids.map((id, i) => b.fetch(admin, 'PATCH', `/api/records/${id}`, { body: `B-${i}` })),
    ...Array.from({ length: N }, (_, i) => (i % 2 ? b : a).fetch(admin, 'POST', '/api/records', { title: `more-${i}`, body: 'x' })),
  ]);
  for (const res of results) assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res));
  const moreIds = results.slice(2 * N).map((res) => res.json.id as string);

  const rows = await app.sql<{ id: string; title: string; body: string }>('select id, title, body from app.records where tenant_id = $1', [admin.tenantId]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  assert.is(rows.length, 2 * N);
  ids.forEach((id, i) => {
    assert.equal(byId.get(id), { id, title: `A-${i}`, body: `B-${i}` }, `row ${i} lost a change`);
  });
  for (const id of moreIds) assert.ok(byId.has(id), `created row ${id} is missing`);

  const audit = await app.sql<{ id: string; action: string; old_row: Record<string, string> | null; new_row: Record<string, string> | null }>(
    `select row_key->>'id' as id, action, old_row, new_row from audit.log
      where table_name = 'app.records' and tenant_id = $1 order by audit.log.id`,
    [admin.tenantId],
  );
  const inserts = audit.filter((e) => e.action === 'INSERT');
  assert.is(inserts.length, 2 * N, 'one INSERT audit row per created record');
  assert.equal(new Set(inserts.map((e) => e.id)), new Set([...ids, ...moreIds]));
  ids.forEach((id, i) => {
    const updates = audit.filter((e) => e.action === 'UPDATE' && e.id === id);
    assert.is(updates.length, 2, `row ${i}: one UPDATE audit row per PATCH`);
    const [first, second] = updates as [(typeof updates)[0], (typeof updates)[0]];
    // the second change saw the first: its old row holds the first one's new values
    assert.equal({ title: second.old_row!.title, body: second.old_row!.body }, { title: first.new_row!.title, body: first.new_row!.body });
    assert.equal({ title: second.new_row!.title, body: second.new_row!.body }, { title: `A-${i}`, body: `B-${i}` });
  });
  assert.is(audit.length, 2 * N + 2 * N, 'no other audit row');
});

test.run();
