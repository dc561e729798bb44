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
    assert.equal((err as MatrixError).problems, ['config/perm.yml:2: unknown key "tabels" (expected version, roles, tables, audit)']);
  }
});

const AUDIT_TABLES = {
  'app.records': ['id', 'tenant_id', 'title'],
  'app_private.credentials': ['user_id', 'email', 'password_hash'],
  'app_private.sessions': ['token_hash', 'last_seen_at', 'idle_expires_at'],
  'app_private.auth_rate_limits': ['key', 'points', 'expire'],
};

function auditErrors(audit: string): string[] {
  try {
    parseMatrix(HEAD + '  records:\n    admin: tenant\n' + audit, { tables: TABLES, auditTables: AUDIT_TABLES });
  } catch (err) {
    assert.instance(err, MatrixError);
    return (err as MatrixError).problems;
  }
  assert.unreachable('expected a MatrixError');
  return [];
}

test('audit: exemptions with reasons, redacted and ignored columns, by qualified table (bare = app)', () => {
  const m = parseMatrix(
    HEAD +
      '  records:\n    admin: tenant\n' +
      'audit:\n  exempt:\n    app_private.auth_rate_limits: counters, no personal data\n' +
      '  redact:\n    app_private.credentials: [password_hash]\n    app_private.sessions: token_hash\n    records: [title]\n' +
      '  ignore_updates_of:\n    app_private.sessions: [last_seen_at, idle_expires_at]\n',
    { tables: TABLES, auditTables: AUDIT_TABLES },
  );
  assert.equal(m.audit, {
    exempt: { 'app_private.auth_rate_limits': 'counters, no personal data' },
    redact: { 'app_private.credentials': ['password_hash'], 'app_private.sessions': ['token_hash'], 'app.records': ['title'] },
    ignoreUpdatesOf: { 'app_private.sessions': ['idle_expires_at', 'last_seen_at'] },
  });
  assert.equal(parseMatrix(HEAD + '  records:\n    admin: tenant\n', { tables: TABLES }).audit, { exempt: {}, redact: {}, ignoreUpdatesOf: {} });
});

test('audit: an exemption without a reason, unknown tables, columns and keys are errors with their line', () => {
  assert.equal(auditErrors('audit:\n  exempt:\n    app_private.auth_rate_limits:\n'), [
    'permissions.yml:10: the audit exemption of app_private.auth_rate_limits needs a reason (app_private.auth_rate_limits: why its changes need no audit trail)',
  ]);
  assert.equal(auditErrors("audit:\n  exempt:\n    app_private.auth_rate_limits: '  '\n"), [
    'permissions.yml:10: the audit exemption of app_private.auth_rate_limits needs a reason (app_private.auth_rate_limits: why its changes need no audit trail)',
  ]);
  assert.equal(
    auditErrors('audit:\n  exempt:\n    app_private.nope: gone\n    audit.log: itself\n  redact:\n    app_private.credentials: [pasword_hash]\n  ignore:\n    records: [title]\n'),
    [
      'permissions.yml:10: unknown table "app_private.nope" in audit.exempt (tables of the migrations: app.records, app_private.auth_rate_limits, app_private.credentials, app_private.sessions)',
      'permissions.yml:11: audit.log in audit.exempt: the audit schema is not audited',
      'permissions.yml:13: unknown column "pasword_hash" of app_private.credentials in audit.redact (columns: user_id, email, password_hash)',
      'permissions.yml:14: unknown key "ignore" in audit (expected exempt, redact, ignore_updates_of)',
    ],
  );
  assert.equal(auditErrors('audit:\n  redact:\n    app_private.credentials: []\n'), [
    'permissions.yml:10: expected a list of columns of app_private.credentials in audit.redact',
  ]);
});

test.run();
