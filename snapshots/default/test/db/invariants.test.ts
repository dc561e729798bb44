/**
 * The invariant queries (src/db/invariants.ts, also used by `xms check`): a clean database keeps them
 * all; the weakening changes from the brief - a SECURITY DEFINER delete helper, a view without
 * security_invoker, RLS no longer forced, a disabled audit trigger, a new table without RLS or audit
 * whose secret column the audit log would copy - are each reported. The queries and the proofs run as xms_app / request roles.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkInvariants, formatViolations, type Violation } from '../../src/db/invariants.js';
import { audit } from '../../src/generated/permissions.js';
import { testData } from '../../src/generated/permissions.testdata.js';
import { openTestDatabase, probe, type TestDatabase } from '../helpers/db.js';

const role = testData.roles.find((r) => testData.cells.some((c) => c.role === r && c.table === 'records' && c.action === 'select' && c.scope !== 'none')) ?? testData.roles[0]!;

// What an assistant might write: each looks harmless and each silently skips RLS or audit.
const BAD_MIGRATION = `
-- a delete "helper" that runs with its owner's rights
create function app.delete_record(record_id uuid) returns void
  language sql security definer
  as $$ delete from app.records where id = record_id $$;
grant execute on function app.delete_record(uuid) to xms_${role};
-- a view without security_invoker: reads with its owner's rights
create view app.all_records as select * from app.records;
grant select on app.all_records to xms_${role};
alter table app.tenants no force row level security;
alter table app.memberships disable trigger xms_audit_update;
create table app_private.notes (id int primary key, body text, api_token text);
`;

const test = suite('invariants');

test('a freshly migrated database keeps every invariant', async () => {
  const t = await openTestDatabase();
  try {
    const violations = await checkInvariants(t.db);
    assert.equal(violations, [], formatViolations(violations));
  } finally {
    await t.close();
  }
});

test('the weakening changes are each reported, and the RLS bypass is real', async () => {
  const t = await openTestDatabase({ mutate: BAD_MIGRATION });
  try {
    const v: Violation[] = await checkInvariants(t.db);
    const has = (invariant: string, object: string, problem: RegExp) =>
      assert.ok(
        v.some((x) => x.invariant === invariant && x.object === object && problem.test(x.problem)),
        `expected ${invariant} on ${object} (${problem}); got:\n${formatViolations(v)}`,
      );
    has('security-definer', 'app.delete_record(uuid)', /search_path/);
    has('security-definer', 'app.delete_record(uuid)', /PUBLIC/);
    has('security-definer', 'app.delete_record(uuid)', new RegExp(`request role xms_${role}`));
    has('views-security-invoker', 'app.all_records', /security_invoker/);
    has('rls-enabled-forced', 'app.tenants', /not forced/);
    has('audit-triggers', 'app.memberships', /xms_audit_update/);
    has('rls-enabled-forced', 'app_private.notes', /disabled/);
    // app_private is audited too (only permissions.yml audit.exempt skips a table), secrets redacted
    has('audit-triggers', 'app_private.notes', /xms_audit_insert/);
    has('audit-secrets-redacted', 'app_private.notes.api_token', /audit\.redact/);
    for (const exempt of Object.keys(audit.exempt)) {
      assert.not.ok(v.some((x) => x.invariant === 'audit-triggers' && x.object === exempt), `${exempt} is declared exempt: not a violation`);
    }

    // why it matters: through the view and the helper a tenant-1 user reaches tenant 2
    const me = t.f.actor(role, 1);
    const seen = await probe(t.db, me, async (tx) =>
      (await tx.query(`select 1 from app.all_records where tenant_id = $1`, [t.f.tenant2])).rowCount,
    );
    assert.ok(seen.ok && seen.value! > 0, 'the definer view leaks tenant 2 (the reason for the check)');
  } finally {
    await t.close();
  }
});

test('a table created later by hand in schema app gets RLS forced and audit (event trigger)', async () => {
  const t = await openTestDatabase({
    mutate: `create table app.handmade (id uuid primary key default gen_random_uuid(), tenant_id uuid not null, body text);`,
  });
  try {
    const v = (await checkInvariants(t.db)).filter((x) => x.object === 'app.handmade');
    const superuser = t.kind === 'pglite' || process.env.TEST_DATABASE_SUPERUSER !== 'false';
    if (superuser) assert.equal(v, [], formatViolations(v));
    else assert.ok(v.length > 0, 'without the event trigger the check reports the table');
    // default deny: no request role has any privilege on it
    const r = await probe(t.db, t.f.actor(role, 1), (tx) => tx.query('select * from app.handmade'));
    assert.ok(!r.ok && r.code === '42501');
  } finally {
    await t.close();
  }
});

test.run();
