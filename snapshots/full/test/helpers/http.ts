/**
 * HTTP test helpers: a migrated database (test/helpers/db.ts openTestDatabase), real servers on
 * loopback (`listen({ port: 0, host: '127.0.0.1' })`) and fetch.
 *
 * One database per test file, shared by every server of the file (the rate limits are proven across
 * two instances): on PGlite the cached snapshot in one instance, each server seeing it as the runtime
 * role xms_app; on PostgreSQL a fresh database (dropped at close), each server with its own pool
 * logged in as xms_app. `owner` is for owner-only setup and assertions (audit rows, clean-up).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type AppConfig } from '../../src/config.js';
import type { Database } from '../../src/db/client.js';
import { buildApp } from '../../src/server/app.js';
import { adminUrl, openTestDatabase } from './db.js';
import { startInbox, takeSignupConfirmation, type Inbox } from './mail.js';

export const ON_POSTGRES = Boolean(adminUrl());

export interface TestDatabase {
  /** a connection as the runtime role xms_app (what the servers get) */
  open(): Promise<Database>;
  /** the owner/superuser connection, for test assertions only (audit rows, clean-up) */
  owner: Database;
  close(): Promise<void>;
}

let shared: Promise<TestDatabase> | undefined;

/**
 * One migrated database per test file (uvu runs every file in one process: closing it forgets it,
 * so the next file opens its own).
 */
export function testDatabase(): Promise<TestDatabase> {
  if (!shared) {
    const current: Promise<TestDatabase> = openTestDatabase({ shared: true }).then((tdb) => ({
      owner: tdb.owner,
      open: () => tdb.connect(),
      async close() {
        if (shared === current) shared = undefined;
        await tdb.close();
      },
    }));
    shared = current;
  }
  return shared;
}

export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  const base = loadConfig({ NODE_ENV: 'test' });
  return {
    ...base,
    authLimit: { perAccount: 5, perIp: 1000, windowSeconds: 900 },
    apiLimit: { points: 100000, windowSeconds: 60 },
    // the suites sign up admins and act at once; test/http/mfa.test.ts runs with the default (admin)
    mfaRequiredFor: 'none',
    ...overrides,
  };
}

export interface Server {
  app: FastifyInstance;
  url: string;
  origin: string;
  close(): Promise<void>;
}

/** Builds the app and listens on a random loopback port. */
export async function startServer(config: AppConfig = testConfig()): Promise<Server> {
  const tdb = await testDatabase();
  const db = await tdb.open();
  const app = await buildApp(config, { db });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const url = `http://127.0.0.1:${address.port}`;
  return { app, url, origin: url, close: () => app.close() };
}

export function randomEmail(prefix = 'user'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}@example.test`;
}

/** A strong password that is not on the list and does not contain the e-mail. */
export function strongPassword(): string {
  return `Tangerine-orbit-${randomBytes(6).toString('hex')}`;
}

export interface Client {
  /** the session cookie pair `name=value`, if any */
  cookie: string | undefined;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

/** A browser-like client: same-origin Origin header on writes, keeps the session cookie. */
export function client(server: Server): Client {
  const c: Client = {
    cookie: undefined,
    async request(method, path, body, headers = {}) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(method !== 'GET' && method !== 'HEAD' ? { origin: server.origin } : {}),
          ...(c.cookie ? { cookie: c.cookie } : {}),
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      for (const line of response.headers.getSetCookie()) {
        const pair = line.split(';')[0]!;
        const [name, value] = pair.split('=');
        if (name === '__Host-session' || name === 'session') c.cookie = value ? pair : undefined;
      }
      return response;
    },
  };
  return c;
}

export type TwoStepClient = Client & { mfaCookie: string | undefined };

/** A browser-like client that keeps the session cookie and the pending second-factor cookie (__Host-mfa). */
export function twoStepClient(server: Server): TwoStepClient {
  const c: TwoStepClient = {
    cookie: undefined,
    mfaCookie: undefined,
    async request(method, path, body, headers = {}) {
      const cookie = [c.cookie, c.mfaCookie].filter(Boolean).join('; ');
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(method !== 'GET' ? { origin: server.origin } : {}),
          ...(cookie ? { cookie } : {}),
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      for (const line of response.headers.getSetCookie()) {
        const pair = line.split(';')[0]!;
        const [name, value] = pair.split('=');
        if (name === '__Host-session') c.cookie = value ? pair : undefined;
        if (name === '__Host-mfa') c.mfaCookie = value ? pair : undefined;
      }
      return response;
    },
  };
  return c;
}

export interface Account {
  email: string;
  password: string;
  client: Client;
  userId: string;
  tenantId: string;
  role: string;
}

/**
 * Signs up a new tenant (the user is its admin), confirms the address and logs in. The confirmation
 * follows the e-mailed link when a test SMTP server (test/helpers/mail.ts) received it, and is
 * otherwise written directly (a server without SMTP_URL sends nothing to follow).
 */
export async function signUpAndLogin(server: Server, tenantName = 'Tenant'): Promise<Account> {
  const email = randomEmail('admin');
  const password = strongPassword();
  const c = client(server);
  const signup = await c.request('POST', '/api/auth/signup', { email, password, tenantName });
  if (signup.status !== 202) throw new Error(`signup: ${signup.status} ${await signup.text()}`);
  await server.app.xms.mail.settled();
  const token = await takeSignupConfirmation(email);
  if (token) {
    const verified = await c.request('POST', '/api/auth/verify-email', { token });
    if (verified.status !== 200) throw new Error(`verify-email: ${verified.status} ${await verified.text()}`);
  } else {
    await markVerified(email);
  }
  return login(server, email, password, c);
}

/** Marks an address verified (owner connection: test set-up only). */
export async function markVerified(email: string): Promise<void> {
  await (await testDatabase()).owner.query('update app_private.credentials set email_verified_at = now() where email = $1 and email_verified_at is null', [email]);
}

export async function login(server: Server, email: string, password: string, c: Client = client(server)): Promise<Account> {
  const response = await c.request('POST', '/api/auth/login', { email, password });
  if (response.status !== 200) throw new Error(`login: ${response.status} ${await response.text()}`);
  const { user } = (await response.json()) as { user: { id: string; tenantId: string; role: string } };
  return { email, password, client: c, userId: user.id, tenantId: user.tenantId, role: user.role };
}

/** A client address for a server behind a trusted proxy (X-Forwarded-For): a new one per call. */
export function fakeIp(): string {
  const bytes = randomBytes(3);
  return `10.${bytes[0]}.${bytes[1]}.${bytes[2]}`;
}

export interface MailedServers {
  inbox: Inbox;
  /** limits no test reaches */
  server: Server;
  /** behind a trusted proxy on loopback (X-Forwarded-For names the client: fakeIp()), small limits */
  limited: Server;
  /** stops both servers and the inbox, and closes the file's database */
  close(): Promise<void>;
}

/** A real inbox (test/helpers/mail.ts) and two servers that send to it, one of them with the given auth limits. */
export async function startMailedServers(limits: { perAccount: number; perIp: number }): Promise<MailedServers> {
  const inbox = await startInbox();
  const server = await startServer(testConfig({ mail: inbox.mailConfig, authLimit: { perAccount: 1000, perIp: 100000, windowSeconds: 900 } }));
  const limited = await startServer({
    ...testConfig({ mail: inbox.mailConfig, authLimit: { ...limits, windowSeconds: 600 } }),
    trustProxy: ['127.0.0.1'],
  });
  return {
    inbox,
    server,
    limited,
    async close() {
      await server.close();
      await limited.close();
      await inbox.close();
      await (await testDatabase()).close();
    },
  };
}
