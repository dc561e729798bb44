/**
 * `xms check`: its building blocks (policy expression parsing, drift comparison, config.toml), the CLI
 * (human and --json output, exit codes) and the control on every preset: a fresh app passes.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CHECKS, CHECK_IDS, exposedSchemas, formatReport, runCheck, type Report } from '../../lib/check/index.js';
import { looksSecret, outerIdentifiers, unwrappedHelpers, withoutSubqueries } from '../../lib/check/db-checks.js';
import { comparePolicies, isXmsInfrastructure } from '../../lib/check/drift.js';
import { policyDefinition, type PolicyRow } from '../../lib/check/database.js';
import { REPO_ROOT, runCli, XMS_BIN } from '../helpers/cli.js';
import { scaffold } from './app.js';

// These suites check each app against a fresh PGlite built from its own migrations. CI exports a
// DATABASE_URL for other suites (a shared, unmigrated database): it must not leak in here.
// test/check/postgres.test.ts covers xms check on a real PostgreSQL server.
delete process.env.DATABASE_URL;

test('every check id is unique, stable-shaped and documented in the README', () => {
  assert.is(new Set(CHECK_IDS).size, CHECK_IDS.length);
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  for (const c of CHECKS) {
    assert.match(c.id, /^(DB|SRV|BLD|REPO)\d{3}-[a-z0-9-]+$/);
    assert.ok(readme.includes(c.id), `README documents ${c.id}`);
  }
});

test('policy expressions: columns outside sub-selects, unwrapped identity helpers', () => {
  const wrapped = '(tenant_id = ( SELECT app.current_tenant_id() AS current_tenant_id))';
  assert.equal(outerIdentifiers(wrapped), ['tenant_id']);
  assert.equal(unwrappedHelpers(wrapped), []);
  const own = '((owner_id = ( SELECT app.current_user_id() AS current_user_id)) AND (tenant_id = ( SELECT app.current_tenant_id() AS current_tenant_id)))';
  assert.equal(outerIdentifiers(own).sort(), ['owner_id', 'tenant_id']);
  assert.equal(unwrappedHelpers('(tenant_id = app.current_tenant_id())'), ['app.current_tenant_id']);
  assert.equal(unwrappedHelpers('(user_id = auth.uid())'), ['auth.uid']);
  assert.equal(unwrappedHelpers('(user_id = ( SELECT auth.uid() AS uid))'), []);
  const users = '(id IN ( SELECT m.user_id FROM app.memberships m WHERE (m.tenant_id = ( SELECT app.current_tenant_id() AS current_tenant_id))))';
  assert.equal(withoutSubqueries(users).replace(/\s+/g, ' ').trim(), '(id IN )');
  assert.equal(outerIdentifiers("(status = 'open'::text)"), ['status', 'text']);
});

test('secret-looking column names: a word of the name is a secret word', () => {
  for (const c of ['password_hash', 'token_hash', 'totp_secret', 'recovery_code_hashes', 'api_token', 'otp']) assert.ok(looksSecret(c), c);
  for (const c of ['email', 'user_id', 'tokenizer', 'hashtag', 'last_seen_at', 'expire']) assert.not.ok(looksSecret(c), c);
});

test('drift: missing, changed, extra and hand-written policies; infrastructure migrations recognised', () => {
  const p = (name: string, qual: string, schema = 'app'): PolicyRow => ({
    schemaname: schema, tablename: 'records', policyname: name, permissive: 'PERMISSIVE', roles: ['xms_member'], cmd: 'SELECT', qual, with_check: null,
  });
  assert.ok(isXmsInfrastructure('supabase/migrations/20240101000000_xms_base.sql'));
  assert.not.ok(isXmsInfrastructure('supabase/migrations/20240101000200_xms_permissions.sql'));
  assert.not.ok(isXmsInfrastructure('supabase/migrations/20250101000000_add_things.sql'));
  const origin = new Map([
    ['app.records.records_auth', 'supabase/migrations/20240101000100_xms_tables.sql'],
    ['app.records.open', 'supabase/migrations/20250101000000_hand.sql'],
  ]);
  const expected = [p('xms_a', '(tenant_id = 1)'), p('xms_b', '(tenant_id = 2)'), p('records_auth', 'true'), p('open', 'true')];
  const live = [p('xms_a', '(tenant_id = 1)'), p('xms_b', 'true'), p('records_auth', 'true'), p('open', 'true'), p('sneaky', 'true'), p('other', 'true', 'auth')];
  const findings = comparePolicies(live, [...expected, p('xms_c', '(x = 1)')], origin, (s) => s !== 'auth');
  const got = findings.map((f) => `${f.id} ${f.object.split(' ')[2]}`).sort();
  assert.equal(got, [
    'DB003-policy-drift sneaky',
    'DB003-policy-drift xms_b',
    'DB003-policy-drift xms_c',
    'DB004-policy-outside-matrix open',
  ]);
  assert.is(policyDefinition({ ...p('x', ' ( a  =  b ) '), roles: '{b,a}' }), 'permissive select to a,b using ( a = b ) check -');
});

test('exposed schemas come from supabase/config.toml [api] schemas', () => {
  const { appDir, cleanup } = scaffold('minimal');
  try {
    assert.equal(exposedSchemas(appDir), ['public']);
    const file = join(appDir, 'supabase', 'config.toml');
    writeFileSync(file, '[db]\nmajor_version = 15\n\n[api]\nenabled = true\nschemas = ["public", "graphql_public", "api"]\n\n[auth]\nschemas = ["nope"]\n');
    assert.equal(exposedSchemas(appDir), ['public', 'graphql_public', 'api']);
  } finally {
    cleanup();
  }
});

test('a migration that fails is DB000 (nothing else runs on that database); a broken matrix is DB015', async () => {
  const { appDir, cleanup } = scaffold('minimal');
  try {
    const broken = join(appDir, 'supabase', 'migrations', '29990101000000_broken.sql');
    writeFileSync(broken, 'alter table app.no_such_table enable row level security;\n');
    const r1 = await runCheck(appDir, { groups: ['db'] });
    assert.equal(r1.findings.map((f) => f.id), ['DB000-migrations-failed']);
    assert.is(r1.findings[0]!.object, join('supabase', 'migrations', '29990101000000_broken.sql'));
    assert.match(r1.findings[0]!.message, 'no_such_table');
    writeFileSync(broken, '-- fixed\n');
    const matrix = join(appDir, 'permissions.yml');
    writeFileSync(matrix, readFileSync(matrix, 'utf8').replace('member: { select: tenant }', 'member: { select: everything }'));
    const r2 = await runCheck(appDir, { groups: ['db'] });
    const ids = r2.findings.map((f) => f.id);
    assert.ok(ids.includes('DB015-matrix-invalid'), ids.join());
    assert.match(r2.findings.find((f) => f.id === 'DB015-matrix-invalid')!.message, /permissions\.yml:\d+/);
  } finally {
    cleanup();
  }
});

function assertPasses(report: Report, label: string): void {
  const errors = report.findings.filter((f) => f.severity === 'error');
  assert.equal(errors, [], `${label}: ${formatReport(report)}`);
}

for (const preset of ['minimal', 'full'] as const) {
  test(`control: a fresh ${preset} app passes xms check`, async () => {
    const { appDir, cleanup } = scaffold(preset);
    try {
      const report = await runCheck(appDir);
      assertPasses(report, preset);
      // the declared audit exemption is reported with its reason, as info
      const exempt = report.findings.find((f) => f.id === 'DB005-audit-trigger-missing' && f.object === 'app_private.auth_rate_limits');
      assert.is(exempt?.severity, 'info');
      assert.match(exempt!.message, /declared exempt in permissions\.yml \(counters/);
      assert.is(report.database, 'pglite');
      console.log(`  ${preset}: passed in ${(report.ms / 1000).toFixed(1)} s`);
    } finally {
      cleanup();
    }
  });
}

test('the route inventory read from the source: public routes are exactly the public list; admin routes in the admin scope', async () => {
  const { routeInventory } = await import('../../lib/check/server/index.js');
  const { appDir, cleanup } = scaffold('default');
  try {
    const routes = await routeInventory(appDir);
    const publicRoutes = routes.filter((r) => r.scope === 'public').map((r) => `${r.method} ${r.url}`).sort();
    const listed = [...readFileSync(join(appDir, 'src', 'server', 'public-routes.ts'), 'utf8').matchAll(/^\s*'([A-Z]+ \/[^']*)',?$/gm)].map((m) => m[1]!).sort();
    assert.ok(listed.length >= 3, listed.join());
    assert.equal(publicRoutes, listed);
    assert.ok(routes.some((r) => r.scope === 'protected'));
    const admin = routes.filter((r) => r.url.startsWith('/api/admin'));
    assert.ok(admin.length > 0);
    for (const r of admin) assert.is(r.scope, 'admin', `${r.method} ${r.url}`);
    assert.not.ok(routes.some((r) => r.scope === 'root'));
    assert.is(new Set(routes.map((r) => `${r.method} ${r.url}`)).size, routes.length, 'no route counted twice');
  } finally {
    cleanup();
  }
});

test('server checks SRV009, SRV015-SRV017 on variants of the source: what is accepted, what is refused', async () => {
  const { appDir, cleanup } = scaffold('minimal');
  const ids = async () => (await runCheck(appDir, { groups: ['server'] })).findings.filter((f) => f.severity === 'error').map((f) => f.id);
  const edit = async (file: string, find: string | RegExp | Array<[string | RegExp, string]>, replace: string, expect: string | undefined) => {
    const path = join(appDir, file);
    const before = readFileSync(path, 'utf8');
    let after = before;
    for (const [f, r] of Array.isArray(find) ? find : [[find, replace] as const]) {
      assert.ok(typeof f === 'string' ? after.includes(f) : f.test(after), `${file} contains ${String(f)}`);
      after = after.replace(f, r);
    }
    writeFileSync(path, after);
    try {
      const got = await ids();
      if (expect) assert.ok(got.includes(expect), `${replace}: expected ${expect}, got [${got.join(', ')}]`);
      else assert.equal(got, [], `${replace} is accepted`);
    } finally {
      writeFileSync(path, before);
    }
  };
  const trustProxy = 'trustProxy: config.trustProxy as boolean | string | string[],';
  try {
    // trustProxy: a hop count, an explicit list, false: fine; true, '*', a /0 range or an unknown expression: not
    await edit('src/server/app.ts', trustProxy, 'trustProxy: 1,', undefined);
    await edit('src/server/app.ts', trustProxy, "trustProxy: ['10.0.0.1', '192.168.0.0/16'],", undefined);
    await edit('src/server/app.ts', trustProxy, 'trustProxy: false,', undefined);
    await edit('src/server/app.ts', trustProxy, "trustProxy: '127.0.0.1,::/0',", 'SRV016-trust-proxy-all');
    await edit('src/server/app.ts', trustProxy, "trustProxy: '*',", 'SRV016-trust-proxy-all');
    await edit('src/server/app.ts', trustProxy, "trustProxy: process.env.TRUST_PROXY === 'yes',", 'SRV016-trust-proxy-all');
    await edit('src/server/app.ts', [[trustProxy, 'trustProxy,'], [/^export async function buildApp/m, 'const trustProxy = true;\nexport async function buildApp']], '', 'SRV016-trust-proxy-all');
    await edit('src/server/app.ts', [[trustProxy, 'trustProxy,'], [/^export async function buildApp/m, 'const trustProxy = 2;\nexport async function buildApp']], '', undefined);
    // other PASSWORD_MIN_* settings (a strength score) are not lengths for SRV009
    await edit('src/config.ts', /^export const PASSWORD_MIN_DEFAULT/m, 'export const PASSWORD_MIN_SCORE = 3;\nexport const PASSWORD_MIN_DEFAULT', undefined);
    // the config: a default through ?? that trusts all (one that is refused only stops the start: fine); a parse that cannot be followed
    await edit('src/config.ts', 'parseTrustProxy(env.TRUST_PROXY)', "parseTrustProxy(env.TRUST_PROXY ?? '0.0.0.0/0')", undefined);
    await edit('src/config.ts', 'parseTrustProxy(env.TRUST_PROXY)', "parseTrustProxy(env.TRUST_PROXY ?? 'true')", 'SRV016-trust-proxy-all');
    await edit('src/config.ts', 'parseTrustProxy(env.TRUST_PROXY)', "parseTrustProxy(env.TRUST_PROXY ?? '2')", undefined);
    await edit('src/config.ts', 'parseTrustProxy(env.TRUST_PROXY)', 'env.TRUST_PROXY !== undefined', 'SRV016-trust-proxy-all');
    // session lifetimes: named constants are folded; a shorter ceiling is fine, a longer one or a zero minimum is not
    const idle = "int(env, 'SESSION_IDLE_MINUTES', 30, 1, 24 * 60)";
    const constant: [RegExp, string] = [/^export const PASSWORD_MIN_DEFAULT/m, 'const IDLE = 15;\nexport const IDLE_MAX = 8 * 60;\nexport const PASSWORD_MIN_DEFAULT'];
    await edit('src/config.ts', [constant, [idle, "int(env, 'SESSION_IDLE_MINUTES', IDLE, 1, IDLE_MAX)"]], '', undefined);
    await edit('src/config.ts', [constant, [idle, "int(env, 'SESSION_IDLE_MINUTES', IDLE * 100, 1, IDLE_MAX * 100)"]], '', 'SRV015-session-lifetime');
    await edit('src/config.ts', idle, "int(env, 'SESSION_IDLE_MINUTES', UNDEFINED_NAME, 1, 60)", 'SRV015-session-lifetime');
    await edit('src/config.ts', "int(env, 'SESSION_ABSOLUTE_HOURS', 12, 1, 24 * 30)", "int(env, 'SESSION_ABSOLUTE_HOURS', 8, 1, 24)", undefined);
    await edit('src/config.ts', "int(env, 'SESSION_ABSOLUTE_HOURS', 12, 1, 24 * 30)", "int(env, 'SESSION_ABSOLUTE_HOURS', 12, 0, 24 * 31)", 'SRV015-session-lifetime');
    // argon2: a literal object or a higher cost is fine; a spread, a missing type or parallelism 0 is not
    await edit('src/security/passwords.ts', 'memoryCost: 19456', 'memoryCost: 65536', undefined);
    await edit('src/security/passwords.ts', 'argon2.hash(password, ARGON2_OPTIONS)', 'argon2.hash(password, { type: argon2.argon2id, memoryCost: 19456, timeCost: 3, parallelism: 1 })', undefined);
    await edit('src/security/passwords.ts', 'argon2.hash(password, ARGON2_OPTIONS)', 'argon2.hash(password, { ...ARGON2_OPTIONS, timeCost: 3 })', 'SRV017-password-hash-weak');
    await edit('src/security/passwords.ts', '  type: argon2.argon2id,\n', '', 'SRV017-password-hash-weak');
    await edit('src/security/passwords.ts', 'parallelism: 1', 'parallelism: 0', 'SRV017-password-hash-weak');
  } finally {
    cleanup();
  }
});

test('SRV021 on variants of the logging source: equivalent spellings are accepted, each weakening is refused for its reason', async () => {
  const { appDir, cleanup } = scaffold('minimal');
  const LOGGING = 'src/server/logging.ts';
  const APP = 'src/server/app.ts';
  const logFindings = async () => (await runCheck(appDir, { groups: ['server'] })).findings.filter((f) => f.id === 'SRV021-log-secrets');
  /** Applies the edits (find -> replace; a file replaced by null is removed), runs the check, restores. */
  // an edit's find null removes the file; a file that is not there is created with find ''
  const variant = async (edits: Array<[file: string, find: string | null, replace: string | null]>, expect: RegExp | undefined) => {
    const saved = new Map<string, string | null>();
    const createdDirs: string[] = [];
    try {
      for (const [file, find, replace] of edits) {
        const path = join(appDir, file);
        const before = saved.has(file) ? saved.get(file)! : existsSync(path) ? readFileSync(path, 'utf8') : null;
        if (!saved.has(file)) saved.set(file, before);
        if (replace === null) rmSync(path);
        else if (before === null && find === '') {
          // the folder too, when it is new (removed with the file)
          const made = mkdirSync(dirname(path), { recursive: true });
          if (made) createdDirs.push(made);
          writeFileSync(path, replace);
        } else {
          const text = readFileSync(path, 'utf8');
          assert.ok(find !== null && text.includes(find), `${file} contains ${find}`);
          writeFileSync(path, text.replace(find!, replace));
        }
      }
      const found = await logFindings();
      const summary = found.map((f) => `${f.object}: ${f.message}`).join('\n');
      if (expect) assert.ok(found.some((f) => expect.test(f.message)), `${JSON.stringify(edits)}: expected a finding matching ${expect}, got:\n${summary}`);
      else assert.equal(found, [], `${JSON.stringify(edits)} is accepted, got:\n${summary}`);
    } finally {
      for (const [file, text] of saved) {
        if (text === null) rmSync(join(appDir, file));
        else writeFileSync(join(appDir, file), text);
      }
      for (const dir of createdDirs) rmSync(dir, { recursive: true, force: true });
    }
  };
  const redact = "redact: { paths: REDACTED_PATHS, censor: '[redacted]' }";
  const path = "path: request.url.split('?')[0],";
  const serializers = 'serializers: { req: serializeRequest, res: serializeReply },';
  const line = 'const line = { req: request, res: reply, responseTime: reply.elapsedTime };';
  // accessLine's hand-built line: the JSON of the verified fields, written after pino's level, time and bindings
  const msg = '      msg,\n    };';
  const reqField = 'req: serializeRequest(fields.req),';
  const stream = 'const stream = parent[pino.symbols.streamSym];';
  const writes = '    if (stream.writeLater) stream.writeLater(text);\n    else stream.write(text());';
  const head = 'const head = `{"level":${parent.levels.values.info}${parent[pino.symbols.timeSym]()}${parent[pino.symbols.chindingsSym]},`;';
  const json = '${JSON.stringify(line).slice(1)}';
  try {
    await variant([], undefined);
    // equivalent: another spelling of a path, pino's default censor, removing instead of censoring, a frozen or longer list,
    // other ways to drop the query string, pino's own error serializer, a serializer held in a const arrow, a child logger that only sets its level
    await variant([[LOGGING, `'res.headers["set-cookie"]'`, `"res.headers['set-cookie']"`]], undefined);
    await variant([[LOGGING, redact, 'redact: REDACTED_PATHS']], undefined);
    await variant([[LOGGING, "censor: '[redacted]'", 'remove: true']], undefined);
    await variant([[LOGGING, 'export const REDACTED_PATHS = [', 'export const REDACTED_PATHS = Object.freeze(['], [LOGGING, "  'err.params',\n];", "  'err.params',\n]);"]], undefined);
    await variant([[LOGGING, 'paths: REDACTED_PATHS,', "paths: [...REDACTED_PATHS, '*.apiKey'],"]], undefined);
    await variant([[LOGGING, path, "path: request.url.split('?', 1)[0],"]], undefined);
    await variant([[LOGGING, path, "path: new URL(request.url, 'http://localhost').pathname,"]], undefined);
    await variant([[LOGGING, serializers, 'serializers: { req: serializeRequest, res: serializeReply, err: pino.stdSerializers.err },']], undefined);
    await variant([[LOGGING, 'export function serializeReply(reply: { statusCode: number }) {\n  return { statusCode: reply.statusCode };\n}', 'export const serializeReply = (reply: { statusCode: number }) => ({ statusCode: reply.statusCode });']], undefined);
    await variant([[LOGGING, 'export const newRequestId', "export const quietLogger = (log: FastifyBaseLogger) => log.child({ part: 'probe' }, { level: 'warn' });\nexport const newRequestId"]], undefined);
    // equivalent: the access line's object as msg: msg or in another order, the logger cast in place, the line concatenated
    await variant([[LOGGING, msg, '      msg: msg,\n    });']], undefined);
    await variant([[LOGGING, `      reqId: this.bindings.reqId,\n      ${reqField}`, `      ${reqField}\n      reqId: this.bindings.reqId,`]], undefined);
    await variant([[LOGGING, stream, 'const stream = (this.parent as any)[pino.symbols.streamSym];']], undefined);
    await variant([[LOGGING, head, `const head = '{"level":' + parent.levels.values.info + parent[pino.symbols.timeSym]() + parent[pino.symbols.chindingsSym] + ',';`], [LOGGING, '`${head}${JSON.stringify(line).slice(1)}\\n`', "head + JSON.stringify(line).slice(1) + '\\n'"]], undefined);
    // equivalent: the line written at once, or made later by an arrow function in place, or stringified where it is made
    await variant([[LOGGING, writes, '    stream.write(text());']], undefined);
    await variant([[LOGGING, 'stream.writeLater(text);', 'stream.writeLater(() => `${head}${JSON.stringify(line).slice(1)}\\n`);']], undefined);
    await variant([[LOGGING, 'const text = () => `${head}${JSON.stringify(line).slice(1)}\\n`;', 'const json = JSON.stringify(line);\n    const text = () => `${head}${json.slice(1)}\\n`;']], undefined);
    // refused: the redaction
    await variant([[LOGGING, "  'err.detail',\n", '']], /redaction paths lack err\.detail/);
    await variant([[LOGGING, redact, 'redact: { paths: [] }']], /redaction is disabled/);
    await variant([[LOGGING, 'paths: REDACTED_PATHS,', 'paths: REDACTED_PATHS.slice(2),']], /redaction paths cannot be verified/);
    await variant([[LOGGING, 'export const REDACTED_PATHS', 'export let REDACTED_PATHS']], /REDACTED_PATHS is not a const/);
    await variant([[LOGGING, "censor: '[redacted]'", 'censor: (value: unknown) => value']], /censor is a function/);
    await variant([[LOGGING, '    stream: stream ??', '    mixin: (line: object) => line,\n    stream: stream ??']], /logger option mixin cannot be verified/);
    // refused: the serializers (serializeRequest is read through its name)
    await variant([[LOGGING, path, "path: request.url.split('#')[0],"]], /req serializer logs request\.url\.split\('#'\)\[0\]: the URL with its query string/);
    await variant([[LOGGING, '    remoteAddress: request.ip,\n', '    remoteAddress: request.ip,\n    query: request.query,\n']], /req serializer logs request\.query/);
    await variant([[LOGGING, serializers, 'serializers: { req: serializeRequest, res: serializeReply, body: (body: unknown) => body },']], /serializer for body/);
    // refused: the access line's call sites
    await variant([[LOGGING, "reply.log.accessLine(line, 'request completed')", 'reply.log.accessLine(line, `completed ${request.url}`)']], /message is .*not a literal/);
    await variant([[LOGGING, "reply.log.accessLine(line, 'request completed')", "reply.log.accessLine({ ...line }, 'request completed')"]], /accessLine is given \.\.\.line/);
    await variant([[LOGGING, line, line.replace('const', 'let')]], /not a literal object \(or a const of one\)/);
    // refused: what the access line holds and where it goes
    await variant([[LOGGING, msg, '      msg,\n      headers: fields.req.headers,\n    });']], /fields are used here \(headers: fields\.req\.headers\)/);
    await variant([[LOGGING, reqField, 'req: fields.req,']], /fields are used here \(req: fields\.req\)/);
    await variant([[LOGGING, '      reqId: this.bindings.reqId,', '      ...this.bindings,']], /access line also holds \.\.\.this\.bindings/);
    await variant([[LOGGING, json, '${JSON.stringify(line, (key: string, value: unknown) => value).slice(1)}']], /a replacer can put anything in the unredacted line/);
    await variant([[LOGGING, reqField, 'req: requestInfo(fields.req),'], [LOGGING, 'export const newRequestId', 'const requestInfo = (request: FastifyRequest) => ({ ...serializeRequest(request), headers: request.headers });\nexport const newRequestId']], /hands fields\.req to requestInfo, not the req serializer loggerOptions names \(serializeRequest\)/);
    await variant([[LOGGING, serializers, "serializers: { req: (request: FastifyRequest) => ({ method: request.method, path: request.url.split('?')[0], remoteAddress: request.ip }), res: serializeReply },"]], /req serializer is not a function of src\/server\/logging\.ts given by name/);
    await variant([[LOGGING, json, '${JSON.stringify(fields).slice(1)}']], /fields are used here \(JSON\.stringify\(fields\)\)/);
    await variant([[LOGGING, json, '"bindings":${JSON.stringify(this.bindings)},${JSON.stringify(line).slice(1)}']], /accessLine stringifies this\.bindings: not a literal object/);
    await variant([[LOGGING, 'const line = {\n      reqId', 'let line = {\n      reqId']], /accessLine stringifies line: not a literal object/);
    await variant([[LOGGING, writes, '    process.stdout.write(text());']], /accessLine writes to process\.stdout, not pino's stream/);
    await variant([[LOGGING, stream, 'const stream = process.stdout as never as { writeLater?: (line: () => string) => void; write(line: string): void };']], /accessLine writes to stream, not pino's stream/);
    await variant([[LOGGING, writes, '    console.log(text());']], /accessLine calls console\.log/);
    // refused: the consts the line is made of, changed or used elsewhere, or a text that is not verified
    await variant([[LOGGING, '    const text = ', '    (line as { msg: unknown }).msg = this.bindings;\n    const text = ']], /access line's fields object \(line\) is used here/);
    await variant([[LOGGING, head, head.replace(',`;', ',"env":"${process.env.DATABASE_URL}",`;')]], /access line writes process\.env\.DATABASE_URL/);
    await variant([[LOGGING, 'stream.writeLater(text);', 'stream.writeLater(() => JSON.stringify({ ...this.bindings, ...fields, msg }));']], /fields are used here|access line also holds \.\.\.this\.bindings/);
    await variant([[LOGGING, 'stream.writeLater(text);', 'stream.writeLater(text.bind(null));']], /hands text\.bind\(null\) to writeLater/);
    await variant([[LOGGING, 'stream.writeLater(text);', 'stream.writeLater(() => `${head}${JSON.stringify(line).slice(1)}${text}\\n`);']], /the access line writes text: it skips the redaction/);
    await variant([[LOGGING, 'stream.writeLater(text);', 'stream.writeLater(text);\n    (globalThis as { lastLine?: unknown }).lastLine = text;']], /function making its text \(text\) is used here/);
    await variant([[LOGGING, 'export const newRequestId', "export const rawLogger = (log: FastifyBaseLogger) => log.child({}, { redact: [] });\nexport const newRequestId"]], /child logger made with a redaction of its own/);
    // a route's own serializers: reading the option is harmless, setting it is refused
    await variant([[LOGGING, 'export const newRequestId', 'export const ownSerializers = (o: { logSerializers?: unknown }) => o.logSerializers !== undefined;\nexport const newRequestId']], undefined);
    await variant([[LOGGING, 'export const newRequestId', "export const widen = (o: { logSerializers?: unknown }) => {\n  o.logSerializers = { req: (r: { url: string }) => ({ url: r.url }) };\n};\nexport const newRequestId"]], /a route sets logSerializers/);
    // the server's code writes nothing past the logger: console and process.stdout / stderr, however
    // they are reached, are refused anywhere under src/ but the entry points, scripts and mailer (a
    // comment naming them is not code)
    const ME = 'src/routes/api/me.ts';
    const handler = '    const session = request.session!;';
    await variant([[ME, handler, `    // never console.log the request here: request.log redacts it\n${handler}`]], undefined);
    await variant([[ME, handler, `    globalThis.console.warn('me', request.headers);\n${handler}`]], /console is used in the server's code \(globalThis\.console\.warn\('me', request\.headers\)\)/);
    await variant([[ME, handler, `    const { log } = console;\n    log(request.body);\n${handler}`]], /console is used in the server's code/);
    await variant([['src/auth/login.ts', 'import ', "process['stderr'].write('x');\nimport "]], /process\.stderr is used in the server's code/);
    // a hook outside the request folders, and a helper module of the team's own
    const guard = '    if (SAFE_METHODS.has(request.method)';
    await variant([['src/security/csrf.ts', guard, `    console.debug(request.headers.cookie);\n${guard}`]], /console is used in the server's code \(console\.debug\(request\.headers\.cookie\)\)/);
    await variant([['src/lib/debug.ts', '', 'export const dump = (value: unknown) => console.dir(value);\n']], /console is used in the server's code \(console\.dir\(value\)\)/);
    await variant([['src/lib/debug.ts', '', "import { log } from 'node:console';\nexport const dump = (value: unknown) => log(value);\n"]], /node:console is used in the server's code/);
    // an entry point prints (its output is the console)
    await variant([['src/server/index.ts', 'import ', "console.info('starting');\nimport "]], undefined);
    // a second Fastify server elsewhere under src/ is wired as the app's: loggerOptions is accepted, anything else refused
    const INDEX = 'src/server/index.ts';
    const buildAppImport = "import { buildApp } from './app.js';";
    await variant([[INDEX, buildAppImport, `import Fastify from 'fastify';\nimport { loggerOptions } from './logging.js';\n${buildAppImport}\nexport const metrics = Fastify({ logger: loggerOptions(loadConfig()) });`]], undefined);
    await variant([[INDEX, buildAppImport, `import * as fastify from 'fastify';\n${buildAppImport}\nexport const metrics = fastify.default({ logger: true });`]], /the server's logger is true, not loggerOptions/);
    await variant([[INDEX, buildAppImport, `import { fastify } from 'fastify';\n${buildAppImport}\nexport const metrics = fastify({ loggerInstance: undefined, logger: false });`]], /loggerInstance/);
    // refused: other loggers, the wiring, the module itself
    await variant([['src/server/index.ts', "import { buildApp } from './app.js';", "import { buildApp } from './app.js';\nimport pino from 'pino';\nexport const auditLog = pino({ level: 'info' });"]], /logger options have no redact/);
    await variant([[APP, 'childLoggerFactory: requestLogger,', 'childLoggerFactory: (logger, bindings, opts) => logger.child(bindings, opts),']], /childLoggerFactory is .*not requestLogger/);
    await variant([[APP, '    genReqId: newRequestId,', '    genReqId: newRequestId,\n    loggerInstance: undefined,']], /loggerInstance/);
    await variant([[LOGGING, null, null]], /logging module is missing/);
  } finally {
    cleanup();
  }
});

test('SRV021 compares redaction paths in one spelling', async () => {
  const { canonicalPath } = await import('../../lib/check/server/log-secrets.js');
  assert.is(canonicalPath('res.headers["set-cookie"]'), canonicalPath("res.headers['set-cookie']"));
  assert.is(canonicalPath('req["headers"].cookie'), 'req.headers.cookie');
  assert.is(canonicalPath('*.token'), canonicalPath('[*].token'));
  assert.is.not(canonicalPath('headers.cookie'), canonicalPath('*.cookie'));
  assert.is.not(canonicalPath('headers["set-cookie"]'), canonicalPath('headers.set-cookie'));
});

test('SRV018: public routes under the admin prefix or a protected path are flagged; siblings are not', async () => {
  const { checkRouteNamespaces } = await import('../../lib/check/server/route-namespaces.js');
  const r = (scope: 'public' | 'protected' | 'admin', method: string, url: string) => ({ scope, method, url, at: `${scope}.ts:1` });
  const routes = [
    r('protected', 'POST', '/api/auth/logout'),
    r('protected', 'GET', '/api/me'),
    r('protected', 'GET', '/api/records/:id'),
    r('protected', 'POST', '/api/imports/:table'),
    r('protected', 'GET', '/api/:anything'),
    r('admin', 'GET', '/api/admin/users'),
    r('admin', 'GET', '/api/admin/audit'),
  ];
  const flagged = (url: string, method = 'GET') => checkRouteNamespaces([...routes, r('public', method, url)]).map((f) => f.object);
  for (const ok of ['/api/auth/login', '/api/auth/signup', '/health', '/', '/assets/*', '/api/administrator', '/api/mentions']) assert.equal(flagged(ok), [], ok);
  for (const bad of ['/api/admin/invite', '/api/admin', '/api/me', '/api/records', '/api/records/export', '/api/imports/csv', '/api/auth/logout/all']) {
    assert.equal(flagged(bad, 'POST'), ['public.ts:1'], bad);
  }
  const [f] = checkRouteNamespaces([...routes, r('public', 'GET', '/api/admin/invite')]);
  assert.is(f!.id, 'SRV018-public-route-in-private-namespace');
  assert.match(f!.message, '/api/admin');
  assert.match(f!.fix, 'src/routes/admin');
});

test('CLI: human output and exit 0 on a passing app; --json and exit 1 with a finding; bad options', () => {
  const { appDir, cleanup } = scaffold('default');
  try {
    const ok = runCli(XMS_BIN, ['check', '--cwd', appDir]);
    assert.is(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok: 0 error\(s\)/m);
    assert.match(ok.stdout, /checks in \d+\.\d s/);

    mkdirSync(join(appDir, 'dist', 'public'), { recursive: true });
    writeFileSync(join(appDir, 'dist', 'public', 'app.js'), 'fetch("/api");\nconst u = "postgresql://u:p@h/db";\n');
    const bad = runCli(XMS_BIN, ['check', '--json', '--skip-db'], { cwd: appDir });
    assert.is(bad.status, 1, bad.stderr);
    const report = JSON.parse(bad.stdout) as Report;
    assert.is(report.database, 'skipped');
    const f = report.findings.find((x) => x.id === 'BLD001-secret-in-bundle');
    assert.ok(f, bad.stdout);
    assert.equal(Object.keys(f!).sort(), ['fix', 'id', 'message', 'object', 'severity']);
    assert.is(f!.object, join('dist', 'public', 'app.js') + ':2');
    assert.not.match(f!.message, 'u:p@', 'the password is redacted');

    const unknown = runCli(XMS_BIN, ['check', '--frobnicate', '--cwd', appDir]);
    assert.is(unknown.status, 1);
    assert.match(unknown.stderr, /^xms: unknown option for xms check: --frobnicate$/m);
  } finally {
    cleanup();
  }
});

test.run();
