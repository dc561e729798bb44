/**
 * Test harness for HTTP tests as real, low-privilege users (written by create-xms-app; extend freely).
 *
 *   const t = await startTestApp();                       // migrated database + buildApp()
 *   const alice = await t.user({ role: 'member' });       // a user with a live session in a new tenant
 *   const bob = await t.user({ role: 'admin', tenantId: alice.tenantId });
 *   const res = await t.call(alice, 'GET', '/api/me');    // inject with the session cookie (same origin)
 *   await t.close();
 *
 * PGlite (default): migrations run once as the superuser, the data folder is dumped, and the app opens
 * the dump as the runtime login role xms_app, exactly as in production. With DATABASE_URL set, the
 * same runs against that server (migrations as DATABASE_URL's user, the app as xms_app with
 * XMS_APP_PASSWORD). `setupSql` runs as the owner after the migrations (e.g. a trigger that fails
 * on purpose); on a shared server it must be idempotent.
 * Users are created the way sign-up does (as xms_auth); sessions are rows of app_private.sessions
 * holding the SHA-256 of a random token, which only the cookie carries.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/server/app.js';
import { loadConfig, type AppConfig } from '../../src/config.js';
import { openDatabase, pgliteDatabase, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { withAuthTransaction } from '../../src/db/request.js';
import { cookieName } from '../../src/auth/sessions.js';

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

async function openMigrated(setupSql?: string): Promise<{ db: Database; closeOwner(): Promise<void> }> {
  if (process.env.DATABASE_URL) {
    const owner = await openDatabase({ as: 'owner' });
    await migrate(owner);
    if (setupSql) await owner.exec(setupSql);
    // the app logs in as the runtime role xms_app, as in production (XMS_APP_PASSWORD if needed)
    const appUrl = new URL(process.env.DATABASE_URL);
    appUrl.username = 'xms_app';
    appUrl.password = process.env.XMS_APP_PASSWORD ?? '';
    const db = await openDatabase({ url: appUrl.toString() });
    return { db, closeOwner: () => owner.close() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const ownerPg = new PGlite();
  await ownerPg.waitReady;
  const owner = pgliteDatabase(ownerPg);
  try {
    await migrate(owner);
    if (setupSql) await owner.exec(setupSql);
    const dump = await ownerPg.dumpDataDir('none');
    const appPg = new PGlite({ loadDataDir: dump, username: 'xms_app' });
    await appPg.waitReady;
    return { db: pgliteDatabase(appPg), closeOwner: async () => {} };
  } finally {
    await ownerPg.close();
  }
}

export async function startTestApp(options: { setupSql?: string; env?: NodeJS.ProcessEnv } = {}): Promise<TestApp> {
  const { db, closeOwner } = await openMigrated(options.setupSql);
  const config = loadConfig({ NODE_ENV: 'test', APP_ORIGIN: ORIGIN, API_LIMIT_PER_MINUTE: '100000', ...options.env });
  const app = await buildApp(config, { db });
  await app.ready();

  async function user({ role, tenantId }: { role: string; tenantId?: string }): Promise<TestUser> {
    const email = `user-${randomUUID()}@example.test`;
    const token = randomBytes(32).toString('base64url');
    const ids = await withAuthTransaction(db, async (tx) => {
      const tenant = tenantId ?? (await tx.query<{ id: string }>(`insert into app.tenants (name) values ('test tenant') returning id`)).rows[0]!.id;
      const userId = (await tx.query<{ id: string }>(`insert into app.users (display_name) values ('test user') returning id`)).rows[0]!.id;
      await tx.query('insert into app.memberships (user_id, tenant_id, role) values ($1, $2, $3)', [userId, tenant, role]);
      await tx.query(`insert into app_private.credentials (user_id, email, password_hash) values ($1, $2, 'not-a-hash')`, [userId, email]);
      await tx.query(
        `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
         values ($1, $2, $3, $4, now() + interval '1 hour', now() + interval '2 hours')`,
        [createHash('sha256').update(token, 'utf8').digest(), userId, tenant, `xms_${role}`],
      );
      return { userId, tenant };
    });
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
      await db.close();
      await closeOwner();
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
