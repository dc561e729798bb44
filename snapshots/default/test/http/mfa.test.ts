/**
 * The second factor over real HTTP (src/auth/mfa.ts, src/auth/login.ts, migration *_xms_mfa.sql):
 * enrolment with a QR code and ten recovery codes; log-in in two steps (the pending token is no
 * session); TOTP codes computed here with otpauth; a wrong, a replayed or a spent code refused; the
 * second step rate-limited per account; an admin without a second factor can only enrol (server and
 * database); removal needs a code or the password; everything audited, no secret in the audit log.
 */
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as OTPAuth from 'otpauth';
import {
  client,
  login,
  markVerified,
  randomEmail,
  signUpAndLogin,
  startServer,
  strongPassword,
  testConfig,
  testDatabase,
  twoStepClient,
  type Client,
  type Server,
  type TwoStepClient,
} from '../helpers/http.js';

let server: Server;
test.before(async () => {
  // the default: admins must have a second factor
  server = await startServer(testConfig({ mfaRequiredFor: 'admin', authLimit: { perAccount: 5, perIp: 1000, windowSeconds: 900 } }));
});
test.after(async () => {
  await server.close();
  await (await testDatabase()).close();
});

const browser = () => twoStepClient(server);

const totpFor = (secret: string) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
/** the code of the next 30-second step: newer than any accepted so far, and within the allowed drift */
const nextCode = (secret: string) => totpFor(secret).generate({ timestamp: Date.now() + 30_000 });
/** six digits that are none of the codes the server would accept now */
function wrongCode(secret: string): string {
  const valid = [-1, 0, 1].map((d) => totpFor(secret).generate({ timestamp: Date.now() + d * 30_000 }));
  for (let n = 0; ; n++) {
    const candidate = String((Number(valid[1]) + 1 + n) % 1_000_000).padStart(6, '0');
    if (!valid.includes(candidate)) return candidate;
  }
}

async function member(): Promise<{ email: string; password: string; c: TwoStepClient }> {
  // a member of an admin's tenant: the admin invites, the member sets a password through the link
  const admin = await signUpAndLogin(server);
  const email = randomEmail('member');
  const password = strongPassword();
  const owner = (await testDatabase()).owner;
  const user = await owner.query<{ id: string }>(`insert into app.users (display_name) values ('Member') returning id`);
  const userId = user.rows[0]!.id;
  await owner.query(`insert into app.memberships (user_id, tenant_id, role) values ($1, $2, 'member')`, [userId, admin.tenantId]);
  const { hashPassword } = await import('../../src/security/passwords.js');
  await owner.query('insert into app_private.credentials (user_id, email, password_hash) values ($1, $2, $3)', [userId, email, await hashPassword(password)]);
  await markVerified(email);
  const c = browser();
  const response = await c.request('POST', '/api/auth/login', { email, password });
  assert.is(response.status, 200);
  const body = (await response.json()) as { mfaEnrolmentRequired: boolean };
  assert.is(body.mfaEnrolmentRequired, false, 'optional for members');
  return { email, password, c };
}

async function enrol(c: Client): Promise<{ secret: string; recoveryCodes: string[] }> {
  const start = await c.request('POST', '/api/mfa/enrol');
  assert.is(start.status, 200);
  const { secret, uri, qr } = (await start.json()) as { secret: string; uri: string; qr: string };
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.match(uri, /^otpauth:\/\/totp\//);
  assert.match(qr, /^data:image\/svg\+xml;base64,/, 'an image the CSP allows (img-src data:)');
  assert.match(Buffer.from(qr.split(',')[1]!, 'base64').toString(), /<svg/);
  assert.is((await c.request('POST', '/api/mfa/enrol/confirm', { code: wrongCode(secret) })).status, 401, 'a wrong code does not confirm');
  const confirm = await c.request('POST', '/api/mfa/enrol/confirm', { code: totpFor(secret).generate() });
  assert.is(confirm.status, 200);
  const { recoveryCodes } = (await confirm.json()) as { recoveryCodes: string[] };
  assert.is(recoveryCodes.length, 10);
  assert.is(new Set(recoveryCodes).size, 10);
  for (const code of recoveryCodes) assert.match(code, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
  return { secret, recoveryCodes };
}

async function passwordStep(c: TwoStepClient, email: string, password: string): Promise<void> {
  c.cookie = undefined;
  const response = await c.request('POST', '/api/auth/login', { email, password });
  assert.is(response.status, 200);
  assert.equal(((await response.json()) as { status: string }).status, 'mfa_required');
  assert.is(c.cookie, undefined, 'no session before the second factor');
  assert.ok(c.mfaCookie, 'the pending token is in its own cookie');
}

test('enrolment, then a log-in in two steps: a wrong and a replayed code refused, the pending token is no session', async () => {
  const m = await member();
  const { secret } = await enrol(m.c);
  const status = (await (await m.c.request('GET', '/api/mfa')).json()) as { enrolled: boolean; recoveryCodesLeft: number };
  assert.equal(status, { enrolled: true, totp: true, passkeys: [], required: false, recoveryCodesLeft: 10 });
  assert.is((await m.c.request('POST', '/api/mfa/enrol')).status, 409, 'a second enrolment needs the removal first');

  await passwordStep(m.c, m.email, m.password);
  // the pending token presented as a session cookie opens nothing
  const pending = m.c.mfaCookie!.split('=')[1]!;
  const asSession = await fetch(`${server.url}/api/me`, { headers: { cookie: `__Host-session=${pending}` } });
  assert.is(asSession.status, 401);
  assert.is((await m.c.request('GET', '/api/me')).status, 401);

  const wrong = await m.c.request('POST', '/api/auth/login/mfa', { code: wrongCode(secret) });
  assert.is(wrong.status, 401);
  assert.is(((await wrong.json()) as { error: string }).error, 'invalid_code');
  const code = nextCode(secret);
  const ok = await m.c.request('POST', '/api/auth/login/mfa', { code });
  assert.is(ok.status, 200);
  assert.ok(m.c.cookie, 'a session now');
  assert.is(m.c.mfaCookie, undefined, 'the pending cookie is cleared');
  assert.is((await m.c.request('GET', '/api/me')).status, 200);

  // the challenge was spent, and the code too
  const spentChallenge = await fetch(`${server.url}/api/auth/login/mfa`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.origin, cookie: `__Host-mfa=${pending}` },
    body: JSON.stringify({ code }),
  });
  assert.is(spentChallenge.status, 401);
  await passwordStep(m.c, m.email, m.password);
  const replay = await m.c.request('POST', '/api/auth/login/mfa', { code });
  assert.is(replay.status, 401, 'a code accepted once is refused in its window');
  assert.is(m.c.cookie, undefined);

  // audited, with the secret redacted everywhere
  const owner = (await testDatabase()).owner;
  const rows = await owner.query<{ action: string; new_row: Record<string, unknown> | null; actor_id: string | null }>(
    `select action, new_row, actor_id from audit.log where table_name = 'app_private.mfa_factors' and row_key->>'user_id' = (
       select user_id::text from app_private.credentials where email = $1) order by id`,
    [m.email],
  );
  assert.ok(rows.rows.length >= 3, 'enrolment, confirmation and use');
  assert.ok(rows.rows.every((r) => r.actor_id !== null), 'every row names its actor');
  assert.ok(rows.rows.filter((r) => r.new_row).every((r) => r.new_row!.secret === '[redacted]'));
  const everything = await owner.query<{ t: string }>(`select string_agg(coalesce(old_row::text, '') || coalesce(new_row::text, ''), ' ') as t from audit.log`);
  assert.not.ok(everything.rows[0]!.t.includes(secret), 'the TOTP secret is in no audit row');
});

test('a recovery code works once; new codes need a current code; the rate limit covers the second step', async () => {
  const m = await member();
  const { secret, recoveryCodes } = await enrol(m.c);
  await passwordStep(m.c, m.email, m.password);
  const first = await m.c.request('POST', '/api/auth/login/mfa', { code: recoveryCodes[0]!.toLowerCase().replace(/-/g, ' ') });
  assert.is(first.status, 200, 'any case, spaces instead of dashes');
  assert.equal(((await (await m.c.request('GET', '/api/mfa')).json()) as { recoveryCodesLeft: number }).recoveryCodesLeft, 9);
  await passwordStep(m.c, m.email, m.password);
  assert.is((await m.c.request('POST', '/api/auth/login/mfa', { code: recoveryCodes[0]! })).status, 401, 'spent');
  assert.is((await m.c.request('POST', '/api/auth/login/mfa', { code: recoveryCodes[1]! })).status, 200);

  assert.is((await m.c.request('POST', '/api/mfa/recovery-codes', { code: wrongCode(secret) })).status, 401);
  const renewed = await m.c.request('POST', '/api/mfa/recovery-codes', { code: nextCode(secret) });
  assert.is(renewed.status, 200);
  const fresh = ((await renewed.json()) as { recoveryCodes: string[] }).recoveryCodes;
  assert.is(fresh.length, 10);
  await passwordStep(m.c, m.email, m.password);
  assert.is((await m.c.request('POST', '/api/auth/login/mfa', { code: recoveryCodes[2]! })).status, 401, 'the old codes died');

  // five failures per account and window (testConfig), then 429 even for a right code; the limiter
  // counted the failures: they were not rolled back with the answer
  for (let i = 0; i < 5; i++) {
    const r = await m.c.request('POST', '/api/auth/login/mfa', { code: wrongCode(secret) });
    if (r.status === 401 && ((await r.json()) as { error: string }).error === 'mfa_expired') await passwordStep(m.c, m.email, m.password);
  }
  const limited = await m.c.request('POST', '/api/auth/login/mfa', { code: fresh[0]! });
  assert.is(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) > 0);
});

test('an admin without a second factor can only enrol (server and database), then gets a full session', async () => {
  const admin = await signUpAndLogin(server);
  const c = admin.client;
  const me = await c.request('GET', '/api/me');
  assert.is(me.status, 200, 'the user is reachable');
  assert.is((await c.request('GET', '/api/records')).status, 403);
  assert.is((await c.request('GET', '/api/sessions')).status, 403);
  // the admin feature's routes (not in the minimal preset, where the path does not exist: 404)
  if (existsSync(new URL('../../src/routes/admin/audit.ts', import.meta.url))) assert.is((await c.request('GET', '/api/admin/users')).status, 403);
  assert.is(((await (await c.request('GET', '/api/records')).json()) as { error: string }).error, 'mfa_enrolment_required');

  // the database refuses too: the enrol-only session's token gives its role no identity, no row
  const owner = (await testDatabase()).owner;
  await owner.query(`insert into app.records (tenant_id, owner_id, title) values ($1, $2, 'visible to a full session')`, [admin.tenantId, admin.userId]);
  const token = decodeURIComponent(c.cookie!.split('=')[1]!);
  const seen = await owner.transaction(async (tx) => {
    await tx.query('set local role xms_admin');
    await tx.query(`select set_config('app.session_token', $1, true)`, [token]);
    const r = await tx.query<{ uid: string | null; n: number }>('select app.current_user_id() as uid, (select count(*)::int from app.records) as n');
    return r.rows[0]!;
  });
  assert.equal(seen, { uid: null, n: 0 });

  await enrol(c);
  assert.is((await c.request('GET', '/api/records')).status, 200, 'the confirmation replaced the session with a full one');
  const full = decodeURIComponent(c.cookie!.split('=')[1]!);
  assert.is.not(full, token);
});

test('switching to a tenant whose role requires a second factor the user lacks gives an enrol-only session', async () => {
  // a member here (optional), an admin in a second tenant (required), no second factor yet
  const { c } = await member();
  const { user } = (await (await c.request('GET', '/api/me')).json()) as { user: { id: string } };
  const userId = user.id;
  const other = await signUpAndLogin(server);
  await (await testDatabase()).owner.query(`insert into app.memberships (user_id, tenant_id, role) values ($1, $2, 'admin')`, [userId, other.tenantId]);
  assert.is((await c.request('GET', '/api/records')).status, 200, 'a full session as a member');

  const switched = await c.request('POST', '/api/tenants/switch', { tenantId: other.tenantId });
  assert.is(switched.status, 200);
  const refused = await c.request('GET', '/api/records');
  assert.is(refused.status, 403, 'the admin session can only enrol');
  assert.is(((await refused.json()) as { error: string }).error, 'mfa_enrolment_required');
  assert.is((await c.request('POST', '/api/tenants/switch', { tenantId: other.tenantId })).status, 403, 'nor switch back out of it');
  await enrol(c);
  assert.is((await c.request('GET', '/api/records')).status, 200, 'enrolled: a full admin session');
});

test('removal needs a current code or the password, is audited, and an admin is back to enrol-only', async () => {
  const admin = await signUpAndLogin(server);
  const { secret } = await enrol(admin.client);
  assert.is((await admin.client.request('POST', '/api/mfa/remove', { code: wrongCode(secret) })).status, 401);
  assert.is((await admin.client.request('POST', '/api/mfa/remove', { password: 'not-the-password-at-all' })).status, 401);
  assert.is((await admin.client.request('POST', '/api/mfa/remove', { code: '123456', password: admin.password })).status, 400, 'one proof, not two');
  assert.is((await admin.client.request('GET', '/api/records')).status, 200);
  const removed = await admin.client.request('POST', '/api/mfa/remove', { password: admin.password });
  assert.is(removed.status, 200);
  assert.equal(((await removed.json()) as { enrolled: boolean }).enrolled, false);
  assert.is((await admin.client.request('GET', '/api/records')).status, 403, 'required for admins: enrol-only again');
  const owner = (await testDatabase()).owner;
  const audited = await owner.query<{ n: number }>(
    `select count(*)::int as n from audit.log where table_name = 'app_private.mfa_factors' and action = 'DELETE' and actor_id = $1 and old_row->>'secret' = '[redacted]'`,
    [admin.userId],
  );
  assert.is(audited.rows[0]!.n, 1);
  // and the next log-in needs no second step, but gives an enrol-only session
  const again = await login(server, admin.email, admin.password, client(server));
  assert.is((await again.client.request('GET', '/api/records')).status, 403);
});

test('MFA_REQUIRED_FOR is validated at start-up', async () => {
  const { loadConfig } = await import('../../src/config.js');
  assert.is(loadConfig({ NODE_ENV: 'test' }).mfaRequiredFor, 'admin');
  assert.is(loadConfig({ NODE_ENV: 'test', MFA_REQUIRED_FOR: 'all' }).mfaRequiredFor, 'all');
  assert.throws(() => loadConfig({ NODE_ENV: 'test', MFA_REQUIRED_FOR: 'admins' }), /MFA_REQUIRED_FOR must be admin, all or none/);
});

test.run();
