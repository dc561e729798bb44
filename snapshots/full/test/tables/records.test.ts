// app.records over HTTP (written by `xms add table records`). The permission matrix tests
// (test/db) cover every cell of permissions.yml for this table; these check the routes themselves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { scopeOf } from '../../src/generated/permissions.js';
import { withRequestTransaction } from '../../src/db/request.js';

let t: TestApp;
test.before(async () => {
  t = await startTestApp();
});
test.after(async () => {
  await t?.close();
});

const SEARCH: readonly string[] = ['title', 'body'];

const row = {
  title: 'sample',
  body: 'sample',
};

test('no session: every records route answers 401', async () => {
  for (const [method, url] of [['GET', '/api/records'], ['POST', '/api/records'], ['GET', '/api/records/00000000-0000-4000-8000-000000000000']] as const) {
    const res = await t.call(null, method, url, method === 'POST' ? row : undefined);
    assert.is(res.statusCode, 401, `${method} ${url}`);
  }
});

test('an admin creates, lists, reads, changes and deletes a row of their tenant', async () => {
  if (scopeOf('admin', 'records', 'insert') === 'none') return; // the matrix was edited: nothing to try
  const admin = await t.user({ role: 'admin' });
  const created = await t.call(admin, 'POST', '/api/records', row);
  assert.is(created.statusCode, 201, created.body);
  const id = created.json().id as string;
  assert.is(created.json().tenant_id, admin.tenantId);
  assert.is(created.json().owner_id, admin.id);
  const list = await t.call(admin, 'GET', '/api/records');
  assert.is(list.statusCode, 200);
  assert.ok(list.json().rows.some((r: { id: string }) => r.id === id));
  assert.is((await t.call(admin, 'GET', `/api/records/${id}`)).statusCode, 200);
  const patched = await t.call(admin, 'PATCH', `/api/records/${id}`, { title: 'sample' });
  assert.is(patched.statusCode, 200, patched.body);
  assert.is((await t.call(admin, 'DELETE', `/api/records/${id}`)).statusCode, 204);
  assert.is((await t.call(admin, 'GET', `/api/records/${id}`)).statusCode, 404);
});

test('another tenant cannot see or change the row', async () => {
  if (scopeOf('admin', 'records', 'insert') === 'none') return;
  const admin = await t.user({ role: 'admin' });
  const other = await t.user({ role: 'admin' });
  const id = (await t.call(admin, 'POST', '/api/records', row)).json().id as string;
  assert.is((await t.call(other, 'GET', `/api/records/${id}`)).statusCode, 404);
  assert.is((await t.call(other, 'PATCH', `/api/records/${id}`, row)).statusCode, 404);
  assert.is((await t.call(other, 'DELETE', `/api/records/${id}`)).statusCode, 404);
  assert.ok(!(await t.call(other, 'GET', '/api/records')).json().rows.some((r: { id: string }) => r.id === id));
});

test('a member gets exactly what permissions.yml gives the member role', async () => {
  const member = await t.user({ role: 'member' });
  const list = await t.call(member, 'GET', '/api/records');
  assert.is(list.statusCode, scopeOf('member', 'records', 'select') === 'none' ? 403 : 200);
  const created = await t.call(member, 'POST', '/api/records', row);
  if (scopeOf('member', 'records', 'insert') === 'none') assert.is(created.statusCode, 403);
  else assert.is(created.statusCode, 201, created.body);
});

test('invalid input is refused with 400', async () => {
  const admin = await t.user({ role: 'admin' });
  const res = await t.call(admin, 'POST', '/api/records', [row]);
  assert.is(res.statusCode, 400);
  assert.is((await t.call(admin, 'GET', '/api/records/not-a-uuid')).statusCode, 400);
});

test('unknown and read-only fields are refused with 400 naming the field; nothing is written', async () => {
  if (scopeOf('admin', 'records', 'insert') === 'none') return;
  const admin = await t.user({ role: 'admin' });
  const other = await t.user({ role: 'admin' });
  const forged = {
    tenant_id: other.tenantId,
    owner_id: other.id,
    id: '00000000-0000-4000-8000-000000000000',
    created_at: '2000-01-01T00:00:00Z',
    updated_at: '2000-01-01T00:00:00Z',
    no_such_column: 'x',
  };
  for (const [field, value] of Object.entries(forged)) {
    const res = await t.call(admin, 'POST', '/api/records', { ...row, [field]: value });
    assert.is(res.statusCode, 400, `POST with ${field}: ${res.body}`);
    assert.is(res.json().error, 'invalid_request');
    assert.ok(res.json().message.includes(`"${field}"`), res.json().message);
  }
  if (scopeOf('admin', 'records', 'select') !== 'none') assert.is((await t.call(admin, 'GET', '/api/records')).json().rows.length, 0);
  const created = await t.call(admin, 'POST', '/api/records', row);
  assert.is(created.statusCode, 201, created.body);
  const before = created.json();
  for (const [field, value] of Object.entries(forged)) {
    for (const body of [{ [field]: value }, { title: 'sample', [field]: value }]) {
      const res = await t.call(admin, 'PATCH', `/api/records/${before.id}`, body);
      assert.is(res.statusCode, 400, `PATCH with ${field}: ${res.body}`);
      assert.ok(res.json().message.includes(`"${field}"`), res.json().message);
    }
  }
  const empty = await t.call(admin, 'PATCH', `/api/records/${before.id}`, {});
  assert.is(empty.statusCode, 400, empty.body);
  assert.match(empty.json().message, /no field to set/);
  if (scopeOf('admin', 'records', 'select') === 'none') return;
  const after = await t.call(admin, 'GET', `/api/records/${before.id}`);
  assert.equal(after.json(), before);
});

type Page = { rows: Record<string, unknown>[]; total: number; next: string | null };

test('1,000+ rows: keyset pages visit every row once, newest first; search and total agree; bad cursors get 400', async () => {
  if (scopeOf('admin', 'records', 'insert') === 'none' || scopeOf('admin', 'records', 'select') === 'none') return;
  const admin = await t.user({ role: 'admin' });
  const other = await t.user({ role: 'admin' });
  // three transactions: three created_at values shared by 350 rows each, so the id must break the ties
  const write = (who: typeof admin, from: number, to: number) =>
    withRequestTransaction(t.db, { sessionToken: who.token, dbRole: 'admin' }, (tx) =>
      tx.query(
        `insert into app.records ("title", "body")
         select 'sample-' || g, 'sample-' || g from generate_series($1::int, $2::int) g`,
        [from, to],
      ),
    );
  for (const from of [1, 351, 701]) await write(admin, from, from + 349);
  await write(other, 2000, 2100);

  const seen: Record<string, unknown>[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const res = await t.call(admin, 'GET', `/api/records?limit=100${after ? `&after=${after}` : ''}`);
    assert.is(res.statusCode, 200, res.body);
    const page = res.json() as Page;
    assert.is(page.total, 1050);
    seen.push(...page.rows);
    after = page.next;
    pages += 1;
  } while (after && pages < 20);
  assert.is(pages, 11);
  assert.is(seen.length, 1050);
  assert.is(new Set(seen.map((r) => r.id)).size, 1050, 'no row twice');
  assert.ok(seen.every((r) => r.tenant_id === admin.tenantId), 'only the tenant of the session');
  for (let i = 1; i < seen.length; i++) {
    const [a, b] = [seen[i - 1]!, seen[i]!];
    const [older, newer] = [Date.parse(String(b.created_at)), Date.parse(String(a.created_at))];
    assert.ok(newer >= older, `row ${i} is not older than row ${i - 1}`);
    if (newer === older) assert.ok(String(a.id) > String(b.id), `row ${i}: rows of one instant are ordered by id`);
  }

  if (SEARCH.length) {
    const q = String(seen[500]![SEARCH[0]!]).slice(-3).toUpperCase();
    const expected = seen.filter((r) => SEARCH.some((c) => String(r[c] ?? '').toLowerCase().includes(q.toLowerCase())));
    const found: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page = (await t.call(admin, 'GET', `/api/records?limit=7&q=${encodeURIComponent(q)}${cursor ? `&after=${cursor}` : ''}`)).json() as Page;
      assert.is(page.total, expected.length);
      found.push(...page.rows.map((r) => r.id));
      cursor = page.next;
    } while (cursor);
    assert.equal(found, expected.map((r) => r.id), `search "${q}"`);
    const wildcard = (await t.call(admin, 'GET', '/api/records?q=%25')).json() as Page;
    assert.is(wildcard.total, 0, '% is a character, not a wildcard');
  }

  const id = String(seen[0]!.id);
  const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  for (const bad of ['x', '!!!', forged(['2024-13-45T99:00:00.000000Z', id]), forged(['2024-01-01T00:00:00.000000Z']), forged({ a: 1 }),
    forged(["2024-01-01T00:00:00.000000Z' or 1=1--", id]), forged(['2024-01-01T00:00:00.000000Z', 'not-a-uuid']), 'a'.repeat(201)]) {
    const res = await t.call(admin, 'GET', `/api/records?after=${encodeURIComponent(bad)}`);
    assert.is(res.statusCode, 400, `cursor ${bad}: ${res.body}`);
  }

  // the page query is a scan of (tenant_id, created_at, id), as the runtime role, RLS applied. The
  // runtime role may not ANALYZE, so the planner believes the table tiny: with sorting priced out it
  // must find an index that yields the order within the tenant (it does so unasked on a real table).
  await withRequestTransaction(t.db, { sessionToken: admin.token, dbRole: 'admin' }, async (tx) => {
    await tx.query('set local enable_sort = off');
    for (const where of ['', `where (created_at, id) < (now(), '${id}'::uuid)`]) {
      const plan = (await tx.query<Record<string, string>>(`explain select * from app.records ${where} order by created_at desc, id desc limit 101`)).rows
        .map((r) => Object.values(r)[0])
        .join('\n');
      assert.match(plan, /Index Scan Backward using records_tenant_id_created_at_idx/, plan);
      assert.match(plan, /Index Cond: \(+tenant_id = /, plan);
      assert.not.match(plan, /Sort/, plan);
    }
  });
});

test.run();
