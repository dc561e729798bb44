// run-tests: lock=postgres
/**
 * The base migrations and the compiled matrix on a real PostgreSQL (15 on this machine):
 * DATABASE_URL (a superuser), or a throw-away cluster from scripts/pg-cluster.sh when the
 * PostgreSQL binaries are installed. Skipped, with the reason printed, when neither is available.
 * Two databases on one cluster: roles are cluster-wide, so the second must migrate too.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { compileApp } from '../../lib/matrix/index.js';
import { CORE_MIGRATIONS, tempApp } from '../matrix/fixture.js';
import { SEED, T1, U1, asMember, readMigrations } from './helpers.js';
import { databaseUrl, postgresServer, withClient } from '../helpers/postgres.js';

const server = postgresServer('gen');
const url = server.url;
const skipReason = server.skipReason;



const sqlOf = (c: pg.Client) => ({ exec: (s: string) => c.query(s), query: (s: string, p?: unknown[]) => c.query(s, p) });

if (skipReason) {
  console.log(`  postgres suite skipped: ${skipReason}`);
  test.skip('migrations and RLS on real PostgreSQL', () => {});
} else {
  const names = [`xms_gen_${process.pid}_a`, `xms_gen_${process.pid}_b`, `xms_gen_${process.pid}_supa`];

  test.after(async () => {
    await withClient(url!, async (c) => {
      for (const n of names) await c.query(`drop database if exists ${n} with (force)`);
      // a cluster-wide xms_* role left behind would look like a runtime role to the next suite's check
      await c.query('drop role if exists xms_supa_admin');
    });
    server.stop();
  });

  test('two databases on one cluster migrate; RLS holds as xms_app', async () => {
    const app = tempApp();
    try {
      const sqls = [...readMigrations(app.migrations, CORE_MIGRATIONS), (await compileApp(app.dir)).sql];
      const version = await withClient(url!, async (c) => (await c.query('show server_version')).rows[0].server_version as string);
      console.log(`  PostgreSQL ${version}`);
      for (const n of names.slice(0, 2)) {
        await withClient(url!, (c) => c.query(`create database ${n}`));
        await withClient(databaseUrl(url!, n), async (c) => {
          for (const s of sqls) await c.query(s);
          for (const s of sqls) await c.query(s); // idempotent
          await c.query(SEED);
          await c.query(`alter role xms_app login password 'xms-gen-test'`);
        });
        await withClient(databaseUrl(url!, n, 'xms_app', 'xms-gen-test'), async (c) => {
          const db = sqlOf(c);
          const who = await c.query('select session_user::text as s, current_user::text as u');
          assert.equal(who.rows, [{ s: 'xms_app', u: 'xms_app' }]);
          assert.equal((await asMember(db, 'select title from app.records')).rows, [{ title: 'one' }]);
          assert.equal((await asMember(db, 'select app.current_user_id() as u, app.current_tenant_id() as t')).rows, [{ u: U1, t: T1 }]);
          assert.is((await asMember(db, 'truncate audit.log')).code, '42501');
          assert.is((await asMember(db, 'alter table app.records disable row level security')).code, '42501');
          assert.is((await asMember(db, 'set session_replication_role = replica')).code, '42501');
          assert.is((await asMember(db, 'set role xms_owner')).code, '42501');
        });
      }
      // the event trigger exists where a superuser migrated
      await withClient(databaseUrl(url!, names[0]!), async (c) => {
        const r = await c.query(`select count(*)::int as n from pg_event_trigger where evtname = 'xms_secure_new_tables'`);
        assert.equal(r.rows, [{ n: 1 }]);
        const roles = await c.query(
          `select rolname, rolsuper, rolbypassrls, rolinherit from pg_roles where rolname = 'xms_app'`,
        );
        assert.equal(roles.rows, [{ rolname: 'xms_app', rolsuper: false, rolbypassrls: false, rolinherit: false }]);
      });
    } finally {
      app.remove();
    }
  });
  test('a Supabase-like database migrated by a non-superuser: no event trigger, anon reaches nothing, auth.uid() serves the policies', async () => {
    const app = tempApp();
    const n = names[2]!;
    try {
      const sqls = [...readMigrations(app.migrations, CORE_MIGRATIONS), (await compileApp(app.dir)).sql];
      await withClient(url!, async (c) => {
        for (const r of ['anon', 'authenticated', 'service_role']) {
          await c.query(`do $$ begin if not exists (select from pg_roles where rolname = '${r}') then create role ${r} nologin; end if; end $$`);
        }
        await c.query(`do $$ begin if not exists (select from pg_roles where rolname = 'xms_supa_admin') then create role xms_supa_admin login createrole password 'supa'; end if; end $$`);
        await c.query(`create database ${n} owner xms_supa_admin`);
      });
      await withClient(databaseUrl(url!, n), async (c) => {
        // what a Supabase project has: an auth schema with auth.uid() reading the verified JWT
        await c.query(`create schema auth authorization xms_supa_admin`);
        await c.query(`create function auth.uid() returns uuid language sql stable as
          $$ select nullif(current_setting('request.jwt.claims', true)::jsonb ->> 'sub', '')::uuid $$`);
        await c.query(`grant usage on schema auth to anon, authenticated`);
      });
      await withClient(databaseUrl(url!, n, 'xms_supa_admin', 'supa'), async (c) => {
        const notices: string[] = [];
        c.on('notice', (m) => notices.push(m.message ?? ''));
        for (const s of sqls) await c.query(s);
        assert.ok(notices.some((m) => /event trigger xms_secure_new_tables skipped/.test(m)), 'skipped with a NOTICE');
        const et = await c.query(`select count(*)::int as n from pg_event_trigger where evtname = 'xms_secure_new_tables'`);
        assert.equal(et.rows, [{ n: 0 }]);
      });
      await withClient(databaseUrl(url!, n), async (c) => {
        await c.query(SEED);
        // let Supabase's authenticated users act as members (an explicit, reviewable grant). The grant
        // serves policies and privileges only to a role that inherits: the roles are cluster-wide, and
        // another suite's Supabase shim may have created `authenticated` NOINHERIT, as Supabase does.
        await c.query(`alter role authenticated inherit`);
        await c.query(`grant xms_member to authenticated`);
        await c.query(`grant anon, authenticated to xms_app`);
        await c.query(`alter role xms_app login password 'xms-gen-test'`);
      });
      await withClient(databaseUrl(url!, n, 'xms_app', 'xms-gen-test'), async (c) => {
        const run = async (role: string, claims: object | null, sql: string) => {
          await c.query('begin');
          try {
            await c.query(`set local role ${role}`);
            if (claims) await c.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims)]);
            return { rows: (await c.query(sql)).rows };
          } catch (err) {
            return { code: (err as { code?: string }).code };
          } finally {
            await c.query('rollback');
          }
        };
        for (const sql of ['select 1 from app.records', 'select 1 from app.tenants', 'select 1 from audit.log', 'select 1 from app_private.sessions']) {
          assert.is((await run('anon', null, sql)).code, '42501', `anon: ${sql}`);
        }
        const claims = { sub: U1, app_metadata: { tenant_id: T1, role: 'member' } };
        assert.equal((await run('authenticated', claims, 'select title from app.records')).rows, [{ title: 'one' }]);
        assert.equal((await run('authenticated', null, 'select title from app.records')).rows, []);
        // the fallback serves only Supabase's authenticated role, never our request roles
        await c.query('begin');
        try {
          await c.query(`set local role xms_member`);
          await c.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims)]);
          assert.equal((await c.query('select count(*)::int as n from app.records')).rows, [{ n: 0 }]);
        } finally {
          await c.query('rollback');
        }
      });
    } finally {
      app.remove();
    }
  });
}

test.run();
