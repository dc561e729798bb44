// What the audit-single row's goal (>= 0.8x of an unaudited single-row insert) leaves room for, by
// the shape of the thing that writes the log row. Not a row of `npm run bench`; run it alone:
//   node bench/audit-trigger-shapes.mjs            (ROUNDS=11 PER=400 by default)
// On a real PostgreSQL (DATABASE_URL's server, else a throw-away cluster), the minimal preset's
// migrations; single-row inserts as the owner, autocommit, synchronous_commit = off, prepared, into
// copies of app.records (same columns, defaults, indexes and foreign keys), interleaved; the figure is
// the backend's CPU per statement (/proc/<pid>/schedstat), medians:
//   plain        no trigger
//   audited      the app's audit trigger (audit.enable_tracking: rules lookup, actor, one INSERT)
//   noop_stmt    a statement-level AFTER trigger with the transition table, SECURITY DEFINER with a
//                pinned search_path, whose body does nothing: the price of having a trigger at all
//   min_definer  the same trigger doing only the one INSERT of the log row (no rules, no actor)
//   min_invoker  min_definer without SECURITY DEFINER and its SET clause
//   min_row      the INSERT of min_definer as a FOR EACH ROW trigger (no transition table)
//   cte          no trigger: the insert and its log row in one statement (the row's floor)
import { readFileSync } from 'node:fs';
import { applyMigrations, connect, freshDatabase, median, run, scaffold } from './_shared.mjs';
const rounds = Number(process.env.ROUNDS ?? 11), per = Number(process.env.PER ?? 400);
run(async () => {
  const app = scaffold(['--preset', 'minimal', '--yes', '--no-install', '--no-git']);
  const { url } = await freshDatabase();
  const db = await connect(url);
  await applyMigrations(db, app);
  const t1 = '11111111-1111-4111-8111-111111111111', u1 = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa1';
  await db.query(`insert into app.tenants (id, name) values ($1, 'one')`, [t1]);
  await db.query(`insert into app.users (id, display_name) values ($1, 'm')`, [u1]);
  await db.query(`create schema bench`);
  const variants = ['plain', 'audited', 'noop_stmt', 'min_definer', 'min_invoker', 'min_row', 'cte'];
  for (const v of variants) {
    await db.query(`create table bench.${v} (like app.records including defaults including constraints including indexes)`);
    await db.query(`alter table bench.${v} add foreign key (tenant_id) references app.tenants (id) on delete cascade, add foreign key (owner_id) references app.users (id)`);
  }
  await db.query(`select audit.enable_tracking('bench.audited')`);
  await db.query(`create function bench.noop() returns trigger language plpgsql security definer set search_path = '' as $$ begin return null; end $$`);
  await db.query(`create trigger t after insert on bench.noop_stmt referencing new table as xms_new_rows for each statement execute function bench.noop()`);
  const body = (tbl) => `begin
    insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
    select null, (j ->> 'tenant_id')::uuid, current_user, 'INSERT', '${tbl}', pg_catalog.jsonb_build_object('id', j -> 'id'), null, j
      from (select pg_catalog.to_jsonb(n) as j from xms_new_rows n offset 0) as x;
    return null; end`;
  await db.query(`create function bench.min_definer() returns trigger language plpgsql security definer set search_path = '' as $$ ${body('bench.min_definer')} $$`);
  await db.query(`create trigger t after insert on bench.min_definer referencing new table as xms_new_rows for each statement execute function bench.min_definer()`);
  await db.query(`create function bench.min_invoker() returns trigger language plpgsql as $$ ${body('bench.min_invoker')} $$`);
  await db.query(`create trigger t after insert on bench.min_invoker referencing new table as xms_new_rows for each statement execute function bench.min_invoker()`);
  await db.query(`create function bench.min_row() returns trigger language plpgsql security definer set search_path = '' as $$ begin
    insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
    values (null, new.tenant_id, current_user, 'INSERT', 'bench.min_row', pg_catalog.jsonb_build_object('id', new.id), null, pg_catalog.to_jsonb(new));
    return null; end $$`);
  await db.query(`create trigger t after insert on bench.min_row for each row execute function bench.min_row()`);
  await db.query(`set synchronous_commit = off`);
  const pid = (await db.query('select pg_backend_pid() as p')).rows[0].p;
  const cpu = () => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1000; // µs
  const one = (t) => `insert into bench.${t} (tenant_id, owner_id, title, body) values ($1, $2, 'single', 'body')`;
  const cte = `with n as (${one('cte')} returning *) insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
    select null, n.tenant_id, current_user, 'INSERT', 'bench.cte', pg_catalog.jsonb_build_object('id', n.id), null, pg_catalog.to_jsonb(n) from n`;
  const sql = Object.fromEntries(variants.map((v) => [v, v === 'cte' ? cte : one(v)]));
  const res = Object.fromEntries(variants.map((v) => [v, []]));
  for (let r = -1; r < rounds; r++) {
    const order = r % 2 ? variants : [...variants].reverse();
    for (const v of order) {
      const c0 = cpu();
      for (let i = 0; i < per; i++) await db.query({ name: `q_${v}`, text: sql[v], values: [t1, u1] });
      if (r >= 0) res[v].push((cpu() - c0) / per);
    }
  }
  const base = median(res.plain);
  for (const v of variants) console.log(`${v.padEnd(12)} ${median(res[v]).toFixed(1)} µs  ratio (plain/x) ${(base / median(res[v])).toFixed(2)}x`);
  const logged = (await db.query(`select table_name, count(*) from audit.log group by 1 order by 1`)).rows;
  console.log(JSON.stringify(logged));
  await db.end();
});

