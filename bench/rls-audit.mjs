// RLS + audit overhead of a generated app, as ratios to the same queries without them, in one run:
//   npm run bench:rls-audit [-- --quick] [-- --rows 1000000 --runs 21]
// On a real PostgreSQL (DATABASE_URL's server, else a throw-away cluster from scripts/pg-cluster.sh on
// 127.0.0.1): the minimal preset's migrations are applied, app.records gets --rows rows in 2 tenants,
// and an identical copy bench.records (same columns, indexes, foreign keys and updated_at trigger; no
// RLS, no audit triggers) gets the same rows. Each query runs
//   (a) as the app does: xms_app; begin + app_private.enter_session() (the session check that enters
//       the member's role and token; the token a bind value), pipelined in one round trip; query (RLS adds the tenant/owner filters, the statement-level audit triggers
//       log the writes); commit
//   (b) as the owner on the copy: begin; the same query with an explicit tenant filter; commit
// so that the ratio is the cost of RLS + audit and not of a different plan, (b) is planned as (a) is:
// - the tenant is written as the compiled policies write it, `tenant_id = (select $1::uuid)` (with a
//   literal id the planner estimates differently: with 2 equal tenants a bitmap heap scan for the
//   count instead of the policy's index-only scan);
// - parallel query is off on both connections: the identity helpers are not parallel safe, so (a)
//   never gets a parallel plan (on idle cores a parallel seq scan would be a saving (b) has and (a)
//   has not, for big scans).
// `--explain` prints the plans of the reads on both sides. Rows of `npm run bench` (bench/index.mjs):
//   rls-point     point lookup of one row by id, whole transaction (batches of --batch per sample)
//   rls-page      the tenant's 50 newest rows, whole transaction (--page-batch per sample); with the plan's node types of both
//                 sides (the goal wants an index scan and no Sort node)
//   both also measure a floor, interleaved with (a) and (b): (b) plus one indexed lookup of the
//   session per transaction, as the owner, the least any design that keeps I17 (identity derived in
//   the database from the session, revocation on the next request) must add, the session's hash a
//   bind value; and the identity floor, that plus one lookup per statement, the token bound; its
//   ratio to (b) is reported beside (a)'s, and bench/index.mjs says whether the goal is within a
//   floor's reach. The identity floor with the token in the statement's text is measured beside it
//   (not a secure design: it shows what binding costs)
//   audit-bulk    insert of --big-rows rows in one statement, with / without the audit triggers; and a
//                 floor: the same log rows written without a trigger, by a second statement
//   audit-single  --singles single-row inserts (autocommit, synchronous_commit = off, so the commit
//                 does not wait for the WAL flush and the CPU cost shows), with / without audit; and a
//                 floor: the same row and log row written by one statement without a trigger (ad hoc,
//                 or what the log row adds to a prepared insert: the cheaper way counts); and the
//                 trigger floor: the smallest trigger that writes that log row (SECURITY DEFINER with a
//                 pinned search_path, one INSERT: no rules, no actor), two shapes, the cheaper one
//                 counting: statement-level AFTER INSERT with its transition table (the app's shape),
//                 and FOR EACH ROW; the least a design that keeps I7 (a trigger records each change)
//                 and I8 must run
// interleaved, medians of --runs; the ratio (a)/(b) is the cost of the security. The milliseconds are
// for context only. For the two audit rows the bench also reads the CPU time the owner's server
// process spent on each side (/proc/<pid>/schedstat, when the server runs on this machine and the
// file is readable): the audit's own cost, far less distorted by other load than wall time; it is
// reported beside the ratio (`backend CPU`), the ratio itself stays the wall-time one.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { applyMigrations, emit, flag, freshDatabase, median, now, connect, pinClientAndServers, pipelinedBegin, quick, ratio, run, scaffold } from './_shared.mjs';

const rows = flag('rows', quick ? 5_000 : 1_000_000);
const runs = flag('runs', quick ? 5 : 21);
const bigRuns = flag('big-runs', quick ? 3 : 7);
const bigRows = flag('big-rows', quick ? 1_000 : 10_000);
const batch = flag('batch', quick ? 10 : 50);
const pageBatch = flag('page-batch', quick ? 2 : 10);
const singles = flag('singles', quick ? 50 : 1_000);

/** The node types of an EXPLAIN (FORMAT JSON) plan, depth first. */
function nodeTypes(plan, out = []) {
  out.push(plan['Node Type']);
  for (const child of plan.Plans ?? []) nodeTypes(child, out);
  return out;
}

run(async () => {
  // its own minimal app (not --app): the csv-import feature's unique content hash would refuse the
  // repeated inserts of this bench
  const app = scaffold(['--preset', 'minimal', '--yes', '--no-install', '--no-git']);
  const { url } = await freshDatabase();

  const owner = await connect(url);
  await applyMigrations(owner, app);
  await owner.query(`set max_parallel_workers_per_gather = 0`);

  // --- seed: 2 tenants, a member (with a live session) and a peer in tenant 1, a member in tenant 2
  const t1 = '11111111-1111-4111-8111-111111111111';
  const t2 = '22222222-2222-4222-8222-222222222222';
  const u1 = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa1';
  const p1 = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa2';
  const u2 = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbb1';
  const token = randomBytes(32).toString('base64url');
  const t0 = now();
  await owner.query(`insert into app.tenants (id, name) values ($1, 'one'), ($2, 'two')`, [t1, t2]);
  await owner.query(`insert into app.users (id, display_name) values ($1, 'member@1'), ($2, 'peer@1'), ($3, 'member@2')`, [u1, p1, u2]);
  await owner.query(
    `insert into app.memberships (user_id, tenant_id, role) values ($1, $3, 'member'), ($2, $3, 'member'), ($4, $5, 'member')`,
    [u1, p1, t1, u2, t2],
  );
  await owner.query(
    `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
     values (sha256(convert_to($1, 'UTF8')), $2, $3, 'xms_member', now() + interval '1 day', now() + interval '1 day')`,
    [token, u1, t1],
  );
  // rows: even i in tenant 1 (alternating member/peer), odd i in tenant 2; the seed skips triggers
  await owner.query(`set session_replication_role = replica`);
  await owner.query(
    `insert into app.records (tenant_id, owner_id, title, body, created_at)
     select case when i % 2 = 0 then $1::uuid else $2::uuid end,
            case when i % 4 = 0 then $3::uuid when i % 2 = 0 then $4::uuid else $5::uuid end,
            'record ' || i, repeat('lorem ipsum ', 5), now() - i * interval '1 second'
       from generate_series(1, $6::int) i`,
    [t1, t2, u1, p1, u2, rows],
  );
  await owner.query(`set session_replication_role = origin`);

  // --- the plain copies: same shape, no RLS, no audit (schema bench: the event trigger only secures app)
  await owner.query(`create schema bench`);
  for (const table of ['records', 'ins_plain', 'ins_audited', 'ins_floor', 'ins_trigger_floor', 'ins_row_trigger_floor']) {
    await owner.query(`create table bench.${table} (like app.records including defaults including constraints including indexes)`);
    await owner.query(`alter table bench.${table} add foreign key (tenant_id) references app.tenants (id) on delete cascade,
                                                   add foreign key (owner_id) references app.users (id)`);
    await owner.query(`create trigger ${table}_touch_updated_at before update on bench.${table} for each row execute function app.touch_updated_at()`);
  }
  await owner.query(`insert into bench.records select * from app.records`);
  await owner.query(`select audit.enable_tracking('bench.ins_audited')`);
  // audit-single's trigger floor (see the top of this file): the same log row as the floors without a
  // trigger, written by the smallest trigger I7 and I8 allow
  await owner.query(`create function bench.log_trigger_floor() returns trigger language plpgsql security definer set search_path = '' as $$
    begin
      insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
      select null, (j ->> 'tenant_id')::uuid, current_user, 'INSERT', 'bench.ins_trigger_floor', pg_catalog.jsonb_build_object('id', j -> 'id'), null, j
        from (select pg_catalog.to_jsonb(n) as j from xms_new_rows n offset 0) as x;
      return null;
    end $$`);
  await owner.query(`create trigger ins_trigger_floor_log after insert on bench.ins_trigger_floor referencing new table as xms_new_rows
                       for each statement execute function bench.log_trigger_floor()`);
  await owner.query(`create function bench.log_row_trigger_floor() returns trigger language plpgsql security definer set search_path = '' as $$
    begin
      insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
      values (null, new.tenant_id, current_user, 'INSERT', 'bench.ins_row_trigger_floor', pg_catalog.jsonb_build_object('id', new.id), null, pg_catalog.to_jsonb(new));
      return null;
    end $$`);
  await owner.query(`create trigger ins_row_trigger_floor_log after insert on bench.ins_row_trigger_floor
                       for each row execute function bench.log_row_trigger_floor()`);
  // twice: a page is marked all-visible only when its rows are older than the oldest snapshot, which
  // the first pass right after the copy may not see (then (b) would lose index-only scans)
  for (let pass = 0; pass < 2; pass++) {
    for (const table of ['app.records', 'bench.records', 'app_private.sessions']) await owner.query(`vacuum (analyze, freeze) ${table}`);
  }
  const visible = await owner.query(`select relallvisible = relpages as ok from pg_class where oid in ('app.records'::regclass, 'bench.records'::regclass)`);
  if (!visible.rows.every((r) => r.ok)) console.warn('warning: not every page of the two tables is all-visible: the plans may differ (see --explain)');
  console.log(`seeded ${rows} rows in ${((now() - t0) / 1000).toFixed(1)} s; ${runs} runs per query (${bigRuns} for the ${bigRows}-row inserts)`);

  // --- (a) the app's path: the runtime login role, a request transaction as xms_member
  const appUrl = new URL(url);
  appUrl.username = 'xms_app';
  await owner.query(`alter role xms_app login password 'bench'`);
  appUrl.password = 'bench';
  const appClient = await connect(appUrl.toString());
  await appClient.query(`set max_parallel_workers_per_gather = 0`);
  const tokenHash = createHash('sha256').update(token, 'utf8').digest('hex');
  // as the app's request transaction opens (src/db/request.ts): BEGIN and the session check that
  // enters the session's role and token (a bind value), in one round trip
  const secured = async (sql, params = []) => {
    const entered = await pipelinedBegin(appClient, undefined, 'select app_private.enter_session($1, $2, $3) as entry', [token, 30, 60]);
    if (!entered.rows[0]?.entry) throw new Error('the bench session did not enter');
    const r = await appClient.query(sql, params);
    await appClient.query('commit');
    return r;
  };
  const plain = async (sql, params = []) => {
    await owner.query('begin');
    const r = await owner.query(sql, params);
    await owner.query('commit');
    return r;
  };
  // The floor: (b) plus the least a secure design must add. Revocation takes effect on the next
  // request and the identity is derived in the database from the session (I17), so every request
  // transaction looks its session up at least once. Here that is one lookup of the token's hash by
  // its unique index, as the owner, in the message that opens the transaction (as (a) sends its
  // session check): no role switch, no membership check, no identity helper, no policy. Two ways,
  // both measured: (f) a plpgsql function (its plan cached for the connection: the call is planned,
  // the lookup is not) and (g) the lookup as a statement of its own (parsed and planned each time);
  // the cheaper one is the floor, a bound on every design that checks the session per transaction.
  // What identifies the session goes as a bind value, as the app sends its token (src/db/client.ts,
  // pipelinedBegin: BEGIN and the check in one round trip): in a statement's text it would show in
  // pg_stat_activity to every session of the login role and be written to the server log with any
  // statement that fails there (log_min_error_statement = error by default), and the token is a
  // bearer credential that I9 keeps only hashed. Here the client binds the hash, the cheapest way.
  await owner.query(`create function bench.session_live(h bytea) returns boolean language plpgsql stable
                       as $$ begin return exists (select from app_private.sessions s where s.token_hash = h and s.expires_at > now()); end $$`);
  const hash = Buffer.from(tokenHash, 'hex');
  const floorChecks = {
    f: { text: `select bench.session_live($1::bytea) as live`, values: [hash] },
    g: { text: `select true as live from app_private.sessions where token_hash = $1::bytea and expires_at > pg_catalog.now()`, values: [hash] },
  };
  // The identity floor: the floor plus what I17 adds to every statement. The policies of a secure
  // design cannot take the tenant from anything a statement of the transaction could have written (any
  // role can set_config() a custom setting, so a cached tenant id would let an injected statement name
  // another tenant): each statement derives it from the session, here by the least that can do it, one
  // lookup of the token's hash by its unique index in a plpgsql function (its plan cached for the
  // connection), as the owner (no policy on the lookup), in the query's filter as the compiled policies
  // write it, `tenant_id = (select fn())`, evaluated once per statement. (h) opens the transaction as
  // (f) does and also sets the token (bound) for the function to read. (t) is (h) with the token and
  // its hash written into the statement's text, simple protocol: not a secure design (see above),
  // measured only to show what keeping the token out of the text costs.
  await owner.query(`create function bench.session_tenant() returns uuid language plpgsql stable as $$
                       declare v uuid;
                       begin
                         select s.tenant_id into v from app_private.sessions s
                          where s.token_hash = pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.current_setting('app.session_token', true), 'UTF8'));
                         return v;
                       end $$`);
  floorChecks.h = { text: `select pg_catalog.set_config('app.session_token', $1, true), bench.session_live($2::bytea) as live`, values: [token, hash] };
  floorChecks.t = { text: `begin; select pg_catalog.set_config('app.session_token', '${token}', true), bench.session_live('\\x${tokenHash}'::bytea) as live` };
  const floored = (how) => async (sql, params = []) => {
    const { text, values } = floorChecks[how];
    const checked = values ? await pipelinedBegin(owner, undefined, text, values) : (await owner.query(text)).at(-1);
    if (checked.rows[0]?.live !== true) throw new Error('the floor session lookup found no session');
    const r = await owner.query(sql, params);
    await owner.query('commit');
    return r;
  };

  // the member's own rows, a fresh slice of 100 per update run
  const ids = (await owner.query(`select id from app.records where owner_id = $1 order by id limit $2`, [u1, (runs + 1) * 100])).rows.map((r) => r.id);
  const slice = (i) => ids.slice((i % (runs + 1)) * 100, (i % (runs + 1)) * 100 + 100);

  // sanity: RLS is on the path (a), and both sides see the same rows
  const seen = Number((await secured(`select count(*) from app.records`)).rows[0].count);
  const expected = Number((await plain(`select count(*) from bench.records where tenant_id = (select $1::uuid)`, [t1])).rows[0].count);
  if (seen !== expected || seen >= rows) throw new Error(`RLS check failed: the member sees ${seen} rows, tenant 1 has ${expected} of ${rows}`);

  const tenantIds = (await owner.query(`select id from app.records where tenant_id = $1 order by id limit 1000`, [t1])).rows.map((r) => r.id);
  const pick = (i, k) => tenantIds[(Math.max(i, 0) * batch + k) % tenantIds.length];
  const pointSql = `select id, owner_id, title, body, created_at from app.records where id = $1`;
  const pointPlainSql = `select id, owner_id, title, body, created_at from bench.records where tenant_id = (select $2::uuid) and id = $1`;
  const pageSql = `select id, owner_id, title, created_at from app.records order by created_at desc limit 50`;
  const pagePlainSql = `select id, owner_id, title, created_at from bench.records where tenant_id = (select $1::uuid) order by created_at desc limit 50`;
  // the identity floor's queries: the tenant derived from the session in the statement (see above)
  const pointIdentitySql = `select id, owner_id, title, body, created_at from bench.records where tenant_id = (select bench.session_tenant()) and id = $1`;
  const pageIdentitySql = `select id, owner_id, title, created_at from bench.records where tenant_id = (select bench.session_tenant()) order by created_at desc limit 50`;
  const cases = [
    {
      id: 'rls-point',
      name: `point lookup by id (x${batch})`,
      per: batch,
      a: async (i) => {
        for (let k = 0; k < batch; k++) if ((await secured(pointSql, [pick(i, k)])).rowCount !== 1) throw new Error('point lookup (a) found no row');
      },
      b: async (i) => {
        for (let k = 0; k < batch; k++) if ((await plain(pointPlainSql, [pick(i, k), t1])).rowCount !== 1) throw new Error('point lookup (b) found no row');
      },
      // (h), the identity floor, and (t) derive the tenant in the statement; (f) and (g) are given it
      floor: (how) => async (i) => {
        for (let k = 0; k < batch; k++) {
          const found = how === 'h' || how === 't' ? await floored(how)(pointIdentitySql, [pick(i, k)]) : await floored(how)(pointPlainSql, [pick(i, k), t1]);
          if (found.rowCount !== 1) throw new Error(`point lookup (${how}) found no row`);
        }
      },
    },
    {
      id: 'rls-page',
      name: `tenant page, newest 50 (x${pageBatch})`,
      per: pageBatch,
      a: async () => {
        for (let k = 0; k < pageBatch; k++) await secured(pageSql);
      },
      b: async () => {
        for (let k = 0; k < pageBatch; k++) await plain(pagePlainSql, [t1]);
      },
      floor: (how) => async () => {
        for (let k = 0; k < pageBatch; k++) {
          const page = how === 'h' || how === 't' ? await floored(how)(pageIdentitySql) : await floored(how)(pagePlainSql, [t1]);
          if (page.rowCount !== 50) throw new Error(`tenant page (${how}) did not get 50 rows`);
        }
      },
    },
    {
      name: 'select count(*) (tenant 1)',
      a: () => secured(`select count(*) from app.records`),
      b: () => plain(`select count(*) from bench.records where tenant_id = (select $1::uuid)`, [t1]),
    },
    {
      name: 'filtered select: own rows, newest 50',
      a: () => secured(`select id, title, created_at from app.records where owner_id = $1 order by created_at desc limit 50`, [u1]),
      b: () => plain(`select id, title, created_at from bench.records where tenant_id = (select $1::uuid) and owner_id = $2 order by created_at desc limit 50`, [t1, u1]),
    },
    {
      name: 'insert 100 rows (one statement)',
      a: () => secured(`insert into app.records (title, body) select 'new ' || g, 'body' from generate_series(1, 100) g`),
      b: () => plain(`insert into bench.records (tenant_id, owner_id, title, body) select $1, $2, 'new ' || g, 'body' from generate_series(1, 100) g`, [t1, u1]),
    },
    {
      name: 'update 100 own rows by id',
      a: (i) => secured(`update app.records set body = $1 where id = any($2::uuid[])`, [`edit ${i}`, slice(i)]),
      b: (i) => plain(`update bench.records set body = $1 where tenant_id = (select $3::uuid) and id = any($2::uuid[])`, [`edit ${i}`, slice(i), t1]),
    },
    {
      name: `insert ${bigRows} rows (one statement)`,
      runs: bigRuns,
      a: () => secured(`insert into app.records (title, body) select 'bulk ' || g, 'body' from generate_series(1, ${bigRows}) g`),
      b: () => plain(`insert into bench.records (tenant_id, owner_id, title, body) select $1, $2, 'bulk ' || g, 'body' from generate_series(1, ${bigRows}) g`, [t1, u1]),
    },
  ];

  if (process.argv.includes('--explain')) {
    // the plans of the read queries, both sides (writes would change the data)
    for (const c of cases.slice(0, 2)) {
      const [sqlA, sqlB] = [c.a, c.b].map((fn) => fn.toString());
      console.log(`\n${c.name}\n(a) ${sqlA}\n(b) ${sqlB}`);
    }
    const show = async (label, fn, sql, params) =>
      console.log(`--- ${label}\n${(await fn(`explain (analyze, buffers) ${sql}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n')}`);
    await show('count (a)', secured, `select count(*) from app.records`, []);
    await show('count (b)', plain, `select count(*) from bench.records where tenant_id = (select $1::uuid)`, [t1]);
    await show('filtered (a)', secured, `select id, title, created_at from app.records where owner_id = $1 order by created_at desc limit 50`, [u1]);
    await show('filtered (b)', plain, `select id, title, created_at from bench.records where tenant_id = (select $1::uuid) and owner_id = $2 order by created_at desc limit 50`, [t1, u1]);
  }

  // the server processes of both connections, for the CPU time each side costs the database
  const ownerPid = (await owner.query('select pg_backend_pid() as pid')).rows[0].pid;
  const appPid = (await appClient.query('select pg_backend_pid() as pid')).rows[0].pid;
  // every side across the same two cores (--no-pin: wherever the scheduler puts them)
  const pinned = pinClientAndServers([ownerPid, appPid]);
  if (pinned) console.log(pinned);
  /** CPU time (ms) a server process has used, or undefined when it cannot be read. */
  const cpuOf = (pid) => {
    try {
      return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      return undefined;
    }
  };

  const results = [];
  for (const c of cases) {
    const n = c.runs ?? runs;
    const sides = [['a', c.a], ['b', c.b], ...(c.floor ? [['f', c.floor('f')], ['g', c.floor('g')], ['h', c.floor('h')], ['t', c.floor('t')]] : [])];
    const times = { a: [], b: [], f: [], g: [], h: [], t: [] };
    const cpu = { a: [], b: [], f: [], g: [], h: [], t: [] };
    for (const [, fn] of sides) await fn(-1);
    for (let i = 0; i < n; i++) {
      // interleaved, rotating which goes first
      for (let k = 0; k < sides.length; k++) {
        const [side, fn] = sides[(i + k) % sides.length];
        const pid = side === 'a' ? appPid : ownerPid;
        const c0 = cpuOf(pid);
        const s = now();
        await fn(i);
        times[side].push(now() - s);
        const c1 = cpuOf(pid);
        if (c0 !== undefined && c1 !== undefined) cpu[side].push(c1 - c0);
      }
    }
    const cpuMedian = (side) => (cpu[side].length ? median(cpu[side]) : undefined);
    // the floor: the cheaper way of the two (by wall time, as the ratios; its CPU beside it)
    const way = c.floor ? (median(times.f) <= median(times.g) ? 'f' : 'g') : undefined;
    results.push({
      id: c.id, name: `${c.name}`, a: median(times.a), b: median(times.b), f: way && median(times[way]),
      floorWay: way && { f: 'plpgsql function', g: 'ad-hoc statement' }[way],
      floorOther: way && median(times[way === 'f' ? 'g' : 'f']),
      h: c.floor && median(times.h),
      t: c.floor && median(times.t),
      cpu: { a: cpuMedian('a'), b: cpuMedian('b'), f: way && cpuMedian(way), h: c.floor && cpuMedian('h') }, per: c.per,
    });
  }

  // the tenant page's plans on both sides: node types (and the text, for the report's appendix)
  const plan = async (fn, sql, params) => {
    const json = (await fn(`explain (format json) ${sql}`, params)).rows[0]['QUERY PLAN'];
    const text = (await fn(`explain (analyze, costs off, timing off, summary off) ${sql}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
    return { nodes: nodeTypes((typeof json === 'string' ? JSON.parse(json) : json)[0].Plan), text };
  };
  const pagePlans = { a: await plan(secured, pageSql, []), b: await plan(plain, pagePlainSql, [t1]) };
  const pointPlans = { a: await plan(secured, pointSql, [pick(0, 0)]), b: await plan(plain, pointPlainSql, [pick(0, 0), t1]) };

  // the audit trigger alone: the same table shape with and without the statement-level triggers,
  // both as the owner (no RLS on either), emptied before each run
  const backendCpu = () => cpuOf(ownerPid);
  /** Runs fn, pushing its wall time to `wall` and its backend CPU time to `cpu` (when readable). */
  const timed = async (fn, wall, cpu) => {
    const c0 = backendCpu();
    const s = now();
    await fn();
    wall.push(now() - s);
    const c1 = backendCpu();
    if (c0 !== undefined && c1 !== undefined) cpu.push(c1 - c0);
  };
  const ta = [];
  const tb = [];
  const tf = [];
  const ca = [];
  const cb = [];
  const cf = [];
  const insert = (table) => `insert into bench.${table} (tenant_id, owner_id, title, body) select $1, $2, 'bulk ' || g, 'body' from generate_series(1, ${bigRows}) g`;
  // The audit's floor: the same log rows (the whole row as jsonb, its key, the tenant; audit.log's
  // index and identity) written without a trigger: the plain insert, then one INSERT ... SELECT of
  // the log rows from the rows just written (the table is emptied before each run), in the same
  // transaction. Between it and (b) is the price of these log rows, paid by any trigger that writes
  // them; between it and (a), the trigger's own cost.
  const logRows = `insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
    select null, (j ->> 'tenant_id')::uuid, current_user, 'INSERT', 'bench.ins_floor', pg_catalog.jsonb_build_object('id', j -> 'id'), null, j
      from (select pg_catalog.to_jsonb(n) as j from bench.ins_floor n offset 0) as x`;
  const floorInsert = async () => {
    await owner.query('begin');
    await owner.query(insert('ins_floor'), [t1, u1]);
    await owner.query(logRows);
    await owner.query('commit');
  };
  const bulkSides = [
    [() => plain(insert('ins_audited'), [t1, u1]), ta, ca],
    [() => plain(insert('ins_plain'), [t1, u1]), tb, cb],
    [floorInsert, tf, cf],
  ];
  for (let i = -1; i < bigRuns; i++) {
    await owner.query(`truncate bench.ins_plain, bench.ins_audited, bench.ins_floor`);
    // interleaved, rotating which goes first
    for (let k = 0; k < bulkSides.length; k++) {
      const [fn, into, cpu] = bulkSides[(i + 1 + k) % bulkSides.length];
      await timed(fn, i >= 0 ? into : [], i >= 0 ? cpu : []);
    }
  }
  const floorRows = Number((await owner.query(`select count(*) from audit.log where table_name = 'bench.ins_floor'`)).rows[0].count);
  if (floorRows !== (bigRuns + 1) * bigRows) throw new Error(`audit floor check failed: ${floorRows} log rows for ${(bigRuns + 1) * bigRows} inserts`);
  const audited = Number((await owner.query(`select count(*) from audit.log where table_name = 'bench.ins_audited'`)).rows[0].count);
  if (audited !== (bigRuns + 1) * bigRows) throw new Error(`audit check failed: ${audited} audit rows for ${(bigRuns + 1) * bigRows} inserts`);

  // single-row inserts, autocommit, synchronous_commit = off: the CPU cost of the audit per statement.
  // The floor, as for the bulk insert: the same row and the same log row written without a trigger, by
  // one statement (a data-modifying CTE), two ways, the cheaper one counting:
  //   (f) as an ad-hoc statement, parsed and planned each time, as the baseline's insert is;
  //   (g) the baseline plus what writing the log row adds to an insert whose plan is cached (as a
  //       trigger's statements are): the CTE minus the plain insert, both as prepared statements,
  //       measured in the same round.
  // Between the floor and (b) is the price of one log row per statement, paid by any design that
  // writes it in the same transaction; between it and (a), the trigger's own cost.
  const one = (table) => `insert into bench.${table} (tenant_id, owner_id, title, body) values ($1, $2, 'single', 'body')`;
  const oneLogged = `with n as (${one('ins_floor')} returning *)
    insert into audit.log (actor_id, tenant_id, db_role, action, table_name, row_key, old_row, new_row)
    select null, n.tenant_id, current_user, 'INSERT', 'bench.ins_floor', pg_catalog.jsonb_build_object('id', n.id), null, pg_catalog.to_jsonb(n) from n`;
  const singleSides = {
    a: (values) => owner.query(one('ins_audited'), values),
    b: (values) => owner.query(one('ins_plain'), values),
    f: (values) => owner.query(oneLogged, values),
    gPlain: (values) => owner.query({ name: 'bench_single_plain', text: one('ins_plain'), values }),
    gLogged: (values) => owner.query({ name: 'bench_single_logged', text: oneLogged, values }),
    t: (values) => owner.query(one('ins_trigger_floor'), values),
    tRow: (values) => owner.query(one('ins_row_trigger_floor'), values),
  };
  const singleWall = Object.fromEntries(Object.keys(singleSides).map((k) => [k, []]));
  const singleCpu = Object.fromEntries(Object.keys(singleSides).map((k) => [k, []]));
  await owner.query(`set synchronous_commit = off`);
  const order = Object.keys(singleSides);
  for (let i = -1; i < runs; i++) {
    await owner.query(`truncate bench.ins_plain, bench.ins_audited, bench.ins_floor, bench.ins_trigger_floor, bench.ins_row_trigger_floor`);
    // interleaved, rotating which goes first
    for (let k = 0; k < order.length; k++) {
      const side = order[(i + 1 + k) % order.length];
      await timed(async () => {
        for (let n = 0; n < singles; n++) await singleSides[side]([t1, u1]);
      }, i >= 0 ? singleWall[side] : [], i >= 0 ? singleCpu[side] : []);
    }
  }
  await owner.query(`set synchronous_commit = on`);
  const auditedSingles = Number((await owner.query(`select count(*) from audit.log where table_name = 'bench.ins_audited'`)).rows[0].count);
  if (auditedSingles < (bigRuns + 1) * bigRows + (runs + 1) * singles) throw new Error(`audit check failed: ${auditedSingles} audit rows after ${singles} single inserts`);
  const floorSingles = Number((await owner.query(`select count(*) from audit.log where table_name = 'bench.ins_floor'`)).rows[0].count);
  if (floorSingles !== (bigRuns + 1) * bigRows + 2 * (runs + 1) * singles) throw new Error(`audit floor check failed: ${floorSingles} log rows after the single inserts`);
  for (const table of ['bench.ins_trigger_floor', 'bench.ins_row_trigger_floor']) {
    const logged = Number((await owner.query(`select count(*) from audit.log where table_name = $1`, [table])).rows[0].count);
    if (logged !== (runs + 1) * singles) throw new Error(`audit trigger floor check failed: ${logged} log rows of ${table} after ${(runs + 1) * singles} single inserts`);
  }
  /** (g) per round: the baseline plus the prepared CTE minus the prepared plain insert. */
  const plusLogRow = (per) => per.b.map((b, i) => b + per.gLogged[i] - per.gPlain[i]);
  const sa = singleWall.a;
  const sb = singleWall.b;
  // the cheaper way by backend CPU (this row's measure) when readable, else by wall time
  const byWay = singleCpu.b.length ? singleCpu : singleWall;
  const singleWay = median(byWay.f) <= median(plusLogRow(byWay)) ? 'f' : 'g';
  const sf = singleWay === 'f' ? singleWall.f : plusLogRow(singleWall);
  const sfOther = singleWay === 'f' ? plusLogRow(singleWall) : singleWall.f;
  const sca = singleCpu.a;
  const scb = singleCpu.b;
  const scf = singleCpu.b.length ? (singleWay === 'f' ? singleCpu.f : plusLogRow(singleCpu)) : [];
  // the trigger floor: the cheaper shape, by backend CPU when readable, else by wall time
  const triggerWay = median(byWay.tRow) < median(byWay.t) ? 'tRow' : 't';
  const sct = singleCpu[triggerWay];
  const st = singleWall[triggerWay];
  const stOther = singleWall[triggerWay === 't' ? 'tRow' : 't'];
  const sctOther = singleCpu[triggerWay === 't' ? 'tRow' : 't'];
  const shape = (way) => (way === 't' ? 'statement-level with its transition table' : 'FOR EACH ROW');

  await appClient.end();
  await owner.end();

  /** Backend CPU per transaction of (a), (b) and (f), when readable. */
  const backendNote = (r) =>
    r.per && r.cpu.a !== undefined && r.cpu.b !== undefined
      ? `backend CPU per transaction: (a) ${((r.cpu.a / r.per) * 1000).toFixed(0)} µs, (b) ${((r.cpu.b / r.per) * 1000).toFixed(0)} µs` +
        `${r.cpu.f !== undefined ? `, floor ${((r.cpu.f / r.per) * 1000).toFixed(0)} µs` : ''}` +
        `${r.cpu.h !== undefined ? `, identity floor ${((r.cpu.h / r.per) * 1000).toFixed(0)} µs` : ''} (ratios ${(r.cpu.a / r.cpu.b).toFixed(2)}x` +
        `${r.cpu.f !== undefined ? `, floor ${(r.cpu.f / r.cpu.b).toFixed(2)}x` : ''}${r.cpu.h !== undefined ? `, identity floor ${(r.cpu.h / r.cpu.b).toFixed(2)}x` : ''})`
      : undefined;
  console.log(`\nPostgreSQL, ${rows} rows in app.records; median ms; ratio = (a) RLS + audit, app path / (b) plain table as owner`);
  console.log(`  ${'query'.padEnd(40)} ${'(a)'.padStart(8)} ${'(b)'.padStart(8)}  ratio`);
  for (const r of results) {
    console.log(`  ${r.name.padEnd(40)} ${r.a.toFixed(2).padStart(8)} ${r.b.toFixed(2).padStart(8)}  ${ratio(r.a, r.b)}`);
    if (r.f !== undefined) {
      console.log(`  ${'  floor: (b) + one session lookup'.padEnd(40)} ${r.f.toFixed(2).padStart(8)} ${r.b.toFixed(2).padStart(8)}  ${ratio(r.f, r.b)}  (${r.floorWay}; the other way ${ratio(r.floorOther, r.b)}): any design that checks the session per transaction costs at least this`);
    }
    if (r.h !== undefined) {
      console.log(`  ${'  identity floor: + one per statement'.padEnd(40)} ${r.h.toFixed(2).padStart(8)} ${r.b.toFixed(2).padStart(8)}  ${ratio(r.h, r.b)}  (the floor and one lookup of the session per statement, as I17 asks)`);
      console.log(`  ${'  the same, token in the text'.padEnd(40)} ${r.t.toFixed(2).padStart(8)} ${r.b.toFixed(2).padStart(8)}  ${ratio(r.t, r.b)}  (not a secure design: what binding the token costs)`);
    }
    const note = backendNote(r);
    if (note) console.log(`    ${note}`);
  }
  const name = `audit trigger only: insert ${bigRows} rows`;
  console.log(`  ${name.padEnd(40)} ${median(ta).toFixed(2).padStart(8)} ${median(tb).toFixed(2).padStart(8)}  ${ratio(median(ta), median(tb))}  (with / without the statement-level audit triggers, both as owner)`);
  const single = `audit trigger only: ${singles} single inserts`;
  console.log(`  ${single.padEnd(40)} ${median(sa).toFixed(2).padStart(8)} ${median(sb).toFixed(2).padStart(8)}  ${ratio(median(sa), median(sb))}  (synchronous_commit = off)`);
  // the server process's CPU per audited statement / row, with and without the audit triggers
  const cpuNote = (cpu, base, per, unit) =>
    cpu.length && base.length
      ? `backend CPU ${((median(cpu) / per) * 1000).toFixed(1)} µs vs ${((median(base) / per) * 1000).toFixed(1)} µs per ${unit} (throughput ratio ${(median(base) / median(cpu)).toFixed(2)}x)`
      : undefined;
  const bulkCpu = cpuNote(ca, cb, bigRows, 'row');
  const bulkFloorCpu = cpuNote(cf, cb, bigRows, 'row');
  const bulkFloor = `floor, the same log rows written without a trigger (one INSERT ... SELECT from the rows just inserted): ${ratio(median(tb), median(tf))} throughput` +
    `${bulkFloorCpu ? `, ${bulkFloorCpu}` : ''}: the price of these log rows, paid by any trigger that writes them`;
  const singleCpuNote = cpuNote(sca, scb, singles, 'statement');
  const singleFloorCpu = cpuNote(scf, scb, singles, 'statement');
  const singleFloorOtherCpu = singleCpu.b.length ? cpuNote(singleWay === 'f' ? plusLogRow(singleCpu) : singleCpu.f, scb, singles, 'statement') : undefined;
  const singleFloor = `floor, the same log row written without a trigger (one statement: ${singleWay === 'f' ? 'an ad-hoc data-modifying CTE' : 'the insert plus what a data-modifying CTE adds to it, both prepared'}): ${ratio(median(sb), median(sf))} throughput` +
    `${singleFloorCpu ? `, ${singleFloorCpu}` : ''} (the other way: ${ratio(median(sb), median(sfOther))} throughput${singleFloorOtherCpu ? `, ${singleFloorOtherCpu}` : ''}): the price of one log row per statement, paid by any design that writes it`;
  if (bulkCpu) console.log(`  audit-bulk:   ${bulkCpu}`);
  console.log(`  audit-bulk ${bulkFloor}`);
  const singleTriggerFloorCpu = cpuNote(sct, scb, singles, 'statement');
  const singleTriggerFloorOtherCpu = cpuNote(sctOther, scb, singles, 'statement');
  const singleTriggerFloor = `trigger floor, the smallest trigger that writes the same log row (SECURITY DEFINER, pinned search_path, one INSERT; ${shape(triggerWay)}): ${ratio(median(sb), median(st))} throughput` +
    `${singleTriggerFloorCpu ? `, ${singleTriggerFloorCpu}` : ''} (${shape(triggerWay === 't' ? 'tRow' : 't')}: ${ratio(median(sb), median(stOther))} throughput${singleTriggerFloorOtherCpu ? `, ${singleTriggerFloorOtherCpu}` : ''}): what a design that records each change by a trigger (I7) pays at least`;
  if (singleCpuNote) console.log(`  audit-single: ${singleCpuNote}`);
  console.log(`  audit-single ${singleFloor}`);
  console.log(`  audit-single ${singleTriggerFloor}`);
  console.log(`\ntenant page plan (a): ${pagePlans.a.nodes.join(' > ')}; (b): ${pagePlans.b.nodes.join(' > ')}`);

  const byId = Object.fromEntries(results.filter((r) => r.id).map((r) => [r.id, r]));
  emit({
    // floor: the baseline plus one session lookup per transaction, the cheaper way (bench/index.mjs reports it)
    // identityFloor: that floor plus one session lookup per statement, the least a design that keeps I17 adds
    'rls-point': { unit: 'ms', value: byId['rls-point'].a, baseline: byId['rls-point'].b, floor: byId['rls-point'].f, identityFloor: byId['rls-point'].h, identityFloorTokenInText: byId['rls-point'].t, rows, batch, runs, plans: pointPlans, notes: [backendNote(byId['rls-point']), pinned].filter(Boolean) },
    'rls-page': { unit: 'ms', value: byId['rls-page'].a, baseline: byId['rls-page'].b, floor: byId['rls-page'].f, identityFloor: byId['rls-page'].h, identityFloorTokenInText: byId['rls-page'].t, rows, batch: pageBatch, runs, plans: pagePlans, notes: [backendNote(byId['rls-page']), pinned].filter(Boolean) },
    // throughput rows: value and baseline are rows/s
    'audit-bulk': {
      unit: 'rows/s', value: bigRows / (median(ta) / 1000), baseline: bigRows / (median(tb) / 1000), floor: bigRows / (median(tf) / 1000),
      rowsPerStatement: bigRows, runs: bigRuns, notes: [bulkCpu, bulkFloor, pinned].filter(Boolean),
    },
    'audit-single': {
      unit: 'rows/s', value: singles / (median(sa) / 1000), baseline: singles / (median(sb) / 1000), floor: singles / (median(sf) / 1000),
      // backend CPU per statement (µs) of each side, when readable: the issue's goal for this row is the CPU cost
      triggerFloor: singles / (median(st) / 1000),
      ...(scb.length
        ? { cpuUsPerStatement: { audited: (median(sca) / singles) * 1000, plain: (median(scb) / singles) * 1000, floor: (median(scf) / singles) * 1000, triggerFloor: (median(sct) / singles) * 1000 } }
        : {}),
      statements: singles, runs, notes: [singleCpuNote, singleFloor, singleTriggerFloor, pinned].filter(Boolean),
    },
  });
});
