/**
 * Rate limits (I13) over real HTTP: per account and per IP, 429 with Retry-After, shared by two server
 * instances on one database, and a spoofed X-Forwarded-For changes nothing without TRUST_PROXY.
 * Attempts are consumed before the secret is checked: a burst of parallel requests over two
 * instances gets no more verifications than the limit.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as passwords from '../../src/security/passwords.js';
import { client, fakeIp, randomEmail, signUpAndLogin, startServer, strongPassword, testConfig, testDatabase, type Server } from '../helpers/http.js';

const PER_ACCOUNT = 3;
const PER_IP = 6;
let a: Server;
let b: Server;
let proxied: Server;
let proxied2: Server;

test.before(async () => {
  const config = testConfig({ authLimit: { perAccount: PER_ACCOUNT, perIp: PER_IP, windowSeconds: 600 } });
  a = await startServer(config);
  b = await startServer(config);
  // behind one trusted proxy on loopback: X-Forwarded-For names the client
  proxied = await startServer({ ...config, trustProxy: ['127.0.0.1'] });
  proxied2 = await startServer({ ...config, trustProxy: ['127.0.0.1'] });
  await (await testDatabase()).owner.query(`delete from app_private.auth_rate_limits`);
});
test.after(async () => {
  await a.close();
  await b.close();
  await proxied.close();
  await proxied2.close();
  await (await testDatabase()).close();
});

test('the N+1-th failed log-in for one account gets 429 with Retry-After, across two instances', async () => {
  const account = await signUpAndLogin(a);
  const servers = [a, b];
  for (let i = 0; i < PER_ACCOUNT; i++) {
    const server = servers[i % 2]!;
    const response = await client(server).request('POST', '/api/auth/login', { email: account.email, password: strongPassword() }, { 'x-forwarded-for': fakeIp() });
    assert.is(response.status, 401, `attempt ${i + 1}`);
  }
  for (const server of servers) {
    const blocked = await client(server).request('POST', '/api/auth/login', { email: account.email, password: account.password });
    assert.is(blocked.status, 429, 'even the right password is refused while limited');
    assert.ok(Number(blocked.headers.get('retry-after')) >= 1);
  }
});

test('the N+1-th failed log-in from one IP gets 429; a spoofed X-Forwarded-For does not reset it', async () => {
  await (await testDatabase()).owner.query(`delete from app_private.auth_rate_limits where key like 'login:ip:%'`);
  for (let i = 0; i < PER_IP; i++) {
    const server = i % 2 ? b : a;
    const response = await client(server).request('POST', '/api/auth/login', { email: randomEmail(), password: strongPassword() }, { 'x-forwarded-for': fakeIp() });
    assert.is(response.status, 401, `attempt ${i + 1}`);
  }
  const spoofed = await client(a).request('POST', '/api/auth/login', { email: randomEmail(), password: strongPassword() }, { 'x-forwarded-for': fakeIp() });
  assert.is(spoofed.status, 429);
  assert.ok(Number(spoofed.headers.get('retry-after')) >= 1);
  await (await testDatabase()).owner.query(`delete from app_private.auth_rate_limits where key like 'login:ip:%'`);
});

test('behind a trusted proxy the forwarded client address is what is limited', async () => {
  const ip = fakeIp();
  for (let i = 0; i < PER_IP; i++) {
    const response = await client(proxied).request('POST', '/api/auth/login', { email: randomEmail(), password: strongPassword() }, { 'x-forwarded-for': ip });
    assert.is(response.status, 401);
  }
  const limited = await client(proxied).request('POST', '/api/auth/login', { email: randomEmail(), password: strongPassword() }, { 'x-forwarded-for': ip });
  assert.is(limited.status, 429);
  const other = await client(proxied).request('POST', '/api/auth/login', { email: randomEmail(), password: strongPassword() }, { 'x-forwarded-for': fakeIp() });
  assert.is(other.status, 401, 'another client is not limited');
});

test('sign-up is limited per IP and per account', async () => {
  const email = randomEmail();
  const ip = fakeIp();
  let last = 0;
  for (let i = 0; i <= PER_ACCOUNT; i++) {
    last = (await client(proxied).request('POST', '/api/auth/signup', { email, password: strongPassword(), tenantName: 'T' }, { 'x-forwarded-for': fakeIp() })).status;
  }
  assert.is(last, 429);
  for (let i = 0; i <= PER_IP; i++) {
    last = (await client(proxied).request('POST', '/api/auth/signup', { email: randomEmail(), password: strongPassword(), tenantName: 'T' }, { 'x-forwarded-for': ip })).status;
  }
  assert.is(last, 429);
});

test('password reset is limited per IP', async () => {
  const ip = fakeIp();
  let last = 0;
  for (let i = 0; i <= PER_IP; i++) {
    last = (await client(proxied).request('POST', '/api/auth/password-reset', { token: 'x'.repeat(43), password: strongPassword() }, { 'x-forwarded-for': ip })).status;
  }
  assert.is(last, 429);
});

const BURST = 24;

async function clearLimits(): Promise<void> {
  await (await testDatabase()).owner.query('delete from app_private.auth_rate_limits');
}

/** Sends `BURST` requests at once, alternating between the two proxied instances; returns the statuses. */
async function burst(make: (i: number) => { path: string; body: unknown; ip: string }): Promise<number[]> {
  const responses = await Promise.all(
    Array.from({ length: BURST }, (_, i) => {
      const { path, body, ip } = make(i);
      return client(i % 2 ? proxied2 : proxied).request('POST', path, body, { 'x-forwarded-for': ip });
    }),
  );
  return responses.map((response) => response.status);
}

function count(statuses: number[], status: number): number {
  return statuses.filter((s) => s === status).length;
}

test('parallel wrong passwords for one account (many IPs, two instances): at most the limit verified', async () => {
  const account = await signUpAndLogin(a);
  await clearLimits();
  const before = passwords.passwordVerifications;
  const statuses = await burst(() => ({ path: '/api/auth/login', body: { email: account.email, password: strongPassword() }, ip: fakeIp() }));
  const verified = passwords.passwordVerifications - before;
  assert.is(count(statuses, 401) + count(statuses, 429), BURST, statuses.join(','));
  assert.ok(count(statuses, 401) <= PER_ACCOUNT, `${count(statuses, 401)} answered 401 (limit ${PER_ACCOUNT})`);
  assert.ok(verified <= PER_ACCOUNT, `${verified} argon2 verifications (limit ${PER_ACCOUNT})`);
  assert.ok(verified >= 1, 'the first attempts are verified');
  const blocked = await client(a).request('POST', '/api/auth/login', { email: account.email, password: account.password });
  assert.is(blocked.status, 429, 'the account stays limited');
});

test('parallel wrong log-ins from one IP (many accounts, two instances): at most the limit verified', async () => {
  await clearLimits();
  const ip = fakeIp();
  const before = passwords.passwordVerifications;
  const statuses = await burst(() => ({ path: '/api/auth/login', body: { email: randomEmail(), password: strongPassword() }, ip }));
  const verified = passwords.passwordVerifications - before;
  assert.ok(count(statuses, 401) <= PER_IP, statuses.join(','));
  assert.ok(verified <= PER_IP, `${verified} argon2 verifications (limit ${PER_IP})`);
  assert.is(count(statuses, 401) + count(statuses, 429), BURST);
});

test('a successful log-in gives its IP point back and clears the account', async () => {
  const account = await signUpAndLogin(a);
  await clearLimits();
  const ip = fakeIp();
  for (let i = 0; i < PER_IP + 2; i++) {
    const response = await client(proxied).request('POST', '/api/auth/login', { email: account.email, password: account.password }, { 'x-forwarded-for': ip });
    assert.is(response.status, 200, `log-in ${i + 1}: successes do not use up the IP's allowance`);
  }
});

test('parallel sign-ups for one address and from one IP: at most the limit get through', async () => {
  await clearLimits();
  const email = randomEmail();
  const perAccount = await burst(() => ({ path: '/api/auth/signup', body: { email, password: strongPassword(), tenantName: 'T' }, ip: fakeIp() }));
  assert.ok(BURST - count(perAccount, 429) <= PER_ACCOUNT, perAccount.join(','));
  const ip = fakeIp();
  const perIp = await burst(() => ({ path: '/api/auth/signup', body: { email: randomEmail(), password: strongPassword(), tenantName: 'T' }, ip }));
  assert.ok(BURST - count(perIp, 429) <= PER_IP, perIp.join(','));
});

test('parallel password resets from one IP: at most the limit get through', async () => {
  await clearLimits();
  const ip = fakeIp();
  const statuses = await burst(() => ({ path: '/api/auth/password-reset', body: { token: randomBytes(32).toString('base64url'), password: strongPassword() }, ip }));
  assert.ok(BURST - count(statuses, 429) <= PER_IP, statuses.join(','));
});

test.run();
