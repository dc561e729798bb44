// app.products over HTTP (written by `xms add table products`). The permission matrix tests
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
  sku: 'sample',
  qty: 7,
  notes: 'sample',
  price: '1.50',
  active: true,
  due: '2024-01-31',
};

test('no session: every products route answers 401', async () => {
  for (const [method, url] of [['GET', '/api/products'], ['POST', '/api/products'], ['GET', '/api/products/00000000-0000-4000-8000-000000000000']] as const) {
    const res = await t.call(null, method, url, method === 'POST' ? row : undefined);
    assert.is(res.statusCode, 401, `${method} ${url}`);
  }
});

test('an admin creates, lists, reads, changes and deletes a row of their tenant', async () => {
  if (scopeOf('admin', 'products', 'insert') === 'none') return; // the matrix was edited: nothing to try
  const admin = await t.user({ role: 'admin' });
  const created = await t.call(admin, 'POST', '/api/products', row);
  assert.is(created.statusCode, 201, created.body);
  const id = created.json().id as string;
  assert.is(created.json().tenant_id, admin.tenantId);
  assert.is(created.json().owner_id, admin.id);
  const list = await t.call(admin, 'GET', '/api/products');
  assert.is(list.statusCode, 200);
  assert.ok(list.json().rows.some((r: { id: string }) => r.id === id));
  assert.is((await t.call(admin, 'GET', `/api/products/${id}`)).statusCode, 200);
  const patched = await t.call(admin, 'PATCH', `/api/products/${id}`, { sku: 'sample' });
  assert.is(patched.statusCode, 200, patched.body);
  assert.is((await t.call(admin, 'DELETE', `/api/products/${id}`)).statusCode, 204);
  assert.is((await t.call(admin, 'GET', `/api/products/${id}`)).statusCode, 404);
});

test('another tenant cannot see or change the row', async () => {
  if (scopeOf('admin', 'products', 'insert') === 'none') return;
  const admin = await t.user({ role: 'admin' });
  const other = await t.user({ role: 'admin' });
  const id = (await t.call(admin, 'POST', '/api/products', row)).json().id as string;
  assert.is((await t.call(other, 'GET', `/api/products/${id}`)).statusCode, 404);
  assert.is((await t.call(other, 'PATCH', `/api/products/${id}`, row)).statusCode, 404);
  assert.is((await t.call(other, 'DELETE', `/api/products/${id}`)).statusCode, 404);
  assert.ok(!(await t.call(other, 'GET', '/api/products')).json().rows.some((r: { id: string }) => r.id === id));
});

test('a member gets exactly what permissions.yml gives the member role', async () => {
  const member = await t.user({ role: 'member' });
  const list = await t.call(member, 'GET', '/api/products');
  assert.is(list.statusCode, scopeOf('member', 'products', 'select') === 'none' ? 403 : 200);
  const created = await t.call(member, 'POST', '/api/products', row);
  if (scopeOf('member', 'products', 'insert') === 'none') assert.is(created.statusCode, 403);
  else assert.is(created.statusCode, 201, created.body);
});

test('invalid input is refused with 400', async () => {
  const admin = await t.user({ role: 'admin' });
  const res = await t.call(admin, 'POST', '/api/products', [row]);
  assert.is(res.statusCode, 400);
  assert.is((await t.call(admin, 'GET', '/api/products/not-a-uuid')).statusCode, 400);
});

test('unknown and read-only fields are refused with 400 naming the field; nothing is written', async () => {
  if (scopeOf('admin', 'products', 'insert') === 'none') return;
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
    const res = await t.call(admin, 'POST', '/api/products', { ...row, [field]: value });
    assert.is(res.statusCode, 400, `POST with ${field}: ${res.body}`);
    assert.is(res.json().error, 'invalid_request');
    assert.ok(res.json().message.includes(`"${field}"`), res.json().message);
  }
  if (scopeOf('admin', 'products', 'select') !== 'none') assert.is((await t.call(admin, 'GET', '/api/products')).json().rows.length, 0);
  const created = await t.call(admin, 'POST', '/api/products', row);
  assert.is(created.statusCode, 201, created.body);
  const before = created.json();
  for (const [field, value] of Object.entries(forged)) {
    for (const body of [{ [field]: value }, { sku: 'sample', [field]: value }]) {
      const res = await t.call(admin, 'PATCH', `/api/products/${before.id}`, body);
      assert.is(res.statusCode, 400, `PATCH with ${field}: ${res.body}`);
      assert.ok(res.json().message.includes(`"${field}"`), res.json().message);
    }
  }
  const empty = await t.call(admin, 'PATCH', `/api/products/${before.id}`, {});
  assert.is(empty.statusCode, 400, empty.body);
  assert.match(empty.json().message, /no field to set/);
  if (scopeOf('admin', 'products', 'select') === 'none') return;
  const after = await t.call(admin, 'GET', `/api/products/${before.id}`);
  assert.equal(after.json(), before);
});

test.run();
