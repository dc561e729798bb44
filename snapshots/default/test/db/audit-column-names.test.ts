/**
 * The audit trigger audits a table whose columns are named like the trigger's own variables (secret,
 * quiet, actor, pk, tbl, key1, ...): a bare name in its statements means the variable
 * (#variable_conflict use_variable in audit.log_changes()), so such a table is audited, its declared
 * secret column redacted and its declared quiet column ignored, instead of every write failing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

let t: TestDatabase;
test.before(async () => {
  t = await openTestDatabase({
    shared: true,
    seed: false,
    mutate: `
      create table app_private.variable_names (
        pk text primary key, secret text, quiet text, actor text, actor_tenant text, actor_role text,
        tbl text, key1 text, tenant_col text, j text, k text
      );
      alter table app_private.variable_names owner to xms_owner;
      select audit.enable_tracking('app_private.variable_names');
      insert into audit.table_rules (table_name, redact, ignore_updates_of)
        values ('app_private.variable_names', '{secret}', '{quiet}');`,
  });
});
test.after(async () => {
  await t?.close();
});

interface Row {
  action: string;
  row_key: Record<string, unknown>;
  old_row: Record<string, unknown> | null;
  new_row: Record<string, unknown> | null;
}

test('a table with columns named secret, quiet, actor, pk, ... is audited, redacted and quiet as declared', async () => {
  await t.owner.query(
    `insert into app_private.variable_names values ('one', 'hunter2-secret', 'q', 'a', 't', 'r', 'tb', 'k1', 'tc', 'jj', 'kk')`,
  );
  await t.owner.query(`update app_private.variable_names set quiet = 'q2' where pk = 'one'`);
  await t.owner.query(`update app_private.variable_names set actor = 'a2', secret = 'hunter3-secret' where pk = 'one'`);
  await t.owner.query(`delete from app_private.variable_names where pk = 'one'`);
  const rows = (
    await t.owner.query<Row>(
      `select action, row_key, old_row, new_row from audit.log where table_name = 'app_private.variable_names' order by id`,
    )
  ).rows;
  assert.equal(rows.map((r) => r.action), ['INSERT', 'UPDATE', 'DELETE'], 'the quiet-only update wrote nothing');
  assert.equal(rows[0]!.row_key, { pk: 'one' }, 'the key column pk, not the variable');
  assert.is(rows[0]!.new_row!.secret, '[redacted]');
  assert.is(rows[0]!.new_row!.actor, 'a', 'the column actor is copied as a value');
  assert.is(rows[1]!.old_row!.actor, 'a');
  assert.is(rows[1]!.new_row!.actor, 'a2');
  assert.is(rows[1]!.new_row!.secret, '[redacted]');
  assert.is(rows[2]!.old_row!.tbl, 'tb');
  const text = JSON.stringify(rows);
  assert.not.ok(text.includes('hunter'), 'no secret value in the audit log');
});

test.run();
