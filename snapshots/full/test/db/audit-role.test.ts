/**
 * Audit (invariants I7, I17): the db_role recorded for a write without a session is the transaction's
 * request role, never a custom setting. Any role can set_config('app.db_role', ...), so a setting
 * would let a caller write another role into the audit log. Read back by a role the matrix lets read
 * audit_log (through xms_app, never as superuser).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testData } from '../../src/generated/permissions.testdata.js';
import { openTestDatabase, probe, type TestDatabase } from '../helpers/db.js';

const test = suite('audit-role');
let t: TestDatabase;

test.before(async () => {
  t = await openTestDatabase();
});
test.after(async () => {
  await t?.close();
});

const auditor = testData.cells.find((c) => c.table === 'audit_log' && c.action === 'select' && (c.scope === 'tenant' || c.scope === 'all'));

test('a session-less write records its request role; a spoofed app.db_role setting changes nothing', async () => {
  if (!auditor) {
    console.log('  (skipped: no matrix role may read audit_log with scope tenant or all)');
    return;
  }
  const reader = t.f.actor(auditor.role);
  const r = await probe(t.db, null, async (tx) => {
    // the auth subsystem's role, as withAuthTransaction runs it (no session token, its auth key)
    await tx.query('set local role xms_auth');
    await tx.query(`select set_config('app.auth_key', $1, true)`, [t.db.authKey]);
    await tx.query(`select set_config('app.db_role', 'xms_${auditor.role}', true)`);
    await tx.query(`insert into app.memberships (user_id, tenant_id, role) values ($1, $2, $3)`, [t.f.loner.id, t.f.tenant1, testData.roles[0]]);
    await tx.query(`set local role "xms_${reader.role}"`);
    await tx.query(`select set_config('app.session_token', $1, true)`, [reader.token]);
    const rows = await tx.query<{ db_role: string | null; actor_id: string | null }>(
      `select db_role, actor_id from audit.log where txid = txid_current() and table_name = 'app.memberships'`,
    );
    return rows.rows;
  });
  assert.ok(r.ok, `${r.code} ${r.error}`);
  assert.equal(r.value, [{ db_role: 'xms_auth', actor_id: null }]);
});

test.run();
