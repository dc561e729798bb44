/**
 * HTTP test helpers: a migrated database (PGlite, or PostgreSQL when DATABASE_URL is set), real
 * servers on loopback (`listen({ port: 0, host: '127.0.0.1' })`) and fetch.
 *
 * PGlite: migrated once per test file as its superuser, dumped, and each server's database is
 * loaded from the dump and opened as the runtime login role xms_app (like production).
 * PostgreSQL: migrated once as DATABASE_URL's user; the servers connect as xms_app on the same URL
 * (XMS_APP_PASSWORD if the server needs one). Tests use fresh random e-mails, so files can share it.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { PGlite } from '@electric-sql/pglite';
import { loadConfig, type AppConfig } from '../../src/config.js';
import { openDatabase, pgliteDatabase, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { buildApp } from '../../src/server/app.js';

export const ON_POSTGRES = Boolean(process.env.DATABASE_URL);

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
    const opening = ON_POSTGRES ? postgresDatabase() : pgliteTestDatabase();
    shared = opening.then((tdb) => ({
      ...tdb,
      async close() {
        if (shared === current) shared = undefined;
        await tdb.close();
      },
    }));
    const current = shared;
  }
  return shared;
}

async function postgresDatabase(): Promise<TestDatabase> {
  const url = process.env.DATABASE_URL!;
  const owner = await openDatabase({ url, as: 'owner' });
  await migrate(owner, { dir: 'supabase/migrations' });
  const appUrl = new URL(url);
  appUrl.username = 'xms_app';
  appUrl.password = process.env.XMS_APP_PASSWORD ?? '';
  const opened: Database[] = [];
  return {
    owner,
    async open() {
      const db = await openDatabase({ url: appUrl.toString() });
      opened.push(db);
      return db;
    },
    async close() {
      for (const db of opened) await db.close();
      await owner.close();
    },
  };
}

async function pgliteTestDatabase(): Promise<TestDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = new PGlite();
  const owner = pgliteDatabase(pg);
  await migrate(owner, { dir: 'supabase/migrations' });
  // PGlite has one connection: every server of this file shares it, so they share one database
  const appView = await xmsAppView(pg);
  return {
    owner,
    async open() {
      return appView;
    },
    async close() {
      await owner.close();
    },
  };
}

/**
 * The shared PGlite seen as the runtime role: every transaction first becomes xms_app, then the
 * request API switches to the request role, as a real xms_app login would.
 */
async function xmsAppView(pg: PGlite): Promise<Database> {
  const base = pgliteDatabase(pg);
  return {
    ...base,
    async transaction(fn) {
      return base.transaction(async (tx) => {
        await tx.query('set local role xms_app');
        return fn(tx);
      });
    },
    async close() {},
  };
}

export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  const base = loadConfig({ NODE_ENV: 'test' });
  return {
    ...base,
    authLimit: { perAccount: 5, perIp: 1000, windowSeconds: 900 },
    apiLimit: { points: 100000, windowSeconds: 60 },
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

export interface Account {
  email: string;
  password: string;
  client: Client;
  userId: string;
  tenantId: string;
  role: string;
}

/** Signs up a new tenant (the user is its admin) and logs in. */
export async function signUpAndLogin(server: Server, tenantName = 'Tenant'): Promise<Account> {
  const email = randomEmail('admin');
  const password = strongPassword();
  const c = client(server);
  const signup = await c.request('POST', '/api/auth/signup', { email, password, tenantName });
  if (signup.status !== 202) throw new Error(`signup: ${signup.status} ${await signup.text()}`);
  return login(server, email, password, c);
}

export async function login(server: Server, email: string, password: string, c: Client = client(server)): Promise<Account> {
  const response = await c.request('POST', '/api/auth/login', { email, password });
  if (response.status !== 200) throw new Error(`login: ${response.status} ${await response.text()}`);
  const { user } = (await response.json()) as { user: { id: string; tenantId: string; role: string } };
  return { email, password, client: c, userId: user.id, tenantId: user.tenantId, role: user.role };
}
