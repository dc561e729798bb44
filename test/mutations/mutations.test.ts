/**
 * The mutation suite (issue 6): weakening changes applied one at a time to a freshly generated app
 * (default preset), each of which `xms check` must fail with the named check. The un-mutated app must
 * pass (control). One app is scaffolded once (no install: the check runs from this checkout, and
 * PGlite is built from the app's migrations); each mutation edits files, runs the check in-process
 * and restores every file it touched.
 *
 * Parts the generator does not build yet are still mutated: when there is no browser bundle, the
 * smallest real bundle the check reads (dist/public/assets/*.js) is written.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCheck, type Report } from '../../lib/check/index.js';
import { REPO_ROOT } from '../helpers/cli.js';

// These suites check each app against a fresh PGlite built from its own migrations. CI exports a
// DATABASE_URL for other suites (a shared, unmigrated database): it must not leak in here.
// test/check/postgres.test.ts covers xms check on a real PostgreSQL server.
delete process.env.DATABASE_URL;

type Group = 'db' | 'server' | 'repo';

interface Edit {
  file: string;
  /** replace this text or the first match of this pattern (must be present) ... */
  find?: string | RegExp;
  /** ... with this; without find: write this as a new file */
  replace: string;
}

interface Mutation {
  name: string;
  /** the weakening, in words */
  what: string;
  edits: Edit[];
  /** the check id that must report an error */
  expect: string;
  groups: Group[];
  /** extra set-up / tear-down (git) */
  setup?: (appDir: string) => void;
  teardown?: (appDir: string) => void;
}

const MIGRATION = 'supabase/migrations/29990101000000_mutation.sql';
const sqlMutation = (name: string, what: string, sql: string, expect: string): Mutation => ({
  name,
  what,
  edits: [{ file: MIGRATION, replace: `-- mutation: ${what}\n${sql}\n` }],
  expect,
  groups: ['db'],
});

const MUTATIONS: Mutation[] = [
  // ---- routes and guards (I1, I2)
  {
    name: 'route-outside-protected-scope',
    what: 'register a route on the root instance, outside the protected scope',
    edits: [{ file: 'src/server/app.ts', find: '  // The one public scope.', replace: "  app.get('/debug/state', async () => ({ ok: true }));\n\n  // The one public scope." }],
    expect: 'SRV001-route-outside-scope',
    groups: ['server'],
  },
  {
    name: 'route-moved-to-public-scope',
    what: 'remove the auth guard from one route by defining it in the public scope',
    edits: [{ file: 'src/routes/public/health.ts', find: "  app.get('/health',", replace: "  app.get('/api/records/export', async () => ({ rows: [] }));\n  app.get('/health'," }],
    expect: 'SRV002-public-route-unlisted',
    groups: ['server'],
  },
  {
    name: 'admin-routes-outside-admin-scope',
    what: 'remove the admin guard from the admin routes (registered in the protected scope instead)',
    edits: [{ file: 'src/server/app.ts', find: /adminScope\.register\(adminRoutes/, replace: 'protectedScope.register(adminRoutes' }],
    expect: 'SRV003-admin-route-unguarded',
    groups: ['server'],
  },
  {
    name: 'admin-hook-checks-session-only',
    what: "weaken the admin scope's hook to any session (no role check)",
    edits: [{ file: 'src/server/app.ts', find: "request.session?.role !== 'admin'", replace: '!request.session' }],
    expect: 'SRV003-admin-route-unguarded',
    groups: ['server'],
  },
  {
    name: 'admin-hook-debug-bypass',
    what: "let a request with a debug header past the admin scope's role check",
    edits: [{ file: 'src/server/app.ts', find: "if (request.session?.role !== 'admin') {", replace: "if (request.session?.role !== 'admin' && request.headers['x-debug-admin'] !== '1') {" }],
    expect: 'SRV003-admin-route-unguarded',
    groups: ['server'],
  },
  {
    name: 'admin-hook-early-return',
    what: "return from the admin scope's hook before its role check for a trusted-looking client",
    edits: [{ file: 'src/server/app.ts', find: "        if (request.session?.role !== 'admin') {", replace: "        if (request.ip === '127.0.0.1') return;\n        if (request.session?.role !== 'admin') {" }],
    expect: 'SRV003-admin-route-unguarded',
    groups: ['server'],
  },
  {
    name: 'protected-scope-without-401',
    what: 'drop the 401 of the protected scope (handlers run without a session)',
    edits: [{ file: 'src/server/app.ts', find: /^.*reply\.code\(401\).*\n/m, replace: '' }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'session-only-check-skipped',
    what: "let a session-only route (GET /api/me) through on any cookie: the session made up instead of checked",
    edits: [{
      file: 'src/server/app.ts',
      find: 'session = await checkSession(options.db, config, token);',
      replace: "session = { token, userId: '', tenantId: '', dbRole: 'app_member', role: 'member', email: '', displayName: '', enrolOnly: false };",
    }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'session-guard-lets-session-only-by',
    what: 'answer 401 without a live session everywhere but in session-only routes',
    edits: [{ file: 'src/server/app.ts', find: 'if (!session) {', replace: 'if (!session && !request.routeOptions.config.sessionOnly) {' }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  // the session checks themselves: the hook reads right, the session it is handed is made up
  {
    name: 'session-check-debug-token',
    what: 'answer a debug token with a made-up admin session in checkSession (GET /api/me and every session-only route)',
    edits: [{
      file: 'src/auth/sessions.ts',
      find: '  const row = await checkSessionOnly(db, token, config);\n  return row && sessionOf(token, row);',
      replace: "  if (token === process.env.XMS_DEBUG_TOKEN) return { token, userId: '00000000-0000-4000-8000-000000000000', tenantId: null, dbRole: 'xms_admin', role: 'admin', email: null, displayName: 'debug', enrolOnly: false };\n  const row = await checkSessionOnly(db, token, config);\n  return row && sessionOf(token, row);",
    }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'session-role-for-a-support-user',
    what: "make one user's sessions admin ones, whatever the session row's role",
    edits: [{ file: 'src/auth/sessions.ts', find: 'role: row.db_role.slice(4),', replace: "role: row.user_id === process.env.XMS_SUPPORT_USER ? 'admin' : row.db_role.slice(4)," }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'session-only-statement-forged',
    what: "answer a session-only route's check with a row the statement makes up (an admin session for any token) instead of app_private.check_session's",
    edits: [{
      file: 'src/db/request.ts',
      find: "const CHECK_SESSION_SQL = 'select pg_catalog.row_to_json(app_private.check_session($1, $2, $3)) as entry';",
      replace: "const CHECK_SESSION_SQL = \"select pg_catalog.json_build_object('user_id', '00000000-0000-4000-8000-000000000000', 'tenant_id', null, 'db_role', 'xms_admin', 'mfa_enrol_only', false, 'slide', $2::int + $3::int, 'token', $1::text) as entry\";",
    }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'request-entry-statement-forged',
    what: "open a protected request's transaction with a statement that makes up an admin session instead of app_private.enter_session's",
    edits: [{
      file: 'src/db/request.ts',
      find: '    }, { first: { text: ENTER_SESSION_SQL, values } });',
      replace: "    }, { first: { text: \"select pg_catalog.json_build_object('user_id', '00000000-0000-4000-8000-000000000000', 'tenant_id', null, 'db_role', 'xms_admin', 'mfa_enrol_only', false, 'ignored', $1::text || $2::int || $3::int) as entry\", values } });",
    }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'open-session-role-overridden',
    what: "hand the protected scope an admin session from openSession, spread over the checked one",
    edits: [{ file: 'src/auth/sessions.ts', find: 'return { session: sessionOf(token, tx.session), tx };', replace: "return { session: { ...sessionOf(token, tx.session), role: 'admin' }, tx };" }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'session-not-frozen',
    what: 'hand out the checked session unfrozen (any code after the check, through any alias, could make it an admin one)',
    edits: [{ file: 'src/auth/sessions.ts', find: '  return Object.freeze({ token, userId: row.user_id,', replace: '  return ({ token, userId: row.user_id,' }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'entered-session-role-replaced',
    what: "replace the role the database answered with xms_admin when the session row is read",
    edits: [{ file: 'src/db/request.ts', find: 'return Object.freeze({ user_id: row.user_id, tenant_id: row.tenant_id, db_role: row.db_role,', replace: "return Object.freeze({ user_id: row.user_id, tenant_id: row.tenant_id, db_role: 'xms_admin'," }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'request-transaction-session-replaced',
    what: 'open the request transaction with a session whose role is xms_admin instead of the one entered',
    edits: [{ file: 'src/db/request.ts', find: '      opened = new RequestTransaction(\n        session,', replace: "      opened = new RequestTransaction(\n        { ...session, db_role: 'xms_admin' }," }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'session-from-a-cache',
    what: 'fall back to a session remembered in memory when the check finds none (a revoked session stays usable)',
    edits: [{ file: 'src/server/app.ts', find: 'session = opened?.session;', replace: 'session = opened?.session ?? recentSessions.get(token);' }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'session-impersonation-header',
    what: 'let a header turn the checked session into an admin one, after the session check',
    edits: [{ file: 'src/server/app.ts', find: '      request.session = session;\n', replace: "      request.session = session;\n      if (request.headers['x-impersonate-admin']) request.session = { ...session, role: 'admin' };\n" }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'protected-hook-early-return',
    what: "return from the protected scope's session hook before the session check for some paths (their handlers run with no session checked)",
    edits: [{ file: 'src/server/app.ts', find: '      const token = readSessionToken(request, config);', replace: "      if (request.url.startsWith('/api/internal/')) return;\n      const token = readSessionToken(request, config);" }],
    expect: 'SRV004-protected-scope-unguarded',
    groups: ['server'],
  },
  {
    name: 'login-limit-skipped-for-a-header',
    what: 'skip the log-in limiter when the client sends a header',
    edits: [{ file: 'src/routes/public/auth.ts', find: '    await limits.login.consume(request.ip, email);', replace: "    if (!request.headers['x-internal-client']) await limits.login.consume(request.ip, email);" }],
    expect: 'SRV010-auth-not-rate-limited',
    groups: ['server'],
  },
  {
    name: 'signup-limit-not-awaited',
    what: "count a sign-up attempt without waiting for the limiter's answer (a refusal is ignored)",
    edits: [{ file: 'src/routes/public/auth.ts', find: 'await limits.signup.consume(request.ip, email);', replace: 'void limits.signup.consume(request.ip, email).catch(() => undefined);' }],
    expect: 'SRV010-auth-not-rate-limited',
    groups: ['server'],
  },
  {
    name: 'login-limit-refusal-swallowed',
    what: "swallow the log-in limiter's refusal",
    edits: [{ file: 'src/routes/public/auth.ts', find: '    await limits.login.consume(request.ip, email);', replace: '    try {\n      await limits.login.consume(request.ip, email);\n    } catch {\n      // keep going\n    }' }],
    expect: 'SRV010-auth-not-rate-limited',
    groups: ['server'],
  },
  {
    name: 'csrf-hook-removed',
    what: 'drop the CSRF hook (cross-site POSTs accepted)',
    edits: [{ file: 'src/server/app.ts', find: /^.*addHook\(\s*'onRequest',\s*csrfHook\(.*\n/m, replace: '' }],
    expect: 'SRV014-csrf-unguarded',
    groups: ['server'],
  },  {
    name: 'csrf-hook-skipped-for-some-paths',
    what: 'wrap the CSRF hook so that it skips a path prefix (cross-site POSTs accepted there)',
    edits: [{
      file: 'src/server/app.ts',
      find: "app.addHook('onRequest', csrfHook(config.origin));",
      replace: "app.addHook('onRequest', (request, reply, done) => (request.url.startsWith('/api/hooks/') ? done() : csrfHook(config.origin)(request, reply, done)));",
    }],
    expect: 'SRV014-csrf-unguarded',
    groups: ['server'],
  },
  {
    name: 'csrf-safe-methods-widened',
    what: 'let POST through the CSRF guard without a look at the origin',
    edits: [{ file: 'src/security/csrf.ts', find: "new Set(['GET', 'HEAD', 'OPTIONS'])", replace: "new Set(['GET', 'HEAD', 'OPTIONS', 'POST'])" }],
    expect: 'SRV014-csrf-unguarded',
    groups: ['server'],
  },
  {
    name: 'csrf-guard-lets-json-by',
    what: 'let a state-changing request with a JSON body through the CSRF guard whatever its origin',
    edits: [{
      file: 'src/security/csrf.ts',
      find: 'if (SAFE_METHODS.has(request.method) || isSameOrigin(request, configuredOrigin)) {',
      replace: "if (SAFE_METHODS.has(request.method) || isSameOrigin(request, configuredOrigin) || request.headers['content-type'] === 'application/json') {",
    }],
    expect: 'SRV014-csrf-unguarded',
    groups: ['server'],
  },
  {
    name: 'csrf-no-headers-accepted',
    what: 'count a request without Origin and Sec-Fetch-Site as same-origin',
    edits: [{
      file: 'src/security/csrf.ts',
      find: "return request.headers['sec-fetch-site'] === 'same-origin';",
      replace: "return request.headers['sec-fetch-site'] === 'same-origin' || request.headers['sec-fetch-site'] === undefined;",
    }],
    expect: 'SRV014-csrf-unguarded',
    groups: ['server'],
  },
  {
    name: 'csrf-origin-compared-with-itself',
    what: "compare the request's Origin with itself: every request with an Origin is same-origin",
    edits: [{ file: 'src/security/csrf.ts', find: 'return origin === expected;', replace: 'return origin === origin;' }],
    expect: 'SRV014-csrf-unguarded',
    groups: ['server'],
  },
  {
    name: 'csrf-expected-falls-back-to-origin',
    what: "without APP_ORIGIN, expect the request's own Origin instead of its host",
    edits: [{
      file: 'src/security/csrf.ts',
      find: 'const expected = configuredOrigin ?? `${request.protocol}://${request.host}`;',
      replace: 'const expected = configuredOrigin ?? origin;',
    }],
    expect: 'SRV014-csrf-unguarded',
    groups: ['server'],
  },
  {
    name: 'csrf-expected-shadowed',
    what: "shadow the expected origin with the request's own in a block around the comparison",
    edits: [{ file: 'src/security/csrf.ts', find: 'return origin === expected;', replace: '{\n      const expected = origin;\n      return origin === expected;\n    }' }],
    expect: 'SRV014-csrf-unguarded',
    groups: ['server'],
  },
  {
    name: 'csrf-fetch-site-literals',
    what: 'compare two literals where Sec-Fetch-Site is read: a request without Origin is same-origin',
    edits: [{ file: 'src/security/csrf.ts', find: "return request.headers['sec-fetch-site'] === 'same-origin';", replace: "return 'same-origin' === 'same-origin';" }],
    expect: 'SRV014-csrf-unguarded',
    groups: ['server'],
  },

  {
    name: 'headers-hook-removed',
    what: 'stop setting the security headers on responses',
    edits: [{ file: 'src/server/app.ts', find: /^.*reply\.headers\(request\.url.*\n/m, replace: '' }],
    expect: 'SRV005-csp-weak',
    groups: ['server'],
  },
  // ---- database (I3-I8)
  sqlMutation('disable-rls', 'disable RLS on one table', 'alter table app.records disable row level security;', 'DB001-rls-not-forced'),
  sqlMutation('drop-force-rls', 'drop FORCE on one table', 'alter table app.records no force row level security;', 'DB001-rls-not-forced'),
  sqlMutation(
    'hand-made-table-in-public',
    'create a table by hand in public (no RLS, no audit)',
    'create table public.leads (id bigint primary key, email text not null);',
    'DB001-rls-not-forced',
  ),
  sqlMutation(
    'permissive-using-true',
    'add a permissive using (true) policy',
    'create policy records_open on app.records for select to xms_member using (true);',
    'DB004-policy-outside-matrix',
  ),
  {
    name: 'compiled-policy-edited',
    what: 'loosen a compiled matrix policy by editing the permissions migration',
    edits: [{
      file: 'supabase/migrations/20240101000200_xms_permissions.sql',
      find: 'create policy xms_records_select_member on app.records for select to xms_member\n  using (tenant_id = (select app.current_tenant_id()));',
      replace: 'create policy xms_records_select_member on app.records for select to xms_member\n  using (true);',
    }],
    expect: 'DB003-policy-drift',
    groups: ['db'],
  },
  sqlMutation(
    'security-definer-delete-helper',
    'replace the delete path with a SECURITY DEFINER helper (the brief\'s second case)',
    [
      'set role xms_owner;',
      "create function app_private.delete_record(rid uuid) returns void language sql security definer set search_path = ''",
      '  as $$ delete from app.records where id = rid $$;',
      'revoke all on function app_private.delete_record(uuid) from public;',
      'grant usage on schema app_private to xms_member;',
      'grant execute on function app_private.delete_record(uuid) to xms_member;',
      'reset role;',
    ].join('\n'),
    'DB011-definer-callable',
  ),
  sqlMutation(
    'definer-trigger-on-view',
    "the brief's exact case: a delete trigger on a (security_invoker) view calling a SECURITY DEFINER helper, EXECUTE revoked",
    [
      'set role xms_owner;',
      'create view app.records_v with (security_invoker = true) as select * from app.records;',
      'grant select, delete on app.records_v to xms_member;',
      'create function app_private.records_v_delete() returns trigger language plpgsql security definer set search_path = \'\'',
      '  as $$ begin delete from app.records where id = old.id; return old; end $$;',
      'revoke all on function app_private.records_v_delete() from public;',
      'create trigger records_v_delete instead of delete on app.records_v for each row execute function app_private.records_v_delete();',
      'reset role;',
    ].join('\n'),
    'DB011-definer-callable',
  ),
  {
    name: 'audit-schema-exposed',
    what: 'expose the audit schema through the Supabase API (its SECURITY DEFINER trigger function becomes reachable)',
    edits: [{ file: 'supabase/config.toml', find: /^schemas\s*=\s*\[/m, replace: 'schemas = ["audit", ' }],
    expect: 'DB010-definer-exposed-schema',
    groups: ['db'],
  },
  sqlMutation(
    'view-without-security-invoker',
    'create a view without security_invoker',
    'set role xms_owner;\ncreate view app.all_records as select * from app.records;\ngrant select on app.all_records to xms_member;\nreset role;',
    'DB012-view-not-security-invoker',
  ),
  // ---- e-mail verification: no session for an unverified account
  sqlMutation(
    'unverified-session-allowed',
    'redefine the function that refuses a session for an unverified address so that it lets every row through',
    [
      'set role xms_owner;',
      "create or replace function app_private.refuse_unverified_session() returns trigger language plpgsql security invoker set search_path = ''",
      '  as $$ begin return new; end $$;',
      'reset role;',
    ].join('\n'),
    'DB017-function-drift',
  ),
  sqlMutation(
    'unverified-session-trigger-dropped',
    'drop the trigger that refuses a session for an unverified address',
    'drop trigger sessions_refuse_unverified on app_private.sessions;',
    'DB018-trigger-drift',
  ),
  // ---- sessions end with their membership (the session check no longer reads it)
  sqlMutation(
    'membership-revocation-trigger-dropped',
    'drop the trigger that revokes the sessions of a deactivated, removed or re-roled membership',
    'drop trigger memberships_revoke_sessions on app.memberships;',
    'DB018-trigger-drift',
  ),
  sqlMutation(
    'membership-revocation-not-deferred',
    'make the revocation of a changed membership\'s sessions run at once instead of at commit (the changer loses its identity mid-transaction)',
    [
      'drop trigger memberships_revoke_sessions on app.memberships;',
      'create trigger memberships_revoke_sessions after update or delete on app.memberships',
      '  for each row execute function app_private.revoke_membership_sessions();',
    ].join('\n'),
    'DB018-trigger-drift',
  ),
  sqlMutation(
    'membership-revocation-emptied',
    'redefine the function that revokes a changed membership\'s sessions so that it revokes nothing',
    [
      'set role xms_owner;',
      "create or replace function app_private.revoke_membership_sessions() returns trigger language plpgsql security definer set search_path = ''",
      '  as $$ begin return null; end $$;',
      'reset role;',
    ].join('\n'),
    'DB017-function-drift',
  ),
  sqlMutation(
    'membership-lock-emptied',
    'redefine the lock both session rules take so that it takes none (a log-in could race a deactivation)',
    [
      'set role xms_owner;',
      "create or replace function app_private.lock_membership_sessions(member uuid, tenant uuid) returns void language sql security invoker set search_path = ''",
      '  as $$ select null::void $$;',
      'reset role;',
    ].join('\n'),
    'DB017-function-drift',
  ),
  sqlMutation(
    'session-without-membership-allowed',
    'disable the trigger that refuses a session row without a live membership of its role',
    'alter table app_private.sessions disable trigger sessions_require_membership;',
    'DB018-trigger-drift',
  ),
  sqlMutation('drop-audit-trigger', 'drop the audit trigger from one table', 'drop trigger xms_audit_delete on app.records;', 'DB005-audit-trigger-missing'),
  // ---- audit exemptions and secrets (I7)
  sqlMutation(
    'drop-audit-trigger-private',
    'drop an audit trigger of an app_private table (credentials) that permissions.yml does not exempt',
    'drop trigger xms_audit_update on app_private.credentials;',
    'DB005-audit-trigger-missing',
  ),
  {
    name: 'audit-exemption-without-reason',
    what: 'exempt a table from audit in permissions.yml without giving a reason',
    edits: [{ file: 'permissions.yml', find: /^(    app_private\.auth_rate_limits:).*$/m, replace: '$1' }],
    expect: 'DB015-matrix-invalid',
    groups: ['db'],
  },
  {
    name: 'secret-column-unredacted',
    what: 'remove the password hash from the redact list (permissions.yml and the recompiled rules)',
    edits: [
      { file: 'permissions.yml', find: /^    app_private\.credentials: \[password_hash\]\n/m, replace: '' },
      { file: MIGRATION, replace: "update audit.table_rules set redact = '{}' where table_name = 'app_private.credentials';\n" },
    ],
    expect: 'DB020-secret-column-copied',
    groups: ['db'],
  },
  sqlMutation('redaction-disabled', 'empty the audit rules the trigger redacts by (permissions.yml unchanged)', 'delete from audit.table_rules;', 'DB020-secret-column-copied'),
  sqlMutation(
    'secret-column-added',
    'add a secret column to an app_private table without redacting it',
    'alter table app_private.credentials add column totp_secret text;',
    'DB020-secret-column-copied',
  ),
  sqlMutation(
    'audit-rules-muted',
    'stop auditing credential changes by hand (ignored columns not in permissions.yml)',
    "update audit.table_rules set ignore_updates_of = '{password_hash,updated_at}' where table_name = 'app_private.credentials';",
    'DB021-audit-rules-drift',
  ),
  sqlMutation(
    'unindexed-foreign-key',
    'add a foreign key without an index',
    'alter table app.records add column reviewer_id uuid references app.users (id);',
    'DB022-foreign-key-unindexed',
  ),
  sqlMutation(
    'policy-current-setting-per-row',
    'a policy calling current_setting() per row instead of (select ...)',
    "create policy sessions_per_row on app_private.sessions for select to xms_auth using (token_hash = sha256(convert_to(current_setting('app.session_token', true), 'UTF8')));",
    'DB014-helper-not-wrapped',
  ),
  sqlMutation(
    'auth-key-policy-dropped',
    "drop the auth-key gate of the session table (any SQL that switches to xms_auth could then forge a session)",
    'drop policy auth_key_required on app_private.sessions;',
    'DB023-auth-key-not-required',
  ),
  sqlMutation(
    'auth-role-granted-ungated-table',
    'grant the auth subsystem role a right on a table without the auth-key gate',
    'grant select on app.records to xms_auth;',
    'DB023-auth-key-not-required',
  ),
  sqlMutation(
    'auth-key-in-migration',
    'register a known auth key in a migration (anyone who reads the repository could then act as xms_auth)',
    "insert into app_private.auth_keys (key_hash) values (sha256(convert_to('a key in the repository', 'UTF8')));",
    'DB024-auth-key-extra',
  ),
  sqlMutation(
    'auth-key-check-weakened',
    'redefine app_private.auth_key_held() (same signature) to hold for any key',
    "create or replace function app_private.auth_key_held() returns boolean language sql stable security invoker set search_path = '' as $$ select true $$;",
    'DB017-function-drift',
  ),
  sqlMutation('truncate-granted', 'grant TRUNCATE (which ignores RLS) on a tenant table to a member', 'grant truncate on app.records to xms_member;', 'DB016-truncate-or-trigger-granted'),
  sqlMutation('audit-log-update-grant', 'grant UPDATE on the audit log to the runtime role', 'grant update on audit.log to xms_app;', 'DB006-audit-log-writable'),
  sqlMutation('runtime-role-can-become-owner', 'let the runtime role SET ROLE to the table owner', 'grant xms_owner to xms_app;', 'DB007-runtime-role-privileged'),
  sqlMutation('runtime-role-bypassrls', 'make the runtime role BYPASSRLS', 'alter role xms_app bypassrls;', 'DB007-runtime-role-privileged'),
  sqlMutation(
    'helper-called-per-row',
    'a policy calling the identity helper per row instead of (select fn())',
    'create policy records_per_row on app.records for select to xms_member using (tenant_id = app.current_tenant_id());',
    'DB014-helper-not-wrapped',
  ),
  sqlMutation('policy-column-unindexed', 'drop the indexes that lead with a policy column', 'drop index app.records_tenant_id_owner_id_idx; drop index app.records_tenant_id_created_at_idx;', 'DB013-policy-column-unindexed'),
  // ---- functions, triggers and event triggers the xms migrations own; settings (I17)
  sqlMutation(
    'tenant-helper-reads-setting',
    'redefine app.current_tenant_id() (same signature) to read the request-controlled setting app.tenant_id',
    [
      'create or replace function app.current_tenant_id() returns uuid language sql stable security invoker set search_path = \'\'',
      "  as $$ select nullif(pg_catalog.current_setting('app.tenant_id', true), '')::uuid $$;",
    ].join('\n'),
    'DB017-function-drift',
  ),
  sqlMutation('helper-security-definer', 'make the identity helper app.current_user_id() SECURITY DEFINER', 'alter function app.current_user_id() security definer;', 'DB017-function-drift'),
  sqlMutation(
    'profile-reader-security-definer',
    'make the profile reader app.current_user_display_name() SECURITY DEFINER (it would read app.users past RLS, as its owner)',
    'alter function app.current_user_display_name() security definer;',
    'DB017-function-drift',
  ),
  sqlMutation(
    'session-check-any-session',
    "redefine the session check (same signature) to answer for any live session, whatever the token: the caller would enter another user's role and read their profile",
    [
      'set role xms_owner;',
      'create or replace function app_private.check_session(token text, idle_minutes integer, slide_seconds integer)',
      "returns app_private.session_entry language plpgsql volatile security definer set search_path = '' as $$",
      'declare',
      '  r app_private.session_entry;',
      'begin',
      '  select s.user_id, s.tenant_id, s.db_role, s.mfa_enrol_only, null::text, u.display_name into r',
      '    from app_private.sessions s join app.users u on u.id = s.user_id where s.revoked_at is null limit 1;',
      '  return r;',
      'end $$;',
      'reset role;',
    ].join('\n'),
    'DB017-function-drift',
  ),
  sqlMutation(
    'session-entry-enters-admin',
    "redefine the request entry (same signature) to enter xms_admin for any live session: every member would act as an admin of their tenant",
    [
      'set role xms_owner;',
      'create or replace function app_private.enter_session(token text, idle_minutes integer, slide_seconds integer)',
      "returns json language plpgsql volatile security invoker set search_path = '' as $$",
      'declare',
      '  live app_private.session_entry;',
      '  ignored text;',
      'begin',
      '  live := app_private.check_session(token, idle_minutes, slide_seconds);',
      '  if live.user_id is null then',
      '    return null;',
      '  end if;',
      "  ignored := pg_catalog.set_config('role', 'xms_admin', true);",
      "  ignored := pg_catalog.set_config('app.session_token', token, true);",
      '  return pg_catalog.row_to_json(live);',
      'end $$;',
      'reset role;',
    ].join('\n'),
    'DB017-function-drift',
  ),
  sqlMutation(
    'owner-users-policy-widened',
    "widen the session check's read of app.users (users_owner_select) to every role",
    'set role xms_owner;\ndrop policy users_owner_select on app.users;\ncreate policy users_owner_select on app.users for select using (true);\nreset role;',
    'DB004-policy-outside-matrix',
  ),
  sqlMutation('helper-search-path-changed', 'point the search_path of an identity helper at public', 'alter function app.current_app_role() set search_path = public;', 'DB017-function-drift'),
  sqlMutation(
    'audit-function-replaced',
    'replace the audit trigger function with one that logs nothing',
    "create or replace function audit.log_changes() returns trigger language plpgsql security definer set search_path = '' as $$ begin return null; end $$;",
    'DB017-function-drift',
  ),
  sqlMutation('audit-trigger-disabled', 'disable the audit trigger of one table', 'alter table app.records disable trigger xms_audit_update;', 'DB018-trigger-drift'),
  sqlMutation(
    'touch-trigger-replaced',
    'replace an xms trigger with one of another timing',
    'drop trigger records_touch_updated_at on app.records;\ncreate trigger records_touch_updated_at after update on app.records for each row execute function app.touch_updated_at();',
    'DB018-trigger-drift',
  ),
  sqlMutation('event-trigger-disabled', 'disable the event trigger that secures tables created by hand', 'alter event trigger xms_secure_new_tables disable;', 'DB018-trigger-drift'),
  sqlMutation('event-trigger-dropped', 'drop the event trigger that secures tables created by hand', 'drop event trigger xms_secure_new_tables;', 'DB018-trigger-drift'),
  sqlMutation(
    'new-function-reads-setting',
    'a new function in schema app deriving the tenant from current_setting(\'app.tenant_id\')',
    [
      'set role xms_owner;',
      "create function app.request_tenant() returns uuid language plpgsql stable set search_path = '' as $$",
      "begin return pg_catalog.current_setting('app.tenant_id')::uuid; end $$;",
      'reset role;',
    ].join('\n'),
    'DB019-function-reads-request-setting',
  ),
  // ---- headers, cookie, passwords, rate limits (I9, I11-I13)
  {
    name: 'cookie-httponly-false',
    what: 'set the session cookie httpOnly: false',
    edits: [{ file: 'src/auth/sessions.ts', find: /httpOnly:\s*true/, replace: 'httpOnly: false' }],
    expect: 'SRV008-cookie-insecure',
    groups: ['server'],
  },
  {
    name: 'csp-unsafe-inline',
    what: "add 'unsafe-inline' to script-src",
    edits: [{ file: 'src/security/headers.ts', find: /'script-src':\s*\[/, replace: `'script-src': ["'unsafe-inline'", ` }],
    expect: 'SRV005-csp-weak',
    groups: ['server'],
  },
  {
    name: 'remove-hsts',
    what: 'remove HSTS',
    edits: [{ file: 'src/security/headers.ts', find: /strictTransportSecurity:\s*\{[^}]*\}/, replace: 'strictTransportSecurity: false' }],
    expect: 'SRV006-hsts-weak',
    groups: ['server'],
  },
  {
    name: 'allow-framing',
    what: 'let any site frame the app',
    edits: [{ file: 'src/security/headers.ts', find: /'frame-ancestors':\s*\[[^\]]*\]/, replace: `'frame-ancestors': ['*']` }],
    expect: 'SRV007-framing-allowed',
    groups: ['server'],
  },
  {
    name: 'password-minimum-6',
    what: 'lower the password minimum to 6',
    edits: [
      { file: 'src/config.ts', find: /PASSWORD_MIN_FLOOR\s*=\s*\d+/, replace: 'PASSWORD_MIN_FLOOR = 6' },
      { file: 'src/config.ts', find: /PASSWORD_MIN_DEFAULT\s*=\s*\d+/, replace: 'PASSWORD_MIN_DEFAULT = 6' },
    ],
    expect: 'SRV009-password-min-too-low',
    groups: ['server'],
  },
  {
    name: 'remove-login-rate-limit',
    what: 'remove the login rate limit',
    edits: [{ file: 'src/routes/public/auth.ts', find: /^.*limits\.login\.consume\(.*\n/m, replace: '' }],
    expect: 'SRV010-auth-not-rate-limited',
    groups: ['server'],
  },
  {
    name: 'remove-verify-email-rate-limit',
    what: 'remove the rate limit of the e-mailed verification link (its tokens could be guessed at full speed)',
    edits: [{ file: 'src/routes/public/auth.ts', find: /^.*limits\.verify\.consumeIp\(.*\n/m, replace: '' }],
    expect: 'SRV010-auth-not-rate-limited',
    groups: ['server'],
  },
  {
    name: 'remove-verify-resend-rate-limit',
    what: 'remove the rate limit of "send the link again" (a mailbox could be flooded)',
    edits: [{ file: 'src/routes/public/auth.ts', find: /^.*limits\.verify\.consume\(.*\n/m, replace: '' }],
    expect: 'SRV010-auth-not-rate-limited',
    groups: ['server'],
  },
  {
    name: 'login-rate-limit-after-verify',
    what: 'count a log-in attempt only after the password was verified (a parallel burst passes)',
    edits: [
      { file: 'src/routes/public/auth.ts', find: /^.*limits\.login\.consume\(.*\n/m, replace: '' },
      {
        file: 'src/routes/public/auth.ts',
        find: '    } catch (error) {\n      if (error instanceof TenantChoiceRequired)',
        replace: '    } catch (error) {\n      await limits.login.consume(request.ip, email);\n      if (error instanceof TenantChoiceRequired)',
      },
    ],
    expect: 'SRV010-auth-not-rate-limited',
    groups: ['server'],
  },
  {
    name: 'remove-invitation-join-rate-limit',
    what: "stop counting an invitation's password attempts per IP (its holder could guess the account's password at full speed)",
    edits: [{ file: 'src/routes/public/invitation.ts', find: /^.*limits\.login\.consumeIp\(.*\n/m, replace: '' }],
    expect: 'SRV010-auth-not-rate-limited',
    groups: ['server'],
  },
  sqlMutation(
    'auth-deletes-any-membership',
    "let the auth subsystem remove any membership, an account's included (not only a pending invitee's)",
    `set role xms_owner;
drop policy memberships_auth_delete_pending on app.memberships;
create policy memberships_auth_delete_pending on app.memberships for delete to xms_auth using (true);
reset role;`,
    'DB004-policy-outside-matrix',
  ),
  {
    name: 'remove-mfa-rate-limit',
    what: "stop counting second-factor attempts against the account (a stolen password could then guess codes from many addresses)",
    edits: [{ file: 'src/routes/public/login-mfa.ts', find: /^.*limits\.mfa\.consumeAccount\(.*\n/m, replace: '' }],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  {
    name: 'login-skips-second-factor',
    what: 'open a session right after the password, skipping the second factor',
    edits: [
      {
        file: 'src/routes/public/auth.ts',
        find: '    return afterPassword(app.xms, request, reply, membership);',
        replace: "    const { createSession, setSessionCookie } = await import('../../auth/sessions.js');\n    setSessionCookie(reply, config, await createSession(db, config, membership));\n    return { user: { id: membership.userId } };",
      },
    ],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  {
    name: 'write-body-accepts-unknown-fields',
    what: 'let a write body carry fields it does not declare (tenant_id, owner_id would reach the handler)',
    edits: [{ file: 'src/routes/api/tenants.ts', find: 'body: Strict({ tenantId', replace: 'body: Type.Object({ tenantId' }],
    expect: 'SRV020-write-body-not-strict',
    groups: ['server'],
  },
  {
    name: 'strict-helper-overridable',
    what: "let a caller's options turn Strict() bodies open (additionalProperties no longer last)",
    edits: [{ file: 'src/server/schemas.ts', find: '{ ...options, additionalProperties: false }', replace: '{ additionalProperties: false, ...options }' }],
    expect: 'SRV020-write-body-not-strict',
    groups: ['server'],
  },
  {
    name: 'ajv-drops-unknown-fields',
    what: "drop Fastify's removeAdditional: false (unknown body fields silently removed instead of refused)",
    edits: [{ file: 'src/server/app.ts', find: 'customOptions: { removeAdditional: false }', replace: 'customOptions: {}' }],
    expect: 'SRV020-write-body-not-strict',
    groups: ['server'],
  },
  {
    name: 'enrol-only-session-unguarded',
    what: 'let a session that must enrol a second factor reach every route',
    edits: [{ file: 'src/server/app.ts', find: /^.*if \(session\.enrolOnly[\s\S]*?\n      \}\n/m, replace: '' }],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  {
    name: 'enrol-only-check-outside-production',
    what: 'refuse an enrol-only session outside the enrolment routes in production only',
    edits: [{ file: 'src/server/app.ts', find: 'if (session.enrolOnly && !ENROL_ONLY_ROUTES.has(', replace: "if (session.enrolOnly && config.env === 'production' && !ENROL_ONLY_ROUTES.has(" }],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  {
    name: 'enrol-only-check-fixed-route',
    what: 'look a fixed route up in ENROL_ONLY_ROUTES instead of the one requested (every route is let through)',
    edits: [{ file: 'src/server/app.ts', find: 'ENROL_ONLY_ROUTES.has(`${request.method} ${request.routeOptions.url}`)', replace: "ENROL_ONLY_ROUTES.has('GET /api/me')" }],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  {
    name: 'mfa-account-limit-conditional',
    what: "take the second factor's per-account allowance only for codes (passkey attempts uncounted per account)",
    edits: [{ file: 'src/routes/public/login-mfa.ts', find: '      await limits.mfa.consumeAccount(challenge.email);', replace: '      if (body.code !== undefined) await limits.mfa.consumeAccount(challenge.email);' }],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  {
    name: 'passkey-assertion-unverified',
    what: 'complete a log-in with a passkey assertion nobody verified',
    edits: [
      {
        file: 'src/auth/passkeys.ts',
        find: /verification = await verifyAuthenticationResponse\(\{[\s\S]*?\n    \}\);/,
        replace: 'verification = { verified: true as const, authenticationInfo: { newCounter: Number(row.counter) + 1 } };',
      },
    ],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  {
    name: 'passkey-any-challenge',
    what: "accept a passkey's assertion for any challenge (a captured one could be replayed)",
    edits: [{ file: 'src/auth/passkeys.ts', find: 'expectedChallenge: matches(challengeHash),', replace: 'expectedChallenge: () => true,' }],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  {
    name: 'passkey-registration-unchecked',
    what: 'store a new passkey even when its registration response did not verify',
    edits: [{ file: 'src/auth/passkeys.ts', find: /^  if \(!verification\.verified\) throw INVALID_PASSKEY;\n  const \{ credential \}/m, replace: '  const { credential }' }],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  {
    name: 'passkey-counter-unchecked',
    what: "record a passkey's signature counter without requiring it to grow (a cloned authenticator would pass)",
    edits: [{ file: 'src/auth/passkeys.ts', find: ' and (counter < $2 or (counter = 0 and $2 = 0))', replace: '' }],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  {
    name: 'login-skips-passkey-verification',
    what: 'spend the pending log-in for a passkey input without verifying the passkey',
    edits: [{ file: 'src/auth/mfa.ts', find: '    else await usePasskey(tx, input.rp, userId, input.passkey, passkeyChallenge);\n', replace: '' }],
    expect: 'SRV019-mfa-step-weakened',
    groups: ['server'],
  },
  sqlMutation(
    'enrol-only-session-has-identity',
    'give an enrol-only session its identity in the database again (its role would reach the rows of the matrix)',
    `set role xms_owner;
drop policy sessions_own_token on app_private.sessions;
create policy sessions_own_token on app_private.sessions for select to xms_request
  using (token_hash = (select pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.current_setting('app.session_token', true), 'UTF8'))));
reset role;`,
    'DB004-policy-outside-matrix',
  ),
  {
    name: 'rate-limit-in-memory',
    what: "keep the credential limiter's counts in each instance's memory",
    edits: [{ file: 'src/security/rate-limit.ts', find: /new RateLimiterPostgres\(/, replace: 'new RateLimiterMemory(' }],
    expect: 'SRV010-auth-not-rate-limited',
    groups: ['server'],
  },
  {
    name: 'set-role-outside-db',
    what: 'switch the database role in a route handler',
    edits: [
      {
        file: 'src/routes/api/me.ts',
        find: "  app.post('/auth/logout', { schema: { response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {",
        replace: "  app.post('/auth/logout', { schema: { response: { 204: NoContent, ...errorResponses } } }, async (request, reply) => {\n    await request.withDb((tx) => tx.query('set local role xms_admin'));",
      },
    ],
    expect: 'SRV011-privileged-db-access',
    groups: ['server'],
  },
  {
    name: 'raw-pool-in-route',
    what: 'open a raw pg pool in a route module',
    edits: [{ file: 'src/routes/api/me.ts', find: "import { clearSessionCookie, revokeSession } from '../../auth/sessions.js';", replace: "import { clearSessionCookie, revokeSession } from '../../auth/sessions.js';\nimport pg from 'pg';\nexport const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });" }],
    expect: 'SRV011-privileged-db-access',
    groups: ['server'],
  },
  {
    name: 'token-in-local-storage',
    what: 'keep the session token in localStorage in browser code',
    edits: [{ file: 'web/src/session.ts', replace: "export function remember(token: string): void {\n  localStorage.setItem('session_token', token);\n}\n" }],
    expect: 'SRV012-token-in-browser-storage',
    groups: ['server'],
  },
  {
    name: 'deploy-config-without-hsts',
    what: 'add a vercel.json whose HSTS is weaker than the server\'s',
    edits: [{
      file: 'vercel.json',
      replace: JSON.stringify({ headers: [{ source: '/(.*)', headers: [{ key: 'Strict-Transport-Security', value: 'max-age=0' }] }] }, null, 2),
    }],
    expect: 'SRV013-deploy-headers',
    groups: ['server'],
  },
  // ---- weakenings only the app's own tests caught before (issue 9): session lifetime, proxy trust,
  // password hash, public routes in the private URL space
  {
    name: 'session-idle-ten-years',
    what: 'raise the idle session lifetime (default and ceiling) to ten years',
    edits: [{ file: 'src/config.ts', find: "int(env, 'SESSION_IDLE_MINUTES', 30, 1, 24 * 60)", replace: "int(env, 'SESSION_IDLE_MINUTES', 10 * 365 * 24 * 60, 1, 10 * 365 * 24 * 60)" }],
    expect: 'SRV015-session-lifetime',
    groups: ['server'],
  },
  {
    name: 'session-absolute-unvalidated',
    what: 'read SESSION_ABSOLUTE_HOURS without validation, defaulting to ten years',
    edits: [{ file: 'src/config.ts', find: "int(env, 'SESSION_ABSOLUTE_HOURS', 12, 1, 24 * 30)", replace: 'Number(env.SESSION_ABSOLUTE_HOURS ?? 87600)' }],
    expect: 'SRV015-session-lifetime',
    groups: ['server'],
  },
  {
    name: 'config-ceiling-not-enforced',
    what: 'drop the upper-bound refusal of int() (any lifetime accepted)',
    edits: [{ file: 'src/config.ts', find: ' || value > max)', replace: ')' }],
    expect: 'SRV015-session-lifetime',
    groups: ['server'],
  },
  {
    name: 'session-store-ignores-config',
    what: 'hard-code a ten-year idle lifetime in the session store instead of config.sessionIdleMinutes',
    edits: [{ file: 'src/auth/sessions.ts', find: /config\.sessionIdleMinutes/g, replace: '5256000' }],
    expect: 'SRV015-session-lifetime',
    groups: ['server'],
  },
  {
    name: 'session-insert-ten-years',
    what: 'create sessions with a hard-coded ten-year absolute lifetime (the cookie still uses the config)',
    edits: [{ file: 'src/auth/sessions.ts', find: 'config.sessionIdleMinutes, config.sessionAbsoluteHours],', replace: 'config.sessionIdleMinutes, 87600],' }],
    expect: 'SRV015-session-lifetime',
    groups: ['server'],
  },
  {
    name: 'session-interval-literal',
    what: "slide the idle expiry by a literal interval '10 years'",
    // the newest definition of the session check (the one the database runs)
    edits: [{ file: 'supabase/migrations/20240101000403_xms_session_membership_revocation.sql', find: 'pg_catalog.now() + pg_catalog.make_interval(mins => idle_minutes)', replace: "pg_catalog.now() + interval '10 years'" }],
    expect: 'SRV015-session-lifetime',
    groups: ['server'],
  },
  {
    name: 'session-idle-unbound',
    what: 'hand the session check of the request transaction a literal idle lifetime of ten years instead of the configured one',
    edits: [{ file: 'src/db/request.ts', find: /(return resolve\(undefined\);\n    const values = )enterSessionParams\(token, config\.sessionIdleMinutes\)/, replace: '$1enterSessionParams(token, 5256000)' }],
    expect: 'SRV015-session-lifetime',
    groups: ['server'],
  },
  {
    name: 'session-only-idle-unbound',
    what: "hand a session-only route's check (GET /api/me) a literal idle lifetime of ten years",
    edits: [{ file: 'src/db/request.ts', find: /enterSessionParams\(token, config\.sessionIdleMinutes\)(;\n  return enteredSession\()/, replace: 'enterSessionParams(token, 5256000)$1' }],
    expect: 'SRV015-session-lifetime',
    groups: ['server'],
  },
  {
    name: 'session-idle-unbound-in-sql',
    what: 'let the request entry hand the session check a literal idle lifetime of ten years',
    edits: [{ file: 'supabase/migrations/20240101000401_xms_session_entry_json.sql', find: 'app_private.check_session(token, idle_minutes, slide_seconds)', replace: 'app_private.check_session(token, 5256000, slide_seconds)' }],
    expect: 'SRV015-session-lifetime',
    groups: ['server'],
  },
  {
    name: 'fastify-trust-proxy-true',
    what: 'make Fastify trust every X-Forwarded-For hop (trustProxy: true)',
    edits: [{ file: 'src/server/app.ts', find: 'trustProxy: config.trustProxy as boolean | string | string[],', replace: 'trustProxy: true,' }],
    expect: 'SRV016-trust-proxy-all',
    groups: ['server'],
  },
  {
    name: 'fastify-trust-proxy-all-addresses',
    what: 'trust proxies at every IPv4 address (trustProxy: 0.0.0.0/0)',
    edits: [{ file: 'src/server/app.ts', find: 'trustProxy: config.trustProxy as boolean | string | string[],', replace: "trustProxy: ['127.0.0.1', '0.0.0.0/0']," }],
    expect: 'SRV016-trust-proxy-all',
    groups: ['server'],
  },
  {
    name: 'trust-proxy-default-true',
    what: 'make an unset TRUST_PROXY mean trust every hop',
    edits: [{ file: 'src/config.ts', find: "if (raw === undefined || raw === '' || raw === 'false') return false;", replace: "if (raw === undefined || raw === '') return true;\n  if (raw === 'false') return false;" }],
    expect: 'SRV016-trust-proxy-all',
    groups: ['server'],
  },
  {
    name: 'trust-proxy-star-accepted',
    what: "accept TRUST_PROXY='*' as a proxy address",
    edits: [{ file: 'src/config.ts', find: String.raw`/^[0-9a-fA-F:.]+(\/\d{1,3})?$/`, replace: String.raw`/^([0-9a-fA-F:.]+(\/\d{1,3})?|\*)$/` }],
    expect: 'SRV016-trust-proxy-all',
    groups: ['server'],
  },
  {
    name: 'trust-proxy-zero-range-accepted',
    what: 'drop the refusal of a /0 TRUST_PROXY range (0.0.0.0/0 trusts everyone)',
    edits: [{ file: 'src/config.ts', find: /^.*\/\\\/0\+\$\/.*\n/m, replace: '' }],
    expect: 'SRV016-trust-proxy-all',
    groups: ['server'],
  },
  {
    name: 'trust-proxy-true-in-production',
    what: 'let production start with TRUST_PROXY=true',
    edits: [{ file: 'src/config.ts', find: /^ {2}if \(config\.trustProxy === true\) \{\n[\s\S]*?\n {2}\}\n/m, replace: '' }],
    expect: 'SRV016-trust-proxy-all',
    groups: ['server'],
  },
  {
    name: 'argon2i-not-argon2id',
    what: 'hash passwords with argon2i instead of argon2id',
    edits: [{ file: 'src/security/passwords.ts', find: 'type: argon2.argon2id', replace: 'type: argon2.argon2i' }],
    expect: 'SRV017-password-hash-weak',
    groups: ['server'],
  },
  {
    name: 'argon2-memory-1024',
    what: 'lower the argon2 memory cost to 1 MiB',
    edits: [{ file: 'src/security/passwords.ts', find: 'memoryCost: 19456', replace: 'memoryCost: 1024' }],
    expect: 'SRV017-password-hash-weak',
    groups: ['server'],
  },
  {
    name: 'argon2-time-cost-1',
    what: 'lower the argon2 time cost to 1',
    edits: [{ file: 'src/security/passwords.ts', find: 'timeCost: 2', replace: 'timeCost: 1' }],
    expect: 'SRV017-password-hash-weak',
    groups: ['server'],
  },
  {
    name: 'hash-without-options',
    what: "hash passwords with argon2's defaults (options dropped)",
    edits: [{ file: 'src/security/passwords.ts', find: 'argon2.hash(password, ARGON2_OPTIONS)', replace: 'argon2.hash(password)' }],
    expect: 'SRV017-password-hash-weak',
    groups: ['server'],
  },
  {
    name: 'hash-with-sha256',
    what: 'hash passwords with one unsalted SHA-256',
    edits: [
      { file: 'src/security/passwords.ts', find: "import argon2 from 'argon2';", replace: "import argon2 from 'argon2';\nimport { createHash } from 'node:crypto';" },
      { file: 'src/security/passwords.ts', find: 'return argon2.hash(password, ARGON2_OPTIONS);', replace: "return Promise.resolve(createHash('sha256').update(password).digest('hex'));" },
    ],
    expect: 'SRV017-password-hash-weak',
    groups: ['server'],
  },
  {
    name: 'signup-stores-sha256',
    what: 'sign-up stores an unsalted SHA-256 of the password instead of hashPassword (passwords.ts untouched)',
    edits: [
      { file: 'src/auth/accounts.ts', find: "import type { AppConfig } from '../config.js';", replace: "import { createHash } from 'node:crypto';\nimport type { AppConfig } from '../config.js';" },
      { file: 'src/auth/accounts.ts', find: 'const hash = await hashPassword(input.password);', replace: "const hash = createHash('sha256').update(input.password).digest('hex');" },
    ],
    expect: 'SRV017-password-hash-weak',
    groups: ['server'],
  },
  {
    name: 'public-module-registers-admin-route',
    what: 'a public route module registers an admin route, and the public list is edited to match',
    edits: [
      { file: 'src/routes/public/health.ts', find: "  app.get('/health',", replace: "  app.post('/api/admin/invite', async () => ({ ok: true }));\n  app.get('/health'," },
      { file: 'src/server/public-routes.ts', find: "  'GET /health',", replace: "  'GET /health',\n  'POST /api/admin/invite'," },
    ],
    expect: 'SRV018-public-route-in-private-namespace',
    groups: ['server'],
  },
  {
    name: 'public-module-registers-protected-path',
    what: "a public route module serves under a protected route's path (/api/records), listed as public",
    edits: [
      { file: 'src/routes/public/auth.ts', find: "  app.post('/api/auth/login',", replace: "  app.get('/api/records/export', async () => ({ rows: [] }));\n  app.post('/api/auth/login'," },
      { file: 'src/server/public-routes.ts', find: "  'GET /health',", replace: "  'GET /health',\n  'GET /api/records/export'," },
    ],
    expect: 'SRV018-public-route-in-private-namespace',
    groups: ['server'],
  },
  // ---- what the server logs (I9): src/server/logging.ts, wired by src/server/app.ts
  {
    name: 'log-redaction-path-removed',
    what: 'drop the session cookie from the log redaction paths',
    edits: [{ file: 'src/server/logging.ts', find: "  'req.headers.cookie',\n", replace: '' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'log-redaction-removed',
    what: 'remove the redaction from the logger options',
    edits: [{ file: 'src/server/logging.ts', find: "    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },\n", replace: '' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'log-censor-keeps-value',
    what: 'a redaction censor that writes the value back',
    edits: [{ file: 'src/server/logging.ts', find: "censor: '[redacted]'", replace: 'censor: (value: unknown) => value' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'log-paths-shrunk-elsewhere',
    what: 'empty the exported REDACTED_PATHS from another module at start-up',
    edits: [{ file: 'src/server/index.ts', find: "import { buildApp } from './app.js';", replace: "import { buildApp } from './app.js';\nimport { REDACTED_PATHS } from './logging.js';\nREDACTED_PATHS.length = 0;" }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'log-full-url',
    what: 'the req serializer logs request.url (query strings carry reset and invitation tokens)',
    edits: [{ file: 'src/server/logging.ts', find: "path: request.url.split('?')[0],", replace: 'path: request.url,' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'log-request-headers',
    what: 'the req serializer logs the request headers (the access line is not redacted)',
    edits: [{ file: 'src/server/logging.ts', find: '    remoteAddress: request.ip,\n', replace: '    remoteAddress: request.ip,\n    headers: request.headers,\n' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'log-response-headers',
    what: 'the res serializer logs the response headers (Set-Cookie carries the session token)',
    edits: [{ file: 'src/server/logging.ts', find: 'export function serializeReply(reply: { statusCode: number }) {\n  return { statusCode: reply.statusCode };', replace: 'export function serializeReply(reply: FastifyReply) {\n  return { statusCode: reply.statusCode, headers: reply.getHeaders() };' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-with-headers',
    what: 'hand the request headers to the unredacted access line',
    edits: [{ file: 'src/server/logging.ts', find: 'const line = { req: request, res: reply, responseTime: reply.elapsedTime };', replace: 'const line = { req: request, res: reply, responseTime: reply.elapsedTime, headers: request.headers };' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-with-body',
    what: 'hand the request body to the unredacted access line',
    edits: [{ file: 'src/server/logging.ts', find: 'const line = { req: request, res: reply, responseTime: reply.elapsedTime };', replace: 'const line = { req: request, res: reply, responseTime: reply.elapsedTime, body: request.body };' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-with-error',
    what: 'write the error line (with the error) through the unredacted access line too',
    edits: [{
      file: 'src/server/logging.ts',
      find: "if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');",
      replace: "if (error && reply.log instanceof RequestLogger) reply.log.accessLine({ req: request, res: reply, err: error, responseTime: reply.elapsedTime } as never, 'request errored');\n    else if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');",
    }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-called-elsewhere',
    what: "log what a failed request sent through the unredacted access line, from the server's error handler",
    edits: [{
      file: 'src/server/app.ts',
      find: "      request.log.error({ err: error, statusCode: 500 }, 'internal error');",
      replace: "      request.log.error({ err: error, statusCode: 500 }, 'internal error');\n      (request.log as unknown as { accessLine(f: object, m: string): void }).accessLine({ req: request, res: reply, responseTime: reply.elapsedTime, body: request.body }, 'failed request');",
    }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'request-logger-unredacted',
    what: 'make every request logger a child without the redaction (the access line skips it already, why not the rest)',
    edits: [{ file: 'src/server/logging.ts', find: 'this.parent.child(this.bindings, this.options)', replace: 'this.parent.child(this.bindings, { ...this.options, redact: [] })' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-writes-url',
    what: 'add the full URL (query string and its tokens) to the hand-built access line',
    edits: [{ file: 'src/server/logging.ts', find: '      responseTime: fields.responseTime,\n', replace: '      responseTime: fields.responseTime,\n      url: fields.req.url,\n' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-writes-request',
    what: "write the request object itself in the access line instead of the serializer's output",
    edits: [{ file: 'src/server/logging.ts', find: '      req: serializeRequest(fields.req),\n', replace: '      req: fields.req,\n' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-writes-headers',
    what: 'add the request headers (cookies, Authorization) to the hand-built access line for debugging',
    edits: [{ file: 'src/server/logging.ts', find: '      msg,\n    };', replace: '      msg,\n      headers: fields.req.headers,\n    };' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-stringifies-fields',
    what: 'simplify the access line to JSON.stringify of the bindings and everything it was handed',
    edits: [{ file: 'src/server/logging.ts', find: '${JSON.stringify(line).slice(1)}', replace: '${JSON.stringify({ ...this.bindings, ...fields, msg }).slice(1)}' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-request-extended',
    what: "extend the access line's req with the request headers next to the serializer's output",
    edits: [{ file: 'src/server/logging.ts', find: '      req: serializeRequest(fields.req),\n', replace: '      req: { ...serializeRequest(fields.req), headers: fields.req.headers },\n' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-to-stdout',
    what: "write the access line straight to process.stdout instead of pino's stream",
    edits: [{ file: 'src/server/logging.ts', find: '    if (stream.writeLater) stream.writeLater(text);\n    else stream.write(text());', replace: '    process.stdout.write(text());' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-later-everything',
    what: 'hand the batch a line made of the bindings and everything accessLine was given (it is made later, so it costs the request nothing)',
    edits: [{ file: 'src/server/logging.ts', find: 'stream.writeLater(text);', replace: "stream.writeLater(() => JSON.stringify({ ...this.bindings, ...fields, msg }) + '\\n');" }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'access-line-unredacted-child',
    what: 'go back to writing the access line through a child made without the redaction (simpler than the hand-built line)',
    edits: [{
      file: 'src/server/logging.ts',
      find: /    const parent = this\.parent as pino\.Logger & PinoInternals;[\s\S]*?    else stream\.write\(text\(\)\);\n/,
      replace: '    this.parent.child({}, { redact: [] }).info({ ...this.bindings, ...fields }, msg);\n',
    }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'route-log-serializers',
    what: "give a route serializers of its own that log the full URL (Fastify's logSerializers)",
    edits: [{ file: 'src/routes/api/me.ts', find: "app.get('/me', { config: { sessionOnly: true },", replace: "app.get('/me', { logSerializers: { req: (request: { url: string }) => ({ url: request.url }) }, config: { sessionOnly: true }," }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'route-console-log',
    what: "print a request's headers with console.log in a route handler (past the log's redaction)",
    edits: [{ file: 'src/routes/api/me.ts', find: '    const session = request.session!;', replace: '    console.log(request.headers);\n    const session = request.session!;' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'hook-console-log',
    what: "print the cookie header with console.log in the CSRF hook, outside the request folders (past the log's redaction)",
    edits: [{ file: 'src/security/csrf.ts', find: '    if (SAFE_METHODS.has(request.method)', replace: '    console.log(request.headers.cookie);\n    if (SAFE_METHODS.has(request.method)' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'auth-stdout-write',
    what: 'write a log-in attempt to process.stdout in the auth subsystem (past the log\'s redaction)',
    edits: [{ file: 'src/auth/login.ts', find: "import ", replace: "process.stdout.write(JSON.stringify({ started: true }));\nimport " }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'second-server-own-logger',
    what: "start a second Fastify server (a metrics port) whose logger is Fastify's own, without the redaction",
    edits: [{ file: 'src/server/index.ts', find: "import { buildApp } from './app.js';", replace: "import Fastify from 'fastify';\nimport { buildApp } from './app.js';\nexport const metrics = Fastify({ logger: { level: 'info' } });" }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  {
    name: 'server-logger-not-logger-options',
    what: "build the server with Fastify's own logger instead of loggerOptions(...)",
    edits: [{ file: 'src/server/app.ts', find: 'logger: loggerOptions(config, options.logStream),', replace: 'logger: { level: config.logLevel },' }],
    expect: 'SRV021-log-secrets',
    groups: ['server'],
  },
  // ---- build and repo (I15)
  {
    name: 'database-url-in-bundle',
    what: 'put the database URL into the browser bundle',
    edits: [{ file: 'dist/public/assets/index-4f2a9c.js', replace: 'const api="/api";const db="postgres://xms_app:s3cret-pass@db.internal:5432/app";export{api,db};\n' }],
    expect: 'BLD001-secret-in-bundle',
    groups: ['repo'],
  },
  {
    name: 'env-tracked-by-git',
    what: 'commit .env',
    edits: [{ file: '.env', replace: 'DATABASE_URL=postgres://xms_app:s3cret-pass@localhost:5432/app\n' }],
    expect: 'REPO001-env-tracked',
    groups: ['repo'],
    setup: (appDir) => {
      execFileSync('git', ['init', '-q'], { cwd: appDir });
      execFileSync('git', ['add', '-f', '.env'], { cwd: appDir });
    },
    teardown: (appDir) => rmSync(join(appDir, '.git'), { recursive: true, force: true }),
  },
];

/** Mutations of the full preset (UI): the bundle the UI build writes (web/vite.config.ts outDir dist/web). */
const FULL_MUTATIONS: Mutation[] = [
  {
    name: 'service-role-key-in-ui-bundle',
    what: 'a Supabase service_role key from .env compiled into the UI bundle',
    edits: [
      { file: '.env', replace: `SUPABASE_SERVICE_ROLE_KEY=${serviceRoleJwt()}\n` },
      { file: 'dist/web/assets/index-8d1e.js', replace: `const k="${serviceRoleJwt()}";fetch("/api/records",{headers:{apikey:k}});\n` },
    ],
    expect: 'BLD001-secret-in-bundle',
    groups: ['repo'],
  },
];

function serviceRoleJwt(): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ iss: 'supabase', role: 'service_role', iat: 1700000000 })}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
}

let root = '';
let appDir = '';
let fullDir = '';
const results: Array<{ name: string; killed: boolean; ids: string[] }> = [];

function errorIds(report: Report): string[] {
  return [...new Set(report.findings.filter((f) => f.severity === 'error').map((f) => f.id))].sort();
}

test.before(() => {
  if (!existsSync(join(REPO_ROOT, 'dist', 'lib', 'cli', 'create.js'))) {
    execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'ignore' });
  }
  root = mkdtempSync(join(tmpdir(), 'xms-mutations-'));
  appDir = join(root, 'app');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'create-xms-app.js'), appDir, '--yes', '--preset', 'default', '--no-git', '--no-install'], {
    env: { ...process.env, CI: '1', CREATE_XMS_APP_SPEC: `file:${REPO_ROOT}` },
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
  fullDir = join(root, 'full');
  const f = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'create-xms-app.js'), fullDir, '--yes', '--preset', 'full', '--no-git', '--no-install'], {
    env: { ...process.env, CI: '1', CREATE_XMS_APP_SPEC: `file:${REPO_ROOT}` },
    encoding: 'utf8',
  });
  assert.is(f.status, 0, f.stderr);
});

test.after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test('control: the un-mutated app passes xms check', async () => {
  const report = await runCheck(appDir);
  const errors = report.findings.filter((f) => f.severity === 'error');
  assert.equal(errors, [], `the control app must pass:\n${JSON.stringify(errors, null, 2)}`);
  console.log(`  control: xms check passed in ${(report.ms / 1000).toFixed(1)} s (${report.ran.length} checks)`);
});

test('control: the un-mutated full app passes the repo checks (its bundle folder empty until built)', async () => {
  const report = await runCheck(fullDir, { groups: ['server', 'repo'] });
  assert.equal(report.findings.filter((f) => f.severity === 'error'), []);
});

const ALL: Array<[Mutation, () => string]> = [...MUTATIONS.map((m) => [m, () => appDir] as [Mutation, () => string]), ...FULL_MUTATIONS.map((m) => [m, () => fullDir] as [Mutation, () => string])];
for (const [m, dirOf] of ALL) {
  test(`mutation ${m.name}: ${m.what} -> ${m.expect}`, async () => {
    const appDir = dirOf();
    const saved = new Map<string, string | undefined>();
    try {
      for (const e of m.edits) {
        const path = join(appDir, e.file);
        if (!saved.has(e.file)) saved.set(e.file, existsSync(path) ? readFileSync(path, 'utf8') : undefined);
        if (e.find === undefined) {
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, e.replace);
        } else {
          const before = readFileSync(path, 'utf8');
          const present = typeof e.find === 'string' ? before.includes(e.find) : e.find.test(before);
          assert.ok(present, `mutation ${m.name} cannot be applied: ${e.file} no longer contains ${String(e.find)}`);
          writeFileSync(path, before.replace(e.find, e.replace));
        }
      }
      m.setup?.(appDir);
      const report = await runCheck(appDir, { groups: m.groups });
      const ids = errorIds(report);
      const killed = ids.includes(m.expect);
      results.push({ name: m.name, killed, ids });
      assert.ok(killed, `mutation ${m.name} survived: expected ${m.expect}, got errors [${ids.join(', ')}]`);
    } finally {
      m.teardown?.(appDir);
      for (const [file, contents] of saved) {
        const path = join(appDir, file);
        if (contents === undefined) rmSync(path, { force: true });
        else writeFileSync(path, contents);
      }
      for (const dir of ['web', 'dist']) if (!m.edits.every((e) => !e.file.startsWith(`${dir}/`))) rmSync(join(appDir, dir), { recursive: true, force: true });
    }
  });
}

test('kill rate: every mutation is killed', () => {
  const killed = results.filter((r) => r.killed).length;
  console.log(`  mutation kill rate: ${killed}/${ALL.length}`);
  for (const r of results) console.log(`    ${r.killed ? 'killed  ' : 'SURVIVED'} ${r.name} [${r.ids.join(', ')}]`);
  assert.ok(ALL.length >= 15, 'at least 15 mutations');
  assert.is(results.length, ALL.length, 'every mutation ran');
  assert.is(killed, ALL.length, `mutation kill rate ${killed}/${ALL.length}`);
});

test.run();
