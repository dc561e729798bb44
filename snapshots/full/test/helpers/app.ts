/**
 * Test harness for HTTP tests as real, low-privilege users (written by create-xms-app; extend freely).
 *
 *   const t = await startTestApp();                       // migrated database + buildApp()
 *   const alice = await t.user({ role: 'member' });       // a user with a live session in a new tenant
 *   const bob = await t.user({ role: 'admin', tenantId: alice.tenantId });
 *   const res = await t.call(alice, 'GET', '/api/me');    // inject with the session cookie (same origin)
 *   await t.close();
 *
 * The database comes from test/helpers/db.ts openTestDatabase(): on PGlite the cached migrated
 * snapshot, opened by the app as the runtime login role xms_app, exactly as in production; on
 * PostgreSQL (TEST_DATABASE_URL or DATABASE_URL) a fresh database for this app, dropped at close(),
 * the app logging in as xms_app. `setupSql` runs as the owner after the migrations, before the app
 * connects (e.g. a trigger that fails on purpose).
 * Users are created the way sign-up does (as xms_auth); sessions are rows of app_private.sessions
 * holding the SHA-256 of a random token, which only the cookie carries.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/server/app.js';
import type { LogDestination } from '../../src/server/logging.js';
import { loadConfig, type AppConfig } from '../../src/config.js';
import type { Database } from '../../src/db/client.js';
import { withAuthTransaction } from '../../src/db/request.js';
import { cookieName } from '../../src/auth/sessions.js';
import { openTestDatabase } from './db.js';

export const ORIGIN = 'http://localhost:3000';

export interface TestUser {
  id: string;
  tenantId: string;
  role: string;
  email: string;
  /** the opaque session token (what the cookie carries), for withRequestTransaction in assertions */
  token: string;
  cookie: string;
}

export interface TestApp {
  app: FastifyInstance;
  db: Database;
  config: AppConfig;
  /** A new user (in a new tenant unless tenantId is given) with a live session. */
  user(options: { role: string; tenantId?: string }): Promise<TestUser>;
  /** One request as `user` (or without a session when null), same-origin. */
  call(
    user: TestUser | null,
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface StartTestAppOptions {
  setupSql?: string;
  env?: NodeJS.ProcessEnv;
  /** the server's log lines go here (tests log nothing otherwise) */
  logStream?: LogDestination;
  /** registers what a test needs on the server (a route that fails, say) before it is ready */
  extend?: (app: FastifyInstance) => void | Promise<void>;
  /** the schema compilers `npm run dev` uses (src/server/dev-schemas.ts); default: Fastify's, at start-up */
  schemaCompilers?: Parameters<typeof buildApp>[1]['schemaCompilers'];
}

export async function startTestApp(options: StartTestAppOptions = {}): Promise<TestApp> {
  const tdb = await openTestDatabase({ mutate: options.setupSql });
  const db = tdb.db;
  const config = loadConfig({ NODE_ENV: 'test', APP_ORIGIN: ORIGIN, API_LIMIT_PER_MINUTE: '100000', ...options.env });
  let app: FastifyInstance;
  try {
    app = await buildApp(config, {
      db,
      ...(options.logStream ? { logStream: options.logStream } : {}),
      ...(options.schemaCompilers ? { schemaCompilers: options.schemaCompilers } : {}),
    });
    await options.extend?.(app);
    await app.ready();
  } catch (err) {
    await tdb.close();
    throw err;
  }

  async function user({ role, tenantId }: { role: string; tenantId?: string }): Promise<TestUser> {
    const email = `user-${randomUUID()}@example.test`;
    const token = randomBytes(32).toString('base64url');
    // as sign-up does: the new user is the audit actor of what is written for it
    const userId = randomUUID();
    const ids = await withAuthTransaction(db, async (tx) => {
      const tenant = tenantId ?? (await tx.query<{ id: string }>(`insert into app.tenants (name) values ('test tenant') returning id`)).rows[0]!.id;
      await tx.query(`insert into app.users (id, display_name) values ($1, 'test user')`, [userId]);
      await tx.query('insert into app.memberships (user_id, tenant_id, role) values ($1, $2, $3)', [userId, tenant, role]);
      await tx.query(`insert into app_private.credentials (user_id, email, password_hash, email_verified_at) values ($1, $2, 'not-a-hash', now())`, [userId, email]);
      await tx.query(
        `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
         values ($1, $2, $3, $4, now() + interval '1 hour', now() + interval '2 hours')`,
        [createHash('sha256').update(token, 'utf8').digest(), userId, tenant, `xms_${role}`],
      );
      return { userId, tenant };
    }, { actorId: userId });
    return { id: ids.userId, tenantId: ids.tenant, role, email, token, cookie: `${cookieName(config)}=${token}` };
  }

  async function call(
    who: TestUser | null,
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> {
    const isRaw = typeof body === 'string' || Buffer.isBuffer(body);
    return app.inject({
      method,
      url,
      headers: {
        origin: ORIGIN,
        host: new URL(ORIGIN).host,
        ...(who ? { cookie: who.cookie } : {}),
        ...(body !== undefined && !isRaw ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body === undefined ? {} : { payload: isRaw ? (body as string | Buffer) : JSON.stringify(body) }),
    });
  }

  return {
    app,
    db,
    config,
    user,
    call,
    async close() {
      await app.close();
      await tdb.close();
    },
  };
}

/** A multipart/form-data body with one file field (for upload tests), without extra dependencies. */
export function multipartFile(field: string, filename: string, content: string | Buffer, contentType = 'text/csv') {
  const boundary = `----xms${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${contentType}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    payload: Buffer.concat([head, Buffer.isBuffer(content) ? content : Buffer.from(content), tail]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}
