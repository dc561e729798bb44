import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MatrixError, parseMatrix } from '../../lib/matrix/index.js';

const TABLES = ['audit_log', 'memberships', 'records', 'tenants', 'users'];

function errors(src: string, tables = TABLES): string[] {
  try {
    parseMatrix(src, { tables });
  } catch (err) {
    assert.instance(err, MatrixError);
    return (err as MatrixError).problems;
  }
  assert.unreachable('expected a MatrixError');
  return [];
}

const HEAD = `version: 1
roles:
  admin: Administrators
  member: Members
tables:
`;

test('absent means none; a scalar gives one scope to every action', () => {
  const m = parseMatrix(HEAD + '  records:\n    admin: tenant\n    member: { select: own }\n', { tables: TABLES });
  assert.equal(m.roles.map((r) => r.name), ['admin', 'member']);
  assert.equal(m.cells.records!.admin, { select: 'tenant', insert: 'tenant', update: 'tenant', delete: 'tenant' });
  assert.equal(m.cells.records!.member, { select: 'own', insert: 'none', update: 'none', delete: 'none' });
  assert.equal(m.cells.tenants!.member, { select: 'none', insert: 'none', update: 'none', delete: 'none' });
  assert.equal(Object.keys(m.cells).sort(), TABLES);
});

test('unknown scope: file, line and the expected values', () => {
  const src = HEAD + '  records:\n    admin: tenant\n    member:\n      select: tenantt\n';
  assert.equal(errors(src), [
    'permissions.yml:9: unknown scope "tenantt" for records.member.select (expected none, own, tenant, all)',
  ]);
});

test('unknown table, role and action are reported together, each with its line', () => {
  const src = HEAD + '  recordz:\n    admin: tenant\n  records:\n    membr: tenant\n    member: { selct: own }\n';
  assert.equal(errors(src), [
    'permissions.yml:6: unknown table "recordz" (known tables: audit_log, memberships, records, tenants, users)',
    'permissions.yml:9: unknown role "membr" in records (declared roles: admin, member)',
    'permissions.yml:10: unknown action "selct" for records.member (expected select, insert, update, delete)',
  ]);
});

test('role names: reserved, invalid, duplicate', () => {
  const e = errors('roles:\n  anon: x\n  Bad-Name: y\ntables: {}\n');
  assert.equal(e, [
    'permissions.yml:2: role name "anon" is reserved (xms_anon is created by the base migration)',
    'permissions.yml:3: invalid role name "Bad-Name" (lower case letters, digits and _, starting with a letter, at most 30)',
  ]);
  const d = errors('roles:\n  - admin\n  - admin\ntables: {}\n');
  assert.equal(d, ['permissions.yml:3: duplicate role "admin"']);
});

test('YAML syntax errors and duplicate keys carry the line', () => {
  const e = errors(HEAD + '  records:\n    admin: tenant\n    admin: own\n');
  assert.is(e.length, 1);
  assert.match(e[0]!, /^permissions\.yml:8: /);
  const s = errors(HEAD + '  records:\n    admin: [tenant\n');
  assert.match(s[0]!, /^permissions\.yml:\d+: /);
});

test('unknown top-level keys and a custom file name', () => {
  try {
    parseMatrix('roles: [admin]\ntabels: {}\n', { file: 'config/perm.yml', tables: TABLES });
    assert.unreachable();
  } catch (err) {
    assert.equal((err as MatrixError).problems, ['config/perm.yml:2: unknown key "tabels" (expected version, roles, tables)']);
  }
});

test.run();
