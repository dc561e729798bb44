// POST /api/admin/archive-old-records (written by `xms add admin-function archive-old-records`): admins only, refused
// on the server for members, recorded in the admin's transaction.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestApp, type TestApp, type TestUser } from '../helpers/app.js';
import { withRequestTransaction } from '../../src/db/request.js';
import { can } from '../../src/generated/permissions.js';

let t: TestApp;
test.before(async () => {
  t = await startTestApp();
});
test.after(async () => {
  await t?.close();
});

/** The trail rows of this operation that `admin` can see (their tenant), read as that admin. */
async function trail(admin: TestUser) {
  const rows = await withRequestTransaction(t.db, { sessionToken: admin.token, dbRole: 'admin' }, (tx) =>
    tx.query<{ owner_id: string; tenant_id: string; input: { reason: string } }>(
      `select owner_id, tenant_id, input from app.admin_operations where operation = 'archive-old-records'`,
    ),
  );
  return rows.rows;
}

test('no session: 401', async () => {
  assert.is((await t.call(null, 'POST', '/api/admin/archive-old-records', { reason: 'x' })).statusCode, 401);
});

test('a member is refused (403) and nothing is recorded', async () => {
  const admin = await t.user({ role: 'admin' });
  const member = await t.user({ role: 'member', tenantId: admin.tenantId });
  const res = await t.call(member, 'POST', '/api/admin/archive-old-records', { reason: 'let me in' });
  assert.is(res.statusCode, 403, res.body);
  assert.equal(await trail(admin), []);
});

test('an admin runs it; the trail names the admin and the tenant; another tenant sees nothing', async () => {
  const admin = await t.user({ role: 'admin' });
  const res = await t.call(admin, 'POST', '/api/admin/archive-old-records', { reason: 'monthly clean-up' });
  assert.is(res.statusCode, 200, res.body);
  assert.is(res.json().operation, 'archive-old-records');
  const rows = await trail(admin);
  assert.is(rows.length, 1);
  assert.is(rows[0]!.owner_id, admin.id);
  assert.is(rows[0]!.tenant_id, admin.tenantId);
  assert.is(rows[0]!.input.reason, 'monthly clean-up');
  if (can('admin', 'audit_log', 'select')) {
    const audited = await withRequestTransaction(t.db, { sessionToken: admin.token, dbRole: 'admin' }, (tx) =>
      tx.query(`select 1 from audit.log where table_name = 'app.admin_operations' and action = 'INSERT' and actor_id = $1`, [admin.id]),
    );
    assert.is(audited.rows.length, 1, 'the audit log records the admin as the actor');
  }
  assert.equal(await trail(await t.user({ role: 'admin' })), []);
});

test('invalid input: 400', async () => {
  const admin = await t.user({ role: 'admin' });
  assert.is((await t.call(admin, 'POST', '/api/admin/archive-old-records', {})).statusCode, 400);
});

test.run();
