/**
 * Over real HTTP on loopback: every route without a session (I1) and as a member on admin routes (I2),
 * session cookie and lifecycle (I9), CSRF (I10), headers (I11), passwords (I12).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEVELOPMENT_PUBLIC_ROUTES, PUBLIC_ROUTES } from '../../src/server/public-routes.js';
import { SECURITY_HEADERS } from '../../src/security/headers.js';
import { tokenHash } from '../../src/security/tokens.js';
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
  type Server,
} from '../helpers/http.js';

let server: Server;
test.before(async () => {
  server = await startServer(testConfig());
});
test.after(async () => {
  await server.close();
  await (await testDatabase()).close();
});

function concrete(url: string): string {
  return url.replace(/:[A-Za-z_]+/g, '00000000-0000-4000-8000-000000000000');
}

test('the route list comes from the router and every route has a scope', () => {
  const routes = server.app.xmsRoutes();
  assert.ok(routes.length >= 5);
  for (const route of routes) assert.ok(route.scope, `${route.method} ${route.url} has no scope`);
  for (const entry of PUBLIC_ROUTES) {
    if (DEVELOPMENT_PUBLIC_ROUTES.includes(entry)) continue; // not registered outside development
    assert.ok(routes.some((r) => `${r.method} ${r.url}` === entry), `public route ${entry} is registered`);
  }
});

test('every route without a session: 401 unless public', async () => {
  const anonymous = client(server);
  for (const route of server.app.xmsRoutes()) {
    if (route.method === 'HEAD' || route.method === 'OPTIONS') continue;
    const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : {};
    const response = await anonymous.request(route.method, concrete(route.url), body);
    if (route.scope === 'public') {
      assert.not.equal(response.status, 401, `${route.method} ${route.url} is public`);
    } else {
      assert.is(response.status, 401, `${route.method} ${route.url} without a session`);
    }
  }
});

test('every admin route as a member: 403; a forged or unknown cookie: 401', async () => {
  const admin = await signUpAndLogin(server);
  const email = randomEmail('member');
  const password = strongPassword();
  // make a member through the admin API when the admin feature is on, else directly through SQL
  const tdb = await testDatabase();
  const users = await tdb.owner.query<{ id: string }>('insert into app.users (display_name) values ($1) returning id', ['m']);
  const memberId = users.rows[0]!.id;
  await tdb.owner.query(`insert into app.memberships (user_id, tenant_id, role) values ($1, $2, 'member')`, [memberId, admin.tenantId]);
  const { hashPassword } = await import('../../src/security/passwords.js');
  await tdb.owner.query('insert into app_private.credentials (user_id, email, password_hash, email_verified_at) values ($1, $2, $3, now())', [memberId, email, await hashPassword(password)]);
  const member = await login(server, email, password);
  assert.is(member.role, 'member');
  const adminRoutes = server.app.xmsRoutes().filter((r) => r.scope === 'admin' && r.method !== 'HEAD');
  for (const route of adminRoutes) {
    const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : {};
    const response = await member.client.request(route.method, concrete(route.url), body);
    assert.is(response.status, 403, `${route.method} ${route.url} as a member`);
  }
  const forged = client(server);
  forged.cookie = `__Host-session=${'A'.repeat(43)}`;
  assert.is((await forged.request('GET', '/api/me')).status, 401);
});

test('session cookie: __Host- prefix, HttpOnly, Secure, SameSite, Path=/; no token in the body', async () => {
  const email = randomEmail();
  const password = strongPassword();
  const c = client(server);
  assert.is((await c.request('POST', '/api/auth/signup', { email, password, tenantName: 'Acme' })).status, 202);
  await markVerified(email);
  const response = await c.request('POST', '/api/auth/login', { email, password });
  assert.is(response.status, 200);
  const setCookie = response.headers.getSetCookie();
  assert.is(setCookie.length, 1);
  const line = setCookie[0]!;
  assert.match(line, /^__Host-session=[A-Za-z0-9_-]{43};/);
  assert.match(line, /; HttpOnly/i);
  assert.match(line, /; Secure/i);
  assert.match(line, /; SameSite=(Lax|Strict)/i);
  assert.match(line, /; Path=\/(;|$)/);
  assert.not.match(line, /Domain=/i);
  const token = c.cookie!.split('=')[1]!;
  const body = await response.text();
  assert.not.ok(body.includes(token), 'login body has no token');
  const me = await c.request('GET', '/api/me');
  assert.is(me.status, 200);
  const meBody = await me.text();
  assert.not.ok(meBody.includes(token), '/api/me body has no token');
  assert.is((JSON.parse(meBody) as { user: { email: string } }).user.email, email);
  // stored only as its SHA-256
  const tdb = await testDatabase();
  const stored = await tdb.owner.query('select 1 from app_private.sessions where token_hash = $1', [tokenHash(token)]);
  assert.is(stored.rows.length, 1);
});

test('session fixation: the pre-login token is revoked and a new one issued', async () => {
  const account = await signUpAndLogin(server);
  const before = account.client.cookie!;
  await login(server, account.email, account.password, account.client);
  const after = account.client.cookie!;
  assert.is.not(after, before);
  const old = client(server);
  old.cookie = before;
  assert.is((await old.request('GET', '/api/me')).status, 401);
  assert.is((await account.client.request('GET', '/api/me')).status, 200);
});

test('logout revokes the session on the server', async () => {
  const account = await signUpAndLogin(server);
  const cookie = account.client.cookie!;
  assert.is((await account.client.request('POST', '/api/auth/logout')).status, 204);
  const replay = client(server);
  replay.cookie = cookie;
  assert.is((await replay.request('GET', '/api/me')).status, 401);
});

test('idle and absolute expiry end a session', async () => {
  const tdb = await testDatabase();
  const idle = await signUpAndLogin(server);
  const idleToken = idle.client.cookie!.split('=')[1]!;
  await tdb.owner.query(`update app_private.sessions set idle_expires_at = now() - interval '1 second' where token_hash = $1`, [tokenHash(idleToken)]);
  assert.is((await idle.client.request('GET', '/api/me')).status, 401);
  const old = await signUpAndLogin(server);
  const oldToken = old.client.cookie!.split('=')[1]!;
  await tdb.owner.query(`update app_private.sessions set expires_at = now() - interval '1 second' where token_hash = $1`, [tokenHash(oldToken)]);
  assert.is((await old.client.request('GET', '/api/me')).status, 401);
});

test('log-in errors do not reveal whether an e-mail exists', async () => {
  const account = await signUpAndLogin(server);
  const c = client(server);
  const wrong = await c.request('POST', '/api/auth/login', { email: account.email, password: strongPassword() });
  const unknown = await c.request('POST', '/api/auth/login', { email: randomEmail('nobody'), password: strongPassword() });
  assert.is(wrong.status, 401);
  assert.is(unknown.status, 401);
  assert.equal(await wrong.json(), await unknown.json());
  // sign-up with a taken address answers exactly like a new one
  const again = await c.request('POST', '/api/auth/signup', { email: account.email, password: strongPassword(), tenantName: 'X' });
  const fresh = await c.request('POST', '/api/auth/signup', { email: randomEmail(), password: strongPassword(), tenantName: 'X' });
  assert.is(again.status, fresh.status);
  assert.equal(await again.json(), await fresh.json());
});

test('a cross-site POST is refused; a write with neither Origin nor Sec-Fetch-Site is refused', async () => {
  const account = await signUpAndLogin(server);
  const evil = await account.client.request('POST', '/api/auth/logout', undefined, { origin: 'https://evil.example' });
  assert.is(evil.status, 403);
  const crossSite = await fetch(`${server.url}/api/auth/logout`, { method: 'POST', headers: { cookie: account.client.cookie!, 'sec-fetch-site': 'cross-site' } });
  assert.is(crossSite.status, 403);
  const bare = await fetch(`${server.url}/api/auth/logout`, { method: 'POST', headers: { cookie: account.client.cookie! } });
  assert.is(bare.status, 403);
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
    body: JSON.stringify({ email: account.email, password: account.password }),
  });
  assert.is(login.status, 403);
  assert.is((await account.client.request('GET', '/api/me')).status, 200, 'the session survived the refused requests');
  const sameOrigin = await fetch(`${server.url}/api/auth/logout`, { method: 'POST', headers: { cookie: account.client.cookie!, 'sec-fetch-site': 'same-origin' } });
  assert.is(sameOrigin.status, 204);
});

test('every security header has the expected value, on public, protected and error responses', async () => {
  for (const path of ['/health', '/api/me', '/nowhere']) {
    const response = await fetch(`${server.url}${path}`);
    const h = response.headers;
    const csp = h.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.not.match(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /object-src 'none'/);
    assert.match(csp, /base-uri 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /form-action 'self'/);
    const hsts = h.get('strict-transport-security') ?? '';
    assert.ok(Number(/max-age=(\d+)/.exec(hsts)?.[1]) >= 31536000, hsts);
    assert.match(hsts, /includeSubDomains/);
    assert.is(h.get('x-content-type-options'), 'nosniff');
    assert.ok(['no-referrer', 'strict-origin-when-cross-origin'].includes(h.get('referrer-policy') ?? ''));
    assert.is(h.get('cross-origin-opener-policy'), 'same-origin');
    assert.is(h.get('cross-origin-resource-policy'), 'same-origin');
    assert.is(h.get('x-frame-options'), 'DENY');
    assert.ok(h.get('permissions-policy'));
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) assert.is(h.get(name), value, name);
  }
});

test('passwords: 14 characters refused, 15 accepted, common refused, containing the e-mail refused, 64+ accepted', async () => {
  const c = client(server);
  const signup = (email: string, password: string) => c.request('POST', '/api/auth/signup', { email, password, tenantName: 'P' });
  assert.is((await signup(randomEmail(), 'Kx7-mauve-lark')).status, 400, '14 characters');
  assert.is((await signup(randomEmail(), 'Kx7-mauve-larks')).status, 202, '15 characters');
  assert.is((await signup(randomEmail(), 'passwordpassword')).status, 400, 'common');
  assert.is((await signup(randomEmail(), '1qaz2wsx3edc4rfv')).status, 400, 'common');
  const email = randomEmail('zebrafinch');
  assert.is((await signup(email, `my ${email.split('@')[0]} secret!`)).status, 400, 'contains the e-mail');
  const long = 'correct horse battery staple '.repeat(4);
  assert.ok(long.length >= 64);
  const longEmail = randomEmail();
  assert.is((await signup(longEmail, long)).status, 202, '64+ characters');
  await markVerified(longEmail);
  await login(server, longEmail, long);
});

test('password hashes are argon2id with m >= 19456, t >= 2, p = 1', async () => {
  const account = await signUpAndLogin(server);
  const tdb = await testDatabase();
  const rows = await tdb.owner.query<{ password_hash: string }>('select password_hash from app_private.credentials where user_id = $1', [account.userId]);
  const hash = rows.rows[0]!.password_hash;
  assert.ok(hash.startsWith('$argon2id$v=19$'), hash);
  const params = Object.fromEntries(hash.split('$')[3]!.split(',').map((kv) => kv.split('=') as [string, string]));
  assert.ok(Number(params.m) >= 19456, hash);
  assert.ok(Number(params.t) >= 2, hash);
  assert.is(Number(params.p), 1, hash);
});

test.run();
