/**
 * Test database harness: fixtures, probe(), and openTestDatabase() - the one way every test (db, HTTP
 * and app tests, through test/helpers/http.ts and test/helpers/app.ts) gets a migrated database.
 *
 * PGlite (default): the migrations are applied once (and the fixtures seeded) and the result is
 * snapshotted with dumpDataDir (cached in node_modules/.cache/xms-test-db, keyed by the migrations);
 * each call loads the snapshot and connects as the runtime role xms_app.
 * PostgreSQL (TEST_DATABASE_URL or DATABASE_URL, a role that may create databases and roles, e.g.
 * the cluster's superuser): a fresh database per call, migrated and seeded as that role, then the
 * tests connect as xms_app (the harness sets its password) and the database is dropped at close().
 * Nothing is shared between calls, files or runs.
 *
 * Every security assertion runs through xms_app and the request roles, never as superuser/owner.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authKeyFromPassword, registerAuthKey } from '../../src/db/auth-key.js';
import { openDatabase, pgliteDatabase, type Database, type Queryable } from '../../src/db/client.js';
import { listMigrations, migrate } from '../../src/db/migrate.js';
import { withRequestTransaction } from '../../src/db/request.js';
import { testData, type TableModel } from '../../src/generated/permissions.testdata.js';
import type { Role } from '../../src/generated/permissions.js';

export const TEST_APP_PASSWORD = 'xms_app_test_password';
/** The auth key of the PGlite test snapshots (src/db/auth-key.ts): the one a server logging in with
 * TEST_APP_PASSWORD would derive. */
export const TEST_AUTH_KEY = authKeyFromPassword(TEST_APP_PASSWORD);
// bump when the seed changes in a way the migrations and test data do not show (2: base64url session tokens)
const SEED_VERSION = '2';

/** A deterministic uuid for a fixture name. */
export function uuidFor(name: string): string {
  const h = createHash('sha256').update(`xms-fixture:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A fixture's session token: 32 bytes in base64url, like the server's (src/security/tokens.ts). */
export function tokenFor(name: string): string {
  return createHash('sha256').update(`xms-fixture-token:${name}`).digest('base64url');
}

export interface FixtureUser {
  key: string;
  id: string;
  tenant: string | null;
  role: Role | null;
  token: string | null;
}

export interface Fixtures {
  tenant1: string;
  tenant2: string;
  users: Record<string, FixtureUser>;
  /** the user of a role in tenant 1 (the actor of the matrix tests) and in tenant 2 */
  actor(role: Role, tenant?: 1 | 2): FixtureUser;
  /** a second user of tenant 1 (owns the "peer" rows) */
  peer: FixtureUser;
  /** a user without any membership */
  loner: FixtureUser;
}

export function fixtures(): Fixtures {
  const tenant1 = uuidFor('tenant:1');
  const tenant2 = uuidFor('tenant:2');
  const users: Record<string, FixtureUser> = {};
  const add = (key: string, tenant: string | null, role: Role | null) =>
    (users[key] = { key, id: uuidFor(`user:${key}`), tenant, role, token: tenant ? tokenFor(key) : null });
  for (const role of testData.roles) {
    add(`${role}@1`, tenant1, role);
    add(`${role}@2`, tenant2, role);
  }
  const peer = add('peer@1', tenant1, testData.roles[0] ?? null);
  const loner = add('loner', null, null);
  return {
    tenant1,
    tenant2,
    users,
    peer,
    loner,
    actor: (role, tenant = 1) => users[`${role}@${tenant}`]!,
  };
}

/** Sample SQL values for required columns, by type; `tag` keeps rows apart under unique constraints. */
export function sampleValue(type: string, tag = randomBytes(6).toString('hex')): string {
  if (/^(text|varchar|bpchar|citext|name)$/.test(type)) return `'fixture_${tag}'`;
  if (/^(int2|int4|int8|integer|bigint|smallint|numeric|float4|float8|real|double)$/.test(type)) {
    return String(parseInt(createHash('sha256').update(tag).digest('hex').slice(0, 4), 16));
  }
  if (type === 'bool' || type === 'boolean') return 'false';
  if (/^(timestamptz|timestamp|date)$/.test(type)) return 'now()';
  if (type === 'jsonb' || type === 'json') return `'{}'`;
  if (type === 'uuid') return 'gen_random_uuid()';
  if (type === 'bytea') return `'\\x${createHash('sha256').update(tag).digest('hex')}'::bytea`;
  throw new Error(`no sample value for a required column of type ${type}: extend sampleValue() in test/helpers/db.ts`);
}

const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;

/** The (owner, tenant) pairs whose rows exist for a tenant-owned/global table. */
export function rowOwners(t: TableModel, f: Fixtures): { owner: string | null; tenant: string | null }[] {
  const withMembership = Object.values(f.users).filter((u) => u.tenant);
  if (t.ownerColumn) return withMembership.map((u) => ({ owner: u.id, tenant: t.tenantColumn ? u.tenant : null }));
  if (t.tenantColumn) return [f.tenant1, f.tenant2].map((tenant) => ({ owner: null, tenant }));
  return [{ owner: null, tenant: null }];
}

/** SQL inserting one row of a generic table at (owner, tenant). */
export function insertRowSql(t: TableModel, owner: string | null, tenant: string | null, f: Fixtures, withKey = true): string {
  const cols: string[] = [];
  const vals: string[] = [];
  if (t.ownerColumn && owner) (cols.push(t.ownerColumn), vals.push(lit(owner)));
  if (t.tenantColumn && tenant) (cols.push(t.tenantColumn), vals.push(lit(tenant)));
  if (t.kind === 'audit_log') {
    cols.push('action', 'table_name');
    vals.push(`'INSERT'`, `'app.fixture'`);
  }
  // seeded rows get stable values, new rows (withKey false) fresh ones
  const tag = withKey ? createHash('sha256').update(`${t.name}:${owner}:${tenant}`).digest('hex').slice(0, 12) : undefined;
  for (const [c, type] of Object.entries(t.required)) {
    if (cols.includes(c)) continue;
    cols.push(c);
    vals.push(sampleValue(type, tag));
  }
  const pk = t.primaryKey[0];
  if (withKey && t.primaryKey.length === 1 && pk && t.columnTypes[pk] === 'uuid' && !cols.includes(pk)) {
    cols.push(pk);
    vals.push(lit(uuidFor(`${t.name}:${owner}:${tenant}`)));
  }
  return `insert into ${t.qualified} (${cols.join(', ')}) values (${vals.join(', ')})`;
}

/** Seeds tenants, users, memberships, sessions and one row per (owner, tenant) of every table. */
export async function seed(db: Queryable, f = fixtures()): Promise<void> {
  const stmts: string[] = [];
  stmts.push(`insert into app.tenants (id, name) values (${lit(f.tenant1)}, 'Tenant one'), (${lit(f.tenant2)}, 'Tenant two')`);
  for (const u of Object.values(f.users)) {
    stmts.push(`insert into app.users (id, display_name) values (${lit(u.id)}, ${lit(u.key)})`);
    if (u.tenant && u.role) {
      stmts.push(`insert into app.memberships (user_id, tenant_id, role) values (${lit(u.id)}, ${lit(u.tenant)}, ${lit(u.role)})`);
      stmts.push(
        `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
         values (sha256(convert_to(${lit(u.token!)}, 'UTF8')), ${lit(u.id)}, ${lit(u.tenant)}, ${lit(`xms_${u.role}`)},
                 now() + interval '10 years', now() + interval '10 years')`,
      );
    }
  }
  for (const t of testData.tables) {
    if (t.kind === 'tenants' || t.kind === 'users' || t.name === 'memberships') continue;
    for (const { owner, tenant } of rowOwners(t, f)) stmts.push(insertRowSql(t, owner, tenant, f));
  }
  for (const s of stmts) await db.query(s);
}

export interface OpenTestDatabaseOptions {
  /** SQL run by the owner/superuser after the migrations (and the seed), before xms_app connects */
  mutate?: string;
  /** the fixtures of fixtures() (default true); false: only the migrations */
  seed?: boolean;
  /**
   * PGlite only (PostgreSQL always shares): keep ONE instance open as its superuser so that `owner`
   * works while the app is connected and connect() can be called again (several servers on one
   * database). The xms_app connections are then that instance seen as xms_app (every transaction
   * first does SET LOCAL ROLE xms_app) instead of a login as xms_app: right for HTTP tests, but the
   * db tests' role-escape assertions need the real login (the default).
   */
  shared?: boolean;
}

export interface TestDatabase {
  kind: 'pglite' | 'postgres';
  /** connected as xms_app: use only through withRequestTransaction / probe (or a server) */
  db: Database;
  f: Fixtures;
  /** another xms_app connection to the same database (PostgreSQL: a new pool; PGlite: needs `shared`) */
  connect(): Promise<Database>;
  /** the owner/superuser connection, for setup and owner-only assertions (PGlite: needs `shared`) */
  owner: Database;
  /** closes every connection; on PostgreSQL also drops the database */
  close(): Promise<void>;
}

const snapshots = new Map<boolean, Promise<Blob>>();

function snapshotKey(seeded: boolean): string {
  const h = createHash('sha256').update(SEED_VERSION).update(seeded ? 'seeded' : 'bare').update(JSON.stringify(testData));
  for (const m of listMigrations()) h.update(m.file).update(readFileSync(m.file));
  return h.digest('hex').slice(0, 24);
}

/** The migrated (and seeded) PGlite data folder, built once and cached in node_modules/.cache. */
function baseSnapshot(seeded: boolean): Promise<Blob> {
  let snapshot = snapshots.get(seeded);
  if (!snapshot) {
    snapshot = (async () => {
      const dir = join('node_modules', '.cache', 'xms-test-db');
      const file = join(dir, `${snapshotKey(seeded)}.tar.gz`);
      if (existsSync(file)) return new Blob([readFileSync(file)]);
      const { PGlite } = await import('@electric-sql/pglite');
      const pg = new PGlite();
      const owner = pgliteDatabase(pg);
      try {
        await migrate(owner, { authKey: TEST_AUTH_KEY });
        if (seeded) await seed(owner);
        const blob = await pg.dumpDataDir('gzip');
        mkdirSync(dir, { recursive: true });
        // write-then-rename: a concurrent run never reads half a file
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, Buffer.from(await blob.arrayBuffer()));
        renameSync(tmp, file);
        return blob;
      } finally {
        await owner.close();
      }
    })();
    snapshots.set(seeded, snapshot);
  }
  return snapshot;
}

/** The admin URL of the PostgreSQL tests, or undefined for PGlite. */
export function adminUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || undefined;
}

/** Stands for the owner connection a PGlite login as xms_app does not have: any use says why. */
function unavailable(what: string): Database {
  const fail = async (): Promise<never> => {
    throw new Error(`openTestDatabase: ${what} needs { shared: true } on PGlite`);
  };
  return { kind: 'pglite', authKey: null, query: fail, exec: fail, transaction: fail, close: async () => {} };
}

/**
 * THE way tests get a migrated database (db tests, test/helpers/http.ts, test/helpers/app.ts).
 *
 * PGlite: the cached snapshot, `mutate` applied by the superuser, then a login as xms_app (or, with
 * `shared`, one superuser instance seen as xms_app). PostgreSQL (TEST_DATABASE_URL or DATABASE_URL,
 * a role that may create databases, e.g. the cluster's superuser): a fresh database per call, migrated
 * (src/db/migrate.ts, or the Supabase CLI with XMS_TEST_MIGRATOR=supabase) and seeded as that role,
 * `mutate` applied, xms_app given a password; every connection logs in as xms_app; dropped at close().
 */
export async function openTestDatabase(options: OpenTestDatabaseOptions = {}): Promise<TestDatabase> {
  const url = adminUrl();
  return url ? openPostgresTestDatabase(url, options) : openPgliteTestDatabase(options);
}

async function openPgliteTestDatabase(options: OpenTestDatabaseOptions): Promise<TestDatabase> {
  const f = fixtures();
  const { PGlite } = await import('@electric-sql/pglite');
  let blob = await baseSnapshot(options.seed ?? true);
  if (options.shared) {
    const pg = new PGlite({ loadDataDir: blob });
    await pg.waitReady;
    const owner = pgliteDatabase(pg);
    try {
      if (options.mutate) await owner.exec(options.mutate);
    } catch (err) {
      await owner.close();
      throw err;
    }
    const db = xmsAppView(owner, TEST_AUTH_KEY);
    return { kind: 'pglite', db, f, owner, connect: async () => db, close: () => owner.close() };
  }
  if (options.mutate) {
    const pg = new PGlite({ loadDataDir: blob });
    try {
      await pg.exec(options.mutate);
      blob = await pg.dumpDataDir('none');
    } finally {
      await pg.close();
    }
  }
  const db = await openDatabase({ loadDataDir: blob, as: 'app', authKey: TEST_AUTH_KEY });
  return {
    kind: 'pglite',
    db,
    f,
    owner: unavailable('owner'),
    connect: async () => {
      throw new Error('openTestDatabase: connect() needs { shared: true } on PGlite');
    },
    close: () => db.close(),
  };
}

async function openPostgresTestDatabase(url: string, options: OpenTestDatabaseOptions): Promise<TestDatabase> {
  const f = fixtures();
  const pg = await import('pg');
  const Client = pg.default.Client;
  const name = `xms_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`create database ${name}`);
  const opened: Database[] = [];
  const close = async () => {
    for (const db of opened.splice(0).reverse()) await db.close();
    await admin(`drop database if exists ${name} with (force)`);
  };
  try {
    const ownerUrl = new URL(url);
    ownerUrl.pathname = `/${name}`;
    const supabase = process.env.XMS_TEST_MIGRATOR === 'supabase';
    if (supabase) await migrateWithSupabaseCli(ownerUrl.toString());
    const owner = await openDatabase({ url: ownerUrl.toString(), as: 'owner' });
    opened.push(owner);
    if (!supabase) await migrate(owner);
    if (options.seed ?? true) await seed(owner, f);
    if (options.mutate) await owner.exec(options.mutate);
    // roles are per cluster: keep the password the developer's migrate sets, if any
    const password = process.env.XMS_APP_PASSWORD || TEST_APP_PASSWORD;
    await owner.exec(`alter role xms_app login password ${lit(password)}`);
    // the key a server logging in with that password presents (src/db/auth-key.ts)
    await registerAuthKey(owner, authKeyFromPassword(password));
    const appUrl = new URL(ownerUrl.toString());
    appUrl.username = 'xms_app';
    appUrl.password = password;
    const connect = async () => {
      const db = await openDatabase({ url: appUrl.toString(), as: 'app' });
      opened.push(db);
      return db;
    };
    const db = await connect();
    return { kind: 'postgres', db, f, owner, connect, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The shared PGlite seen as the runtime role: every statement runs in a transaction that first
 * becomes xms_app, then the request API switches to the request role, as a real xms_app login would.
 * (SET LOCAL SESSION AUTHORIZATION would be closer, but PGlite keeps it after the transaction.)
 */
function xmsAppView(owner: Database, authKey: string): Database {
  // BEGIN, the switch to xms_app, and what a real login sends with its BEGIN (src/db/client.ts), in
  // one message; fn gets the rows of its last statement
  const transaction: Database['transaction'] = (fn, options) =>
    owner.transaction(fn, { enter: `set local role xms_app${options?.enter ? `; ${options.enter}` : ''}`, first: options?.first });
  return {
    kind: owner.kind,
    authKey,
    transaction,
    query<T>(sql: string, params?: unknown[]) {
      return transaction((tx) => tx.query<T>(sql, params));
    },
    exec(sql: string) {
      return transaction((tx) => tx.exec(sql));
    },
    async close() {},
  };
}

/**
 * XMS_TEST_MIGRATOR=supabase (with SUPABASE_CLI naming the binary): the fresh database is first given
 * what a Supabase project has (roles anon, authenticated, service_role; auth.uid() reading the JWT
 * claims), then migrated by the real Supabase CLI (`supabase db push`) instead of src/db/migrate.ts,
 * so the whole suite proves the same files and policies hold on a Supabase-shaped database.
 */
async function migrateWithSupabaseCli(url: string): Promise<void> {
  const cli = process.env.SUPABASE_CLI;
  if (!cli) throw new Error('XMS_TEST_MIGRATOR=supabase needs SUPABASE_CLI (the path of the supabase binary)');
  const pg = await import('pg');
  const c = new pg.default.Client({ connectionString: url });
  await c.connect();
  try {
    for (const role of ['anon', 'authenticated', 'service_role']) {
      await c.query(`do $$ begin if not exists (select from pg_roles where rolname = '${role}') then create role ${role} nologin; end if; end $$`);
    }
    await c.query(`create schema auth`);
    await c.query(`create function auth.uid() returns uuid language sql stable as
      $$ select nullif(current_setting('request.jwt.claims', true)::jsonb ->> 'sub', '')::uuid $$`);
    await c.query(`grant usage on schema auth to anon, authenticated`);
  } finally {
    await c.end();
  }
  const { spawnSync } = await import('node:child_process');
  const remote = `${url}${url.includes('?') ? '&' : '?'}sslmode=disable`;
  const push = spawnSync(cli, ['db', 'push', `--remote=${remote}`, '--yes'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (push.status !== 0) throw new Error(`supabase db push failed:\n${push.stdout}\n${push.stderr}`);
}

export interface ProbeResult<T> {
  ok: boolean;
  value?: T;
  /** SQLSTATE of the failure (42501 = insufficient privilege / RLS violation) */
  code?: string;
  error?: string;
}

class Rollback extends Error {}

/**
 * Runs fn in a request transaction as `user` (its role and session token) and always rolls back,
 * so fixtures stay as seeded. Returns what fn returned, or the error.
 */
export async function probe<T>(db: Database, user: FixtureUser | null, fn: (tx: Queryable) => Promise<T>): Promise<ProbeResult<T>> {
  let value: T | undefined;
  try {
    await withRequestTransaction(db, { sessionToken: user?.token ?? null, dbRole: user?.role ?? 'anon' }, async (tx) => {
      value = await fn(tx);
      throw new Rollback();
    });
  } catch (err) {
    if (err instanceof Rollback) return { ok: true, value };
    const e = err as { code?: string; message?: string };
    return { ok: false, code: e.code, error: e.message };
  }
  return { ok: true, value };
}
