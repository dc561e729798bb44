// app.records over HTTP (written by `xms add table records`). The permission matrix tests
// (test/db) cover every cell of permissions.yml for this table; these check the routes themselves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { scopeOf } from '../../src/generated/permissions.js';

let t: TestApp;
test.before(async () => {
  t = await startTestApp();
});
test.after(async () => {
  await t?.close();
});

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

test.run();
