/**
 * Several tenants over real HTTP, tried as an attacker would: a user who belongs to several tenants
 * picks one at log-in (nothing is issued until they do); a session is bound to exactly one tenant and
 * sees only its rows; switching issues a NEW session and revokes the old one; a forged tenant id, a
 * removed or deactivated membership, a made-up id and another user's tenant are refused, at log-in and
 * when switching, with the current session left as it was. The servers log in as xms_app; memberships
 * in a second tenant are set up with the owner connection (test set-up only).
 */
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { client, signUpAndLogin, startServer, testConfig, testDatabase, type Account, type Server } from '../helpers/http.js';

let server: Server;

test.before(async () => {
  server = await startServer(testConfig({ authLimit: { perAccount: 1000, perIp: 100000, windowSeconds: 900 } }));
});
test.after(async () => {
  await server.close();
  await (await testDatabase()).close();
});

interface Choice {
  id: string;
  name: string;
  role: string;
}

/** A user who is admin of their own tenant and `role` in a second one (named Beta). */
async function twoTenantUser(role = 'member'): Promise<{ user: Account; beta: Account }> {
  const user = await signUpAndLogin(server, 'Alpha');
  const beta = await signUpAndLogin(server, 'Beta');
  await (await testDatabase()).owner.query('insert into app.memberships (user_id, tenant_id, role) values ($1, $2, $3)', [user.userId, beta.tenantId, role]);
  return { user, beta };
}

const logIn = (account: Account, extra: Record<string, unknown> = {}) =>
  client(server).request('POST', '/api/auth/login', { email: account.email, password: account.password, ...extra });

test('log-in with several tenants: the tenants are listed and no session is issued until one is picked', async () => {
  const { user, beta } = await twoTenantUser();
  const response = await logIn(user);
  assert.is(response.status, 409);
  assert.equal(response.headers.getSetCookie(), [], 'no cookie before the choice');
  const body = (await response.json()) as { error: string; tenants: Choice[] };
  assert.is(body.error, 'choose_tenant');
  assert.equal(body.tenants, [
    { id: user.tenantId, name: 'Alpha', role: 'admin' },
    { id: beta.tenantId, name: 'Beta', role: 'member' },
  ]);

  // a wrong password never lists anything
  const wrong = await client(server).request('POST', '/api/auth/login', { email: user.email, password: 'Wrong-password-123456' });
  assert.is(wrong.status, 401);
  assert.not.ok('tenants' in ((await wrong.json()) as object));

  for (const [tenantId, role] of [[beta.tenantId, 'member'], [user.tenantId, 'admin']] as const) {
    const c = client(server);
    const picked = await c.request('POST', '/api/auth/login', { email: user.email, password: user.password, tenantId });
    assert.is(picked.status, 200);
    assert.equal(((await picked.json()) as { user: unknown }).user, { id: user.userId, tenantId, role });
    const me = (await (await c.request('GET', '/api/me')).json()) as { user: { tenantId: string; role: string } };
    assert.equal([me.user.tenantId, me.user.role], [tenantId, role], 'the session is bound to the picked tenant, with its role');
  }
});

test('log-in naming a tenant the user is not a member of is refused (forged, made up, malformed, removed)', async () => {
  const { user, beta } = await twoTenantUser();
  const stranger = await signUpAndLogin(server, 'Gamma');
  const owner = (await testDatabase()).owner;
  for (const [what, tenantId] of [
    ['another tenant', stranger.tenantId],
    ['a made-up id', randomUUID()],
    ['not an id', `' or '1'='1`],
    ['upper-case spelling', beta.tenantId.toUpperCase()],
  ] as const) {
    const response = await logIn(user, { tenantId });
    assert.is(response.status, 403, what);
    assert.equal(response.headers.getSetCookie(), [], `${what}: no cookie`);
  }
  await owner.query('update app.memberships set deactivated_at = now() where user_id = $1 and tenant_id = $2', [user.userId, beta.tenantId]);
  assert.is((await logIn(user, { tenantId: beta.tenantId })).status, 403, 'a deactivated membership');
  // one live membership left: no choice to make
  const single = await logIn(user);
  assert.is(single.status, 200);
  assert.is(((await single.json()) as { user: { tenantId: string } }).user.tenantId, user.tenantId);
});

test('switching: a new session for the other tenant, the old one revoked; each sees only its tenant', async () => {
  const { user, beta } = await twoTenantUser('admin');
  const c = client(server);
  await c.request('POST', '/api/auth/login', { email: user.email, password: user.password, tenantId: user.tenantId });
  const alphaCookie = c.cookie!;
  const created = await c.request('POST', '/api/records', { title: 'alpha only', body: '' });
  assert.is(created.status, 201, await created.clone().text());

  const list = (await (await c.request('GET', '/api/tenants')).json()) as { tenants: Array<Choice & { current: boolean }> };
  assert.equal(list.tenants.map((t) => [t.name, t.current]), [['Alpha', true], ['Beta', false]]);

  const switched = await c.request('POST', '/api/tenants/switch', { tenantId: beta.tenantId });
  assert.is(switched.status, 200);
  assert.equal(((await switched.json()) as { user: unknown }).user, { id: user.userId, tenantId: beta.tenantId, role: 'admin' });
  assert.ok(c.cookie && c.cookie !== alphaCookie, 'a new session token');
  const old = await fetch(`${server.url}/api/me`, { headers: { cookie: alphaCookie } });
  assert.is(old.status, 401, 'the old session is revoked');

  const me = (await (await c.request('GET', '/api/me')).json()) as { user: { tenantId: string } };
  assert.is(me.user.tenantId, beta.tenantId);
  const records = (await (await c.request('GET', '/api/records')).json()) as { rows?: Array<{ title: string }>; records?: Array<{ title: string }> };
  const titles = (records.rows ?? records.records ?? []).map((r) => r.title);
  assert.not.ok(titles.includes('alpha only'), "the other tenant's rows are not visible");

  // the revoked row is in the database, with the user as the actor of both changes
  const rows = await (await testDatabase()).owner.query<{ action: string; actor_id: string }>(
    `select action, actor_id from audit.log where table_name = 'app_private.sessions' and actor_id = $1 and at > now() - interval '1 minute' order by id`,
    [user.userId],
  );
  assert.ok(rows.rows.some((r) => r.action === 'INSERT') && rows.rows.some((r) => r.action === 'UPDATE'));
});

test('switching to a tenant the user is not a member of is refused, and the session stays as it was', async () => {
  const { user, beta } = await twoTenantUser();
  const stranger = await signUpAndLogin(server, 'Gamma');
  const c = client(server);
  await c.request('POST', '/api/auth/login', { email: user.email, password: user.password, tenantId: user.tenantId });
  const cookie = c.cookie!;
  const owner = (await testDatabase()).owner;
  const attempts: Array<[string, unknown]> = [
    ['another tenant', stranger.tenantId],
    ['a made-up id', randomUUID()],
    ['not an id', 'not-a-uuid'],
  ];
  for (const [what, tenantId] of attempts) {
    const response = await c.request('POST', '/api/tenants/switch', { tenantId });
    assert.is(response.status, 403, what);
    assert.equal(response.headers.getSetCookie(), [], `${what}: no new cookie`);
  }
  assert.is((await c.request('POST', '/api/tenants/switch', { tenantId: beta.tenantId, role: 'admin' })).status, 400, 'no role can be asserted');
  // a membership removed after log-in
  await owner.query('delete from app.memberships where user_id = $1 and tenant_id = $2', [user.userId, beta.tenantId]);
  assert.is((await c.request('POST', '/api/tenants/switch', { tenantId: beta.tenantId })).status, 403, 'a removed membership');
  assert.is(c.cookie, cookie);
  const me = (await (await c.request('GET', '/api/me')).json()) as { user: { tenantId: string } };
  assert.is(me.user.tenantId, user.tenantId, 'still bound to the tenant it was');

  // another user's session switches only among that user's own tenants
  const other = await signUpAndLogin(server, 'Delta');
  assert.is((await other.client.request('POST', '/api/tenants/switch', { tenantId: user.tenantId })).status, 403, "another user's session");
  // without a session, or from another origin, nothing happens
  assert.is((await client(server).request('POST', '/api/tenants/switch', { tenantId: user.tenantId })).status, 401);
  const crossSite = await fetch(`${server.url}/api/tenants/switch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'https://evil.example', cookie },
    body: JSON.stringify({ tenantId: user.tenantId }),
  });
  assert.is(crossSite.status, 403, 'CSRF');
});

test('a session stops working when its membership is deactivated (the deactivation revokes it)', async () => {
  const { user, beta } = await twoTenantUser();
  const c = client(server);
  await c.request('POST', '/api/auth/login', { email: user.email, password: user.password, tenantId: beta.tenantId });
  assert.is((await c.request('GET', '/api/me')).status, 200);
  await (await testDatabase()).owner.query('update app.memberships set deactivated_at = now() where user_id = $1 and tenant_id = $2', [user.userId, beta.tenantId]);
  assert.is((await c.request('GET', '/api/me')).status, 401);
});

test.run();
