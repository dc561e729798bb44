/** The base migrations and the compiled matrix applied to PGlite (PostgreSQL 17): RLS holds as xms_app. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PGlite } from '@electric-sql/pglite';
import { compileApp } from '../../lib/matrix/index.js';
import { CORE_MIGRATIONS, MATRIX, tempApp } from '../matrix/fixture.js';
import { SEED, T1, U1, asMember, readMigrations } from './helpers.js';

let snapshot: Blob;
let compiledSql: string;

test.before(async () => {
  const app = tempApp();
  let owner: PGlite | undefined;
  try {
    compiledSql = (await compileApp(app.dir)).sql;
    owner = new PGlite();
    const migrations = readMigrations(app.migrations, CORE_MIGRATIONS);
    for (const sql of [...migrations, compiledSql]) await owner.exec(sql);
    // every migration is idempotent: applying all again changes nothing
    for (const sql of [...migrations, compiledSql]) await owner.exec(sql);
    await owner.exec(SEED);
    snapshot = await owner.dumpDataDir('gzip');
  } finally {
    await owner?.close();
    app.remove();
  }
});

async function asApp<T>(fn: (db: PGlite) => Promise<T>): Promise<T> {
  const db = new PGlite({ loadDataDir: snapshot, username: 'xms_app' });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

test('a member sees only its tenant; identity comes from the session token', async () => {
  await asApp(async (db) => {
    const r = await asMember(db, 'select title, tenant_id from app.records');
    assert.equal(r.rows, [{ title: 'one', tenant_id: T1 }]);
    const who = await asMember(db, 'select app.current_user_id() as u, app.current_tenant_id() as t, app.current_app_role() as r');
    assert.equal(who.rows, [{ u: U1, t: T1, r: 'member' }]);
    const bogus = await asMember(db, 'select count(*)::int as n from app.records', 'tok-guessed');
    assert.equal(bogus.rows, [{ n: 0 }]);
  });
});

test('denied cells fail, the login role has nothing of its own, anon reaches nothing', async () => {
  await asApp(async (db) => {
    assert.is((await asMember(db, `delete from app.tenants`)).code, '42501');
    assert.is((await asMember(db, `select * from audit.log`)).code, '42501');
    assert.is((await asMember(db, `insert into app.records (title, tenant_id) values ('x', '00000000-0000-4000-8000-000000000002')`)).code, '42501');
    const ins = await asMember(db, `insert into app.records (title) values ('mine') returning owner_id, tenant_id`);
    assert.equal(ins.rows, [{ owner_id: U1, tenant_id: T1 }]);
    let code: string | undefined;
    try {
      await db.query('select * from app.records');
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    assert.is(code, '42501', 'xms_app without SET ROLE has no privilege (NOINHERIT)');
    await db.exec('begin; set local role xms_anon');
    try {
      await db.query('select 1 from app.records');
      assert.unreachable('anon read records');
    } catch (err) {
      assert.is((err as { code?: string }).code, '42501');
    } finally {
      await db.exec('rollback');
    }
  });
});

test('a changed matrix migration drops the policy and the grant of a cell turned none', async () => {
  const app = tempApp(MATRIX.replace('member: { select: tenant, insert: own, update: own, delete: own }', 'member: { select: tenant }'));
  try {
    const sql = (await compileApp(app.dir)).sql;
    const owner = new PGlite({ loadDataDir: snapshot });
    try {
      await owner.exec(sql);
      const p = await owner.query<{ n: number }>(`select count(*)::int as n from pg_policies where policyname like 'xms\\_records\\_%\\_member'`);
      assert.equal(p.rows, [{ n: 1 }]);
      const g = await owner.query<{ ok: boolean }>(`select has_table_privilege('xms_member', 'app.records', 'delete') as ok`);
      assert.equal(g.rows, [{ ok: false }]);
    } finally {
      await owner.close();
    }
  } finally {
    app.remove();
  }
});

test('writes are audited by statement-level triggers, one row per row', async () => {
  const owner = new PGlite({ loadDataDir: snapshot });
  try {
    await owner.exec(`begin; select set_config('app.session_token', 'tok-1', true);
      insert into app.records (tenant_id, owner_id, title) select '${T1}', '${U1}', 'bulk ' || g from generate_series(1, 50) g;
      commit;`);
    const r = await owner.query<{ n: number; actors: number; txs: number }>(
      `select count(*)::int as n, count(distinct actor_id)::int as actors, count(distinct txid)::int as txs
         from audit.log where table_name = 'app.records' and new_row->>'title' like 'bulk %'`,
    );
    assert.equal(r.rows, [{ n: 50, actors: 1, txs: 1 }]);
    const t = await owner.query<{ n: number }>(
      `select count(*)::int as n from pg_trigger where tgrelid = 'app.records'::regclass and tgname like 'xms_audit_%'`,
    );
    assert.equal(t.rows, [{ n: 3 }]);
  } finally {
    await owner.close();
  }
});

test.run();
