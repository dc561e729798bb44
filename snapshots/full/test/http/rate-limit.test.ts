/**
 * Rate limits (I13) over real HTTP: per account and per IP, 429 with Retry-After, shared by two server
 * instances on one database, and a spoofed X-Forwarded-For changes nothing without TRUST_PROXY.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { client, randomEmail, signUpAndLogin, startServer, strongPassword, testConfig, testDatabase, type Server } from '../helpers/http.js';

const PER_ACCOUNT = 3;
const PER_IP = 6;
let a: Server;
let b: Server;
let proxied: Server;

test.before(async () => {
  const config = testConfig({ authLimit: { perAccount: PER_ACCOUNT, perIp: PER_IP, windowSeconds: 600 } });
  a = await startServer(config);
  b = await startServer(config);
  // behind one trusted proxy on loopback: X-Forwarded-For names the client
  proxied = await startServer({ ...config, trustProxy: ['127.0.0.1'] });
  await (await testDatabase()).owner.query(`delete from app_private.auth_rate_limits`);
});
test.after(async () => {
  await a.close();
  await b.close();
  await proxied.close();
  await (await testDatabase()).close();
});

function fakeIp(): string {
  const bytes = randomBytes(3);
  return `10.${bytes[0]}.${bytes[1]}.${bytes[2]}`;
}

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

test.run();
