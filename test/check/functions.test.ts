/**
 * `xms check` on functions, triggers and event triggers (invariant I17): the building blocks (body
 * lexing and normalisation, setting reads in SQL and PL/pgSQL bodies, owned settings, the ownership
 * record kept while migrations apply) and whole apps: no false drift on fresh minimal / default / full
 * apps, after `xms add table`, or for a formatting-only redefinition; a redefinition in a user
 * migration is reported with that migration's name.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatReport, runCheck, type Report } from '../../lib/check/index.js';
import {
  compareOwnedObjects,
  isOwnedSetting,
  isXmsMigration,
  loadParser,
  newOwnedObjects,
  normalizeBody,
  OWNED_SETTINGS,
  recordMigration,
  settingReads,
  type DbObject,
} from '../../lib/check/functions.js';
import { REPO_ROOT, runCli, XMS_BIN } from '../helpers/cli.js';
import { scaffold } from './app.js';

// PGlite built from each app's migrations; a DATABASE_URL of other suites must not leak in here.
delete process.env.DATABASE_URL;

const DRIFT_IDS = ['DB017-function-drift', 'DB018-trigger-drift', 'DB019-function-reads-request-setting'];

test.before(async () => {
  await loadParser();
});

test('bodies are compared token by token: whitespace, comments and keyword case never differ', () => {
  const a = "select s.user_id\n  from app_private.sessions s -- the live one\n where s.token_hash = $1 /* nested /* comment */ */";
  const b = 'SELECT s.user_id FROM app_private.sessions s WHERE s.token_hash = $1';
  assert.is(normalizeBody(a), normalizeBody(b));
  // string contents and quoted identifiers keep their case and spacing
  assert.is.not(normalizeBody("select 'A  b'"), normalizeBody("select 'a b'"));
  assert.is.not(normalizeBody('select "Col"'), normalizeBody('select "col"'));
  assert.is.not(normalizeBody('select tenant_id'), normalizeBody('select owner_id'));
  assert.is(normalizeBody("select $q$ x $q$, E'it\\'s'"), normalizeBody("SELECT  $q$ x $q$,  E'it\\'s'"));
});

test('setting reads: SQL bodies parsed, PL/pgSQL calls and dynamic SQL found, comments ignored', () => {
  const names = (body: string, lang: string) => settingReads(body, lang).map((r) => r.name);
  assert.equal(names("select nullif(pg_catalog.current_setting('app.tenant_id', true), '')::uuid", 'sql'), ['app.tenant_id']);
  assert.equal(names("select current_setting('app.x'::text), current_setting(setting_name => 'app.y')", 'sql'), ['app.x', 'app.y']);
  assert.equal(names("select current_setting('app.' || 'x')", 'sql'), [null]);
  assert.equal(names("select 'current_setting(''app.no'')' -- current_setting('app.no')", 'sql'), []);
  assert.equal(names('select setting from pg_catalog.pg_settings where name = $1', 'sql'), [null]);
  const plpgsql = `
    declare v text := 'app.' || tg_argv[0];
    begin
      -- current_setting('app.comment') is a comment
      /* current_setting('app.block') too */
      perform pg_catalog.current_setting(v, true);
      execute 'select current_setting(''app.dynamic'')';
      execute format($f$select current_setting('app.formatted')$f$);
      return current_setting('app.tenant_id')::uuid;
    end`;
  assert.equal(names(plpgsql, 'plpgsql'), [null, 'app.dynamic', 'app.formatted', 'app.tenant_id']);
  assert.equal(names("begin return myschema.current_setting('app.x'); end", 'plpgsql'), [], 'another schema\'s function of that name');
  const helper = "select s.user_id from app_private.sessions s where s.token_hash = pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.current_setting('app.session_token', true), 'UTF8'))";
  assert.equal(names(helper, 'sql'), ['app.session_token']);
});

test('owned settings: the session token and PostgREST JWT claims; PostgreSQL parameters are not custom settings', () => {
  assert.equal(OWNED_SETTINGS, ['app.session_token', 'request.jwt.claims', 'request.jwt.claim.*']);
  for (const ok of ['app.session_token', 'APP.SESSION_TOKEN', 'request.jwt.claims', 'request.jwt.claim.sub', 'role', 'search_path']) assert.ok(isOwnedSetting(ok), ok);
  for (const bad of ['app.tenant_id', 'app.user_id', 'app.db_role', 'request.headers', 'request.jwt.claim.', 'app.session_token2']) assert.not.ok(isOwnedSetting(bad), bad);
  assert.ok(isXmsMigration('supabase/migrations/20240101000000_xms_base.sql'));
  assert.ok(isXmsMigration('supabase/migrations/20240101000200_xms_permissions.sql'));
  assert.ok(isXmsMigration('supabase/migrations/20261202135932_xms_table_products.sql'));
  assert.not.ok(isXmsMigration('supabase/migrations/20250101000000_tweak_xms_base.sql'));
});

test('ownership: what the last xms migration left is expected; later changes name their migration', () => {
  const fn = (key: string, body: string, kind: DbObject['kind'] = 'function'): DbObject => {
    const parts = { body };
    return { kind, key, parts, def: JSON.stringify(parts) };
  };
  const snap = (...objects: DbObject[]) => new Map(objects.map((o) => [`${o.kind}:${o.key}`, o]));
  const owned = newOwnedObjects();
  const base = 'supabase/migrations/1_xms_base.sql';
  const user = 'supabase/migrations/2_mine.sql';
  const later = 'supabase/migrations/3_xms_table_things.sql';
  const s0 = snap(fn('auth.uid()', 'shim'));
  const s1 = snap(fn('auth.uid()', 'shim'), fn('app.h()', 'a'), fn('app.g()', 'a'), fn('xms_et', 'on', 'event trigger'));
  recordMigration(owned, base, s0, s1);
  // the user migration redefines h, drops g, disables the event trigger and adds its own function
  const s2 = snap(fn('auth.uid()', 'shim'), fn('app.h()', 'b'), fn('app.mine()', 'x'), fn('xms_et', 'off', 'event trigger'));
  recordMigration(owned, user, s1, s2);
  assert.equal([...owned.expected.keys()].sort(), ['event trigger:xms_et', 'function:app.g()', 'function:app.h()']);
  const findings = compareOwnedObjects(s2, owned);
  const got = findings.map((f) => `${f.id} ${f.object} ${f.severity}`).sort();
  assert.equal(got, [
    'DB017-function-drift function app.g() error',
    'DB017-function-drift function app.h() error',
    'DB018-trigger-drift event trigger xms_et error',
  ]);
  const h = findings.find((f) => f.object === 'function app.h()')!;
  assert.match(h.message, base);
  assert.match(h.fix, `remove the redefinition of function app.h() in ${user}`);
  assert.match(findings.find((f) => f.object === 'function app.g()')!.fix, `remove the drop of function app.g() in ${user}`);
  // where migrations run as a non-superuser, a missing event trigger is a warning (a disabled one stays an error)
  const noEvent = snap(fn('app.h()', 'a'), fn('app.g()', 'a'));
  const soft = compareOwnedObjects(noEvent, owned, { missingEventTriggerSeverity: 'warning' });
  assert.equal(soft.map((f) => `${f.id} ${f.severity}`), ['DB018-trigger-drift warning']);
  // a later xms migration that defines it again makes that the expected state
  const s3 = snap(fn('app.h()', 'c'), fn('app.g()', 'a'), fn('xms_et', 'on', 'event trigger'));
  recordMigration(owned, later, s2, s3);
  assert.equal(compareOwnedObjects(s3, owned), []);
  // a change made in the live database outside any migration: the fix names the xms migration
  const live = compareOwnedObjects(snap(fn('app.h()', 'd'), fn('app.g()', 'a'), fn('xms_et', 'on', 'event trigger')), owned);
  assert.equal(live.map((f) => f.object), ['function app.h()']);
  assert.match(live[0]!.fix, later);
});

test('a trigger goes with its table: a dropped table is no trigger drift, a dropped trigger is', () => {
  const trig = (state: string): DbObject => {
    const parts = { definition: 'CREATE TRIGGER xms_audit_insert AFTER INSERT ON app.things ...', state };
    return { kind: 'trigger', key: 'xms_audit_insert on app.things', parts, def: JSON.stringify(parts), relation: 'app.things' };
  };
  const table: DbObject = { kind: 'relation', key: 'app.things', parts: {}, def: '{}' };
  const snap = (...objects: DbObject[]) => new Map(objects.map((o) => [`${o.kind}:${o.key}`, o]));
  const owned = newOwnedObjects();
  recordMigration(owned, 'supabase/migrations/1_xms_table_things.sql', new Map(), snap(table, trig('enabled=O')));
  assert.equal([...owned.expected.keys()], ['trigger:xms_audit_insert on app.things'], 'tables are not owned objects');
  assert.equal(compareOwnedObjects(new Map(), owned), []);
  assert.equal(compareOwnedObjects(snap(table), owned).map((f) => f.id), ['DB018-trigger-drift']);
  assert.equal(compareOwnedObjects(snap(table, trig('enabled=D')), owned).map((f) => f.message.includes('"enabled=D" instead of "enabled=O"')), [true]);
});

function driftErrors(report: Report): string[] {
  return report.findings.filter((f) => f.severity === 'error' && DRIFT_IDS.includes(f.id)).map((f) => `${f.id} ${f.object}: ${f.message}`);
}

for (const preset of ['minimal', 'default', 'full'] as const) {
  test(`no false drift: a fresh ${preset} app${preset === 'default' ? ', after xms add table' : ''}`, async () => {
    const { appDir, cleanup } = scaffold(preset);
    try {
      const report = await runCheck(appDir, { groups: ['db'] });
      assert.ok(DRIFT_IDS.every((id) => report.ran.includes(id)));
      assert.equal(report.findings.filter((f) => f.severity === 'error'), [], formatReport(report));
      if (preset !== 'default') return;
      const r = runCli(XMS_BIN, ['add', 'table', 'products', '--columns', 'sku:text:unique,qty:int,notes:text?'], { cwd: appDir });
      assert.is(r.status, 0, r.stdout + r.stderr);
      const after = await runCheck(appDir, { groups: ['db'] });
      assert.equal(after.findings.filter((f) => f.severity === 'error'), [], formatReport(after));
    } finally {
      cleanup();
    }
  });
}

test('a formatting-only redefinition is no drift; a redefinition reading app.tenant_id names its migration', async () => {
  const { appDir, cleanup } = scaffold('minimal');
  try {
    const file = join(appDir, 'supabase', 'migrations', '29990101000000_mine.sql');
    // app.touch_updated_at() exactly as the xms migration defines it, laid out differently
    writeFileSync(
      file,
      `CREATE OR REPLACE FUNCTION app.touch_updated_at() RETURNS trigger
         LANGUAGE plpgsql SECURITY INVOKER SET search_path = ''
       AS $body$ BEGIN   -- stamp the row
         NEW.updated_at := pg_catalog.now(); RETURN NEW; END $body$;\n`,
    );
    const same = await runCheck(appDir, { groups: ['db'] });
    assert.equal(driftErrors(same), [], formatReport(same));

    writeFileSync(
      file,
      `create or replace function app.current_tenant_id() returns uuid language sql stable security invoker set search_path = ''
         as $$ select nullif(pg_catalog.current_setting('app.tenant_id', true), '')::uuid $$;\n`,
    );
    const report = await runCheck(appDir, { groups: ['db'] });
    const drift = report.findings.find((f) => f.id === 'DB017-function-drift');
    assert.ok(drift, formatReport(report));
    assert.is(drift!.object, 'function app.current_tenant_id()');
    assert.match(drift!.message, '20240101000100_xms_tables.sql');
    assert.match(drift!.fix, join('supabase', 'migrations', '29990101000000_mine.sql'));
    const read = report.findings.find((f) => f.id === 'DB019-function-reads-request-setting');
    assert.ok(read, formatReport(report));
    assert.is(read!.object, 'app.current_tenant_id()');
    assert.match(read!.message, "current_setting('app.tenant_id')");
  } finally {
    cleanup();
  }
});

test('the README documents the owned settings', async () => {
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  for (const s of OWNED_SETTINGS) assert.ok(readme.includes(`\`${s}\``), `README names ${s}`);
});

test.run();
