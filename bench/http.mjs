// Request throughput of a generated app's server as a ratio to a bare Fastify server with the same
// routes, both on 127.0.0.1 in this run:
//   npm run bench:http [-- --quick] [-- --seconds 5 --rounds 3 --connections 10] [-- --pglite]
// The app (minimal preset, installed from this checkout, built with its `npm run build` and run as
// its `npm start` does: node dist/src/server/index.js, what production runs) runs in production mode on PostgreSQL (DATABASE_URL's server, else a throw-away cluster), connected as
// xms_app; with --pglite both servers use PGlite instead (the app in test mode: production refuses
// PGlite). The bare server is Fastify from the app's node_modules, no hooks:
//   GET /health   the same JSON; the app adds its security headers, CSRF and API-limit hooks;
//                 and a floor, interleaved: the bare server sending the app's static security
//                 headers (read from the app's own /health answer) from one synchronous hook
//   GET /api/me   one `begin; select 1; commit` per request on the same database and pool size;
//                 the app's route is sessionOnly: one statement in one round trip, the session check
//                 that returns the user's profile (it writes only when the idle expiry is due to
//                 slide, once a minute), in its own implicit transaction; 2 sessions per
//                 connection, and all connections on 1 session. On PostgreSQL, two
//                 more sides, interleaved: `appSql`, bare Fastify sending the app's own statement
//                 (the app's Node side apart from its SQL), and the floor, bare Fastify with the
//                 app's static security headers and one statement that checks the session by its
//                 token's hash and reads the user's row (no BEGIN or COMMIT, no role switch, no
//                 RLS: one round trip, as the app's): the least a
//                 design that checks the session on every request sends. Each side's CPU per
//                 request is read for the server and for the database's backends
// Load: autocannon, --connections connections, --seconds per measurement, --rounds rounds
// alternating the sides; in every round each side of the health and api-me rows runs on a fresh
// server process, warmed up first (--warm seconds, default 1, and on until it has served
// --warm-requests, default 15000: the same count for every side) and stopped after its measurement
// (processes of one build differ by up to 30% in CPU per request, so the rounds sample processes as
// well as time); req/s are the medians of the rounds, and so is each server's CPU time per request
// (user + system, from /proc/<pid>/stat over the round): on a shared machine req/s follow the
// neighbours' load, CPU per request much less. The rows' ratios (`paired`) are the medians of each
// round's ratio of a side to bare, measured back to back in that round: the host's speed drifts
// over a run (CPU per request of one process by up to 2x between rounds), and it moves the sides of
// one round together.
// --only health: the health row alone (no users signed up, no GET /api/me, no PgBouncer, no profile);
// --only api-me: the api-me row alone (no PgBouncer, no profile).
// --compare <dir>: another build of the app (an installed app folder, e.g. before a change) runs as
// one more side of the health and api-me rows, on the same database and sessions, interleaved.
// Reported on the console only (the rows stay app against bare). The folder is built first (its
// `npm run build`): a change to compare goes in its src/, an edit of its dist/ alone is overwritten.
// PgBouncer: if Debian's `pgbouncer` is installed (and not --pglite), GET /api/me is also measured
// with one and two app instances connected through PgBouncer in transaction pooling mode (started
// on 127.0.0.1 from a generated ini, as the postgres system user when run as root), against the
// app connected directly; the two instances share the load (half the connections each).
// Rows of `npm run bench`: health, api-me, api-me-pgbouncer-1, api-me-pgbouncer-2. After the
// measurements, one more app instance runs GET /api/me under node --cpu-prof for --seconds: the
// functions with the most self time go with the api-me row (why it costs what it costs).
import { pgbouncerBinary } from './pgbouncer.mjs';
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  connect, emit, flag, freePort, freshDatabase, installedApp, median, now, onCleanup, option, quick, ratio, requireFrom, run, sh, startServer, toolsDir,
} from './_shared.mjs';

const seconds = flag('seconds', quick ? 2 : 3);
const rounds = flag('rounds', quick ? 1 : 5);
const warmSeconds = flag('warm', 1);
// and at least this many requests: a process serves its first few thousand requests at up to three
// times its settled CPU cost (V8 still compiling its hot paths), and a slower route reaches that
// count later; every side of a row gets the same count
const warmRequests = flag('warm-requests', quick ? 500 : 15_000);
const connections = flag('connections', 10);
const usePglite = process.argv.includes('--pglite');
const ORIGIN = 'https://bench.example.com';
const only = option('only');
if (only !== undefined && only !== 'health' && only !== 'api-me') {
  console.error(`--only: "${only}" is not a row this bench can run alone (health, api-me)`);
  process.exit(2);
}

/** CPU time (user + system) a process has used, in µs (clock ticks of 10 ms). */
function cpuUs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * The functions with the most self time in a .cpuprofile, over its samples taken [from, to] µs
 * before the profile's end (the load, not the start-up) and leaving out idle time: [{ fn, percent }].
 */
function topOfProfile(file, windowUs, count = 12) {
  const { nodes, samples, timeDeltas, startTime, endTime } = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const hits = new Map();
  let t = startTime;
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i]; // sample i was taken at startTime + timeDeltas[0..i]
    const age = endTime - t;
    if (age < windowUs.from || age > windowUs.to) continue;
    const { functionName, url, lineNumber } = byId.get(samples[i]).callFrame;
    if (functionName === '(idle)') continue;
    const where = url ? `${url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    hits.set(key, (hits.get(key) ?? 0) + 1);
    total++;
  }
  return [...hits.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([fn, n]) => ({ fn, percent: (100 * n) / total }));
}

/**
 * PgBouncer on 127.0.0.1 in transaction pooling mode in front of the server of `url`; returns the
 * URL of the same database (and user) through it. Stopped and its folder removed at clean-up.
 */
async function startPgbouncer(binary, url, users) {
  const target = new URL(url);
  const parent = mkdtempSync(join(tmpdir(), 'xms-bench-pgbouncer-'));
  onCleanup(() => rmSync(parent, { recursive: true, force: true }));
  chmodSync(parent, 0o755);
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const files = {
    'users.txt': users.map(([user, password]) => `"${user}" "${password}"`).join('\n') + '\n',
    'pgbouncer.ini': [
      '[databases]',
      `* = host=127.0.0.1 port=${target.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(parent, 'users.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 500',
      `default_pool_size = ${connections * 2}`,
      'ignore_startup_parameters = extra_float_digits,options',
      `pidfile = ${join(parent, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  };
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(parent, name), text, { mode: 0o644 });
    if (asRoot) chownSync(join(parent, name), Number(sh('id', ['-u', 'postgres']).trim()), Number(sh('id', ['-g', 'postgres']).trim()));
  }
  if (asRoot) chownSync(parent, Number(sh('id', ['-u', 'postgres']).trim()), Number(sh('id', ['-g', 'postgres']).trim()));
  const [cmd, args] = asRoot ? ['runuser', ['-u', 'postgres', '--', binary, join(parent, 'pgbouncer.ini')]] : [binary, [join(parent, 'pgbouncer.ini')]];
  const { spawn } = await import('node:child_process');
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  onCleanup(
    () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          resolve();
        }
        setTimeout(() => {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {}
        }, 5000).unref();
      }),
  );
  const via = new URL(url);
  via.port = String(port);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited ${child.exitCode}:\n${output}`);
    try {
      const c = await connect(via.toString());
      await c.query('select 1');
      await c.end();
      return via.toString();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`pgbouncer did not accept connections within 20 s: ${error.message}\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const BARE_SERVER = `// bench/http.mjs: bare Fastify, same routes, no hooks
import Fastify from 'fastify';
const app = Fastify({ logger: false });
let tx;
// PostgreSQL: one pool, for every route of this server
let pg;
let pool;
if (process.env.DATABASE_URL) {
  ({ default: pg } = await import('pg'));
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_MAX ?? 10) });
  tx = async () => {
    const c = await pool.connect();
    try {
      await c.query('begin');
      const r = await c.query('select 1 as one');
      await c.query('commit');
      return r.rows[0].one;
    } finally {
      c.release();
    }
  };
} else {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = new PGlite();
  await db.waitReady;
  tx = () => db.transaction(async (t) => (await t.query('select 1 as one')).rows[0].one);
}
// the floor (FLOOR_HEADERS set): the same server sending the app's static security headers, set in
// one synchronous hook, the least any design that sends them pays
if (process.env.FLOOR_HEADERS) {
  const headers = JSON.parse(process.env.FLOOR_HEADERS);
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    done();
  });
}
// GET /api/me's floors (BARE_ME set; PostgreSQL only), one round trip per request, the session token
// read from the app's cookie: 'app-sql' sends the app's own statement (the session check that returns
// the user's profile), so that the app's Node side is measured apart from its SQL; 'floor' sends the
// least a design that checks the session on every request sends: one statement (bench_floor.me, made
// by bench/http.mjs) that looks the session up by its token's hash and reads the user's row, in the
// implicit transaction of its own Sync (no BEGIN or COMMIT), no role switch, no RLS
let me = async () => ({ user: { one: await tx() } });
if (process.env.BARE_ME) {
  const appSql = process.env.BARE_ME === 'app-sql';
  // app-sql: the statement the app's src/db/request.ts sends for a sessionOnly route (its
  // checkSessionOnly), with the same parameters: one round trip
  const APP_SQL = 'select pg_catalog.row_to_json(app_private.check_session($1, $2, $3)) as entry';
  me = async (request, reply) => {
    const token = /(?:^|; )(?:__Host-)?session=([^;]+)/.exec(request.headers.cookie ?? '')?.[1];
    if (!token) return reply.code(401).send({ error: 'unauthenticated' });
    const client = await pool.connect();
    try {
      // either statement runs in the implicit transaction of its own Sync: one round trip
      const [row] = appSql
        ? (await client.query(APP_SQL, [token, 60, 60])).rows.map((r) => r.entry).filter(Boolean)
        : (await client.query('select * from bench_floor.me($1)', [token])).rows;
      if (!row) return reply.code(401).send({ error: 'unauthenticated' });
      return { user: { id: row.user_id, email: row.email, displayName: row.display_name, tenantId: row.tenant_id, role: row.db_role } };
    } finally {
      client.release();
    }
  };
}
app.get('/health', async () => ({ status: 'ok' }));
app.get('/api/me', me);
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
`;

run(async () => {
  const app = installedApp('');
  const autocannon = requireFrom(toolsDir(['autocannon@9']), 'autocannon');

  const appPort = await freePort();
  // sign-up e-mails a confirmation link (the account logs in only once it is followed): a local SMTP
  // server (the app's own test dependency) receives it and the bench follows it
  const confirmations = new Map();
  const { SMTPServer } = requireFrom(app, 'smtp-server');
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk) => (raw += chunk));
      stream.on('end', () => {
        // quoted-printable: soft line breaks joined, `=` written as =3D
        const match = /#token=(?:3D)?([A-Za-z0-9_-]{43})/.exec(raw.replace(/=\r?\n/g, ''));
        if (match) for (const rcpt of session.envelope.rcptTo) confirmations.set(rcpt.address, match[1]);
        callback();
      });
    },
  });
  await new Promise((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  onCleanup(() => smtp.close());
  const smtpUrl = `smtp://127.0.0.1:${smtp.server.address().port}`;
  const common = { HOST: '127.0.0.1', API_LIMIT_PER_MINUTE: '1000000', AUTH_LIMIT_PER_IP: '100000', AUTH_LIMIT_PER_ACCOUNT: '1000' };
  let appEnv;
  let bareEnv;
  let appUrl;
  // PostgreSQL: the database's owner (the floor's function) and name (its backends' CPU time)
  let ownerUrl;
  if (usePglite) {
    const data = mkdtempSync(join(tmpdir(), 'xms-bench-pglite-'));
    onCleanup(() => rmSync(data, { recursive: true, force: true }));
    sh('npm', ['run', 'db:migrate'], { cwd: app, env: { ...process.env, DATABASE_URL: '', PGLITE_DATA_DIR: data } });
    // test mode: production refuses PGlite; the cookie is then `session` over http
    appEnv = { ...common, NODE_ENV: 'test', DATABASE_URL: '', PGLITE_DATA_DIR: data, APP_ORIGIN: ORIGIN, COOKIE_SECURE: 'false', SMTP_URL: smtpUrl };
    bareEnv = { DATABASE_URL: '' };
  } else {
    const { url } = await freshDatabase();
    ownerUrl = url;
    sh('npm', ['run', 'db:migrate'], { cwd: app, env: { ...process.env, DATABASE_URL: url, MIGRATION_DATABASE_URL: url, XMS_APP_PASSWORD: 'bench' } });
    const owner = await connect(url);
    await owner.query(`alter role xms_app login password 'bench'`);
    await owner.end();
    appUrl = new URL(url);
    appUrl.username = 'xms_app';
    appUrl.password = 'bench';
    appEnv = { ...common, NODE_ENV: 'production', DATABASE_URL: appUrl.toString(), APP_ORIGIN: ORIGIN, SMTP_URL: smtpUrl };
    bareEnv = { DATABASE_URL: appUrl.toString() };
  }
  const bareFile = `bare-server-${process.pid}.mjs`;
  writeFileSync(join(app, bareFile), BARE_SERVER);
  onCleanup(() => rmSync(join(app, bareFile), { force: true }));
  // built and run as production runs it (`npm run build`, then `npm start`'s node dist/src/server/index.js)
  sh('npm', ['run', 'build'], { cwd: app });
  const SERVER = 'dist/src/server/index.js';
  // port -> server process, for its CPU time
  const pids = new Map();
  const startApp = async (port, env) => {
    const server = await startServer('the app', app, process.execPath, [SERVER], { ...env, PORT: String(port) }, port);
    pids.set(port, server.child.pid);
  };
  await startApp(appPort, appEnv);
  const compare = option('compare');
  if (compare) sh('npm', ['run', 'build'], { cwd: compare });
  // The health row's floor: bare Fastify plus the headers the app's /health answers with that are
  // the same on every response (the security headers; not the date, the length, the request id)
  const GENERIC = new Set(['date', 'connection', 'keep-alive', 'content-length', 'content-type', 'transfer-encoding']);
  const [h1, h2] = [await fetch(`http://127.0.0.1:${appPort}/health`), await fetch(`http://127.0.0.1:${appPort}/health`)];
  const floorHeaders = Object.fromEntries([...h1.headers].filter(([name, value]) => !GENERIC.has(name) && h2.headers.get(name) === value));
  if (Object.keys(floorHeaders).length < 5) throw new Error(`the app's /health sent only ${Object.keys(floorHeaders).join(', ')}: no security headers to measure a floor with`);

  // The health and api-me rows measure every side on a fresh process in every round: two processes
  // of the same build, measured interleaved, differed by up to 30% in CPU per request (2026-12-05,
  // docs/benchmarks.md), so one process per side decided a 10% question by which process it got.
  // A launcher starts one more process of a side on a free port: { port, stop }.
  const launcher = (name, cwd, args, env) => async () => {
    const port = await freePort();
    const server = await startServer(name, cwd, process.execPath, args, { ...env, PORT: String(port) }, port);
    pids.set(port, server.child.pid);
    return { port, stop: server.stop };
  };
  const launch = {
    app: launcher('the app', app, [SERVER], appEnv),
    bare: launcher('bare Fastify', app, [bareFile], bareEnv),
    floor: launcher('bare Fastify + security headers', app, [bareFile], { ...bareEnv, FLOOR_HEADERS: JSON.stringify(floorHeaders) }),
    ...(compare ? { compare: launcher('the app (--compare)', compare, [SERVER], appEnv) } : {}),
  };

  // GET /api/me's floors (see BARE_SERVER): the app's SQL on bare Fastify, and the least SQL with the
  // app's static security headers
  const meLaunch = {};
  if (ownerUrl && only !== 'health') {
    const owner = await connect(ownerUrl);
    await owner.query(`create schema bench_floor`);
    await owner.query(`grant usage on schema bench_floor to xms_app`);
    await owner.query(`create function bench_floor.me(token text)
        returns table (user_id uuid, tenant_id uuid, db_role text, email text, display_name text)
        language plpgsql stable security definer set search_path = '' as $$
      begin
        return query
          select s.user_id, s.tenant_id, s.db_role, c.email::text, u.display_name::text
            from app_private.sessions s
            join app.users u on u.id = s.user_id
            left join app_private.credentials c on c.user_id = s.user_id
           where s.token_hash = pg_catalog.sha256(pg_catalog.convert_to(token, 'UTF8'))
             and s.revoked_at is null and s.expires_at > pg_catalog.now() and s.idle_expires_at > pg_catalog.now();
      end $$`);
    await owner.query(`grant execute on function bench_floor.me(text) to xms_app`);
    await owner.end();
    for (const [side, mode, extra] of [['appSql', 'app-sql', {}], ['floor', 'floor', { FLOOR_HEADERS: JSON.stringify(floorHeaders) }]]) {
      meLaunch[side] = launcher(`bare Fastify (${mode})`, app, [bareFile], { ...bareEnv, BARE_ME: mode, ...extra });
    }
  }
  // CPU time of the database's backends (PostgreSQL on this machine: their process titles name the
  // database), summed over those alive before or after a measurement
  const database = ownerUrl ? new URL(ownerUrl).pathname.slice(1) : undefined;
  const backendsCpu = () => {
    const byPid = new Map();
    if (!database) return byPid;
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (title.startsWith('postgres: ') && title.includes(` ${database} `)) byPid.set(pid, cpuUs(pid));
      } catch {} // exited meanwhile
    }
    return byPid;
  };

  // users of the app, logged in through its API (the cookie is the session): 2 per connection, so that
  // concurrent requests rarely share a session
  const post = (path, body) =>
    fetch(`http://127.0.0.1:${appPort}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN }, body: JSON.stringify(body) });
  const cookies = [];
  for (let i = 0; i < (only === 'health' ? 0 : connections * 2); i++) {
    const email = `bench-${i}-${randomBytes(4).toString('hex')}@example.com`;
    const password = randomBytes(18).toString('base64url');
    const signup = await post('/api/auth/signup', { email, password, tenantName: `Bench ${i}` });
    if (signup.status !== 202) throw new Error(`sign-up answered ${signup.status}: ${await signup.text()}`);
    for (const started = Date.now(); !confirmations.has(email); await new Promise((resolve) => setTimeout(resolve, 20))) {
      if (Date.now() - started > 15_000) throw new Error(`no confirmation e-mail for ${email}`);
    }
    const verified = await post('/api/auth/verify-email', { token: confirmations.get(email) });
    if (verified.status !== 200) throw new Error(`verify-email answered ${verified.status}: ${await verified.text()}`);
    const login = await post('/api/auth/login', { email, password });
    if (login.status !== 200) throw new Error(`log-in answered ${login.status}: ${await login.text()}`);
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const me = await fetch(`http://127.0.0.1:${appPort}/api/me`, { headers: { cookie } });
    if (me.status !== 200) throw new Error(`GET /api/me answered ${me.status}: ${await me.text()}`);
    if ((await me.json()).user?.email !== email) throw new Error('GET /api/me answered another user');
    cookies.push(cookie);
  }

  // XMS_HOLD=<file>: for measurements by hand (a fixed request rate, perf): start one process of
  // every side, write its port and pid, the logged-in cookies and the database's name to <file>, and
  // keep the servers running until the bench is stopped (SIGTERM cleans up as usual)
  if (process.env.XMS_HOLD) {
    const sides = { app: { port: appPort, pid: pids.get(appPort) } };
    for (const [name, start] of [...Object.entries(launch), ...Object.entries(meLaunch).map(([side, l]) => [`me-${side}`, l])]) {
      if (name === 'app') continue;
      const { port } = await start();
      sides[name] = { port, pid: pids.get(port) };
    }
    writeFileSync(process.env.XMS_HOLD, JSON.stringify({ cookies, sides, database }));
    console.log('HOLDING', JSON.stringify(sides));
    await new Promise(() => {});
  }
  // duration: seconds, or { amount }: that many requests
  const loadOne = (port, path, duration, sessions, conns) =>
    new Promise((resolve, reject) => {
      let next = 0;
      const requests = [
        { method: 'GET', path, setupRequest: (req) => (sessions.length ? { ...req, headers: { ...req.headers, cookie: sessions[next++ % sessions.length] } } : req) },
      ];
      const length = typeof duration === 'number' ? { duration } : { amount: Math.max(conns, duration.amount) };
      autocannon({ url: `http://127.0.0.1:${port}`, connections: conns, ...length, requests }, (err, result) => {
        if (err) return reject(err);
        if (result.errors || result.non2xx || result.timeouts) {
          return reject(new Error(`${path} on ${port}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`));
        }
        resolve(result);
      });
    });
  // one or more servers sharing the connections (and the sessions): the sum of their req/s, and
  // their CPU time per request
  const load = async (ports, path, duration, sessions = []) => {
    const share = Math.max(1, Math.floor(connections / ports.length));
    const cpuBefore = ports.map((port) => cpuUs(pids.get(port)));
    const backendsBefore = backendsCpu();
    const parts = await Promise.all(ports.map((port, i) => loadOne(port, path, duration, sessions.filter((_, k) => k % ports.length === i), share)));
    const cpu = ports.reduce((sum, port, i) => sum + cpuUs(pids.get(port)) - cpuBefore[i], 0);
    const backends = [...backendsCpu()].reduce((sum, [pid, us]) => sum + us - (backendsBefore.get(pid) ?? 0), 0);
    const count = parts.reduce((sum, r) => sum + r.requests.total, 0);
    return { count, rps: parts.reduce((sum, r) => sum + r.requests.average, 0), cpuPerRequest: cpu / count, backendCpuPerRequest: database ? backends / count : undefined };
  };
  // --warm seconds of load, then more until the process has served --warm-requests
  const warmUp = async (ports, path, sessions) => {
    const { count } = await load(ports, path, warmSeconds, sessions);
    if (count < warmRequests) await load(ports, path, { amount: warmRequests - count }, sessions);
  };

  const cases = [
    // a side is a launcher (a fresh process per round) or fixed ports (the PgBouncer row below)
    { id: 'health', name: 'GET /health', path: '/health', sessions: [], sides: { app: launch.app, bare: launch.bare, floor: launch.floor, ...(compare ? { compare: launch.compare } : {}) } },
    {
      id: 'api-me', name: `GET /api/me, ${cookies.length} sessions`, path: '/api/me', sessions: cookies,
      sides: { app: launch.app, bare: launch.bare, ...meLaunch, ...(compare ? { compare: launch.compare } : {}) },
    },
  ].filter((c) => !only || c.id === only);
  let pgbouncer = 'pgbouncer not installed';
  const binary = usePglite || only ? null : pgbouncerBinary();
  if (binary) {
    const via = await startPgbouncer(binary, appUrl.toString(), [['xms_app', 'bench'], ['postgres', '']]);
    const [p1, p2] = [await freePort(), await freePort()];
    await startApp(p1, { ...appEnv, DATABASE_URL: via });
    await startApp(p2, { ...appEnv, DATABASE_URL: via });
    pgbouncer = sh(binary, ['--version']).split('\n')[0];
    cases.push({
      id: 'api-me-pgbouncer',
      name: `GET /api/me via PgBouncer`,
      path: '/api/me',
      sessions: cookies,
      sides: { direct: [appPort], pgbouncer1: [p1], pgbouncer2: [p1, p2] },
    });
  }
  const results = {};
  const cpu = {};
  const paired = {};
  const backendCpu = {};
  // one measurement of a side: on its fixed ports (warmed up before the rounds), or on a fresh
  // process, warmed up for --warm seconds and stopped afterwards
  const measure = async (side, c) => {
    if (Array.isArray(side)) return load(side, c.path, seconds, c.sessions);
    const server = await side();
    try {
      await warmUp([server.port], c.path, c.sessions);
      return await load([server.port], c.path, seconds, c.sessions);
    } finally {
      await server.stop();
    }
  };
  for (const c of cases) {
    const sides = Object.entries(c.sides);
    for (const [, ports] of sides) if (Array.isArray(ports)) await warmUp(ports, c.path, c.sessions);
    const samples = Object.fromEntries(sides.map(([side]) => [side, []]));
    for (let i = 0; i < rounds; i++) {
      // alternate which side goes first
      for (const [side, spec] of i % 2 ? [...sides].reverse() : sides) samples[side].push(await measure(spec, c));
    }
    results[c.id] = { name: c.name, ...Object.fromEntries(Object.entries(samples).map(([side, v]) => [side, median(v.map((s) => s.rps))])) };
    cpu[c.id] = Object.fromEntries(Object.entries(samples).map(([side, v]) => [side, median(v.map((s) => s.cpuPerRequest))]));
    // each side against bare, round by round: the sides of a round run back to back, so a slower or
    // faster stretch of the shared host moves both, and the median of these ratios is steadier
    // than the ratio of the medians (rounds drift by up to 2x in CPU per request here)
    if (samples.bare) {
      const against = (key, of) => Object.fromEntries(Object.entries(samples).filter(([side]) => side !== 'bare').map(([side, v]) => [side, median(v.map((s, i) => of(s[key], samples.bare[i][key])))]));
      paired[c.id] = { rps: against('rps', (side, bare) => side / bare), cpu: against('cpuPerRequest', (side, bare) => bare / side) };
    }
    if (database) backendCpu[c.id] = Object.fromEntries(Object.entries(samples).map(([side, v]) => [side, median(v.map((s) => s.backendCpuPerRequest))]));
  }

  // a CPU profile of the app under GET /api/me (a separate instance: profiling slows it down); the
  // preload makes SIGTERM a normal exit, so that node writes the profile
  let top = [];
  if (!only) {
    const profDir = mkdtempSync(join(tmpdir(), 'xms-bench-prof-'));
    onCleanup(() => rmSync(profDir, { recursive: true, force: true }));
    writeFileSync(join(profDir, 'exit-on-term.cjs'), "process.on('SIGTERM', () => process.exit(0));\n");
    const profPort = await freePort();
    const profiled = await startServer(
      'the app (profiled)', app, process.execPath,
      ['--cpu-prof', '--cpu-prof-dir', profDir, '--require', join(profDir, 'exit-on-term.cjs'), SERVER],
      { ...appEnv, PORT: String(profPort) }, profPort,
    );
    pids.set(profPort, profiled.child.pid);
    // warmed up like the measured processes: the profile shows the settled server, not the compiler
    await warmUp([profPort], '/api/me', cookies);
    const loadStarted = now();
    await load([profPort], '/api/me', seconds, cookies);
    const loadEnded = now();
    await profiled.stop();
    const stopMs = now() - loadEnded;
    // CPU.<date>.<time>.<pid>.<thread id>.<n>.cpuprofile: thread 0 is the main thread
    const profile = readdirSync(profDir).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    top = profile ? topOfProfile(join(profDir, profile), { from: stopMs * 1000, to: (stopMs + loadEnded - loadStarted) * 1000 }) : [];
  }

  console.log(`\nHTTP on 127.0.0.1 (${usePglite ? 'PGlite' : 'PostgreSQL'}), autocannon ${connections} connections, ${rounds} x ${seconds} s; median req/s`);
  for (const r of Object.values(results)) {
    const { name, ...sides } = r;
    const [first, second] = Object.values(sides);
    console.log(`  ${name.padEnd(34)} ${Object.entries(sides).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}  (${ratio(first, second)})`);
  }
  for (const [id, sides] of Object.entries(cpu)) {
    console.log(`  ${`${results[id].name}, CPU µs/request`.padEnd(34)} ${Object.entries(sides).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  }
  for (const [id, sides] of Object.entries(backendCpu)) {
    console.log(`  ${`${results[id].name}, backends' CPU µs/request`.padEnd(34)} ${Object.entries(sides).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  }
  for (const [id, { rps, cpu: byCpu }] of Object.entries(paired)) {
    const show = (of) => Object.entries(of).map(([k, v]) => `${k} ${v.toFixed(2)}x`).join(', ');
    console.log(`  ${`${results[id].name}, against bare by round`.padEnd(34)} req/s ${show(rps)}; CPU ${show(byCpu)}`);
  }
  const cpuOf = (id, of = cpu) => Object.fromEntries(Object.entries(of[id]).map(([side, v]) => [side, Number(v.toFixed(1))]));
  const out = {};
  if (results.health) {
    out.health = {
      unit: 'req/s', value: results.health.app, baseline: results.health.bare, floor: results.health.floor,
      floorHeaders: Object.keys(floorHeaders).length, cpuUsPerRequest: cpuOf('health'), paired: paired.health, connections, seconds, rounds,
    };
  }
  if (results['api-me']) {
    const me = results['api-me'];
    out['api-me'] = {
      unit: 'req/s', value: me.app, baseline: me.bare, floor: me.floor, appSql: me.appSql,
      cpuUsPerRequest: cpuOf('api-me'), ...(backendCpu['api-me'] ? { backendCpuUsPerRequest: cpuOf('api-me', backendCpu) } : {}), paired: paired['api-me'],
      connections, seconds, rounds, profile: top,
    };
  }
  if (only) return emit(out);
  const pb = results['api-me-pgbouncer'];
  for (const n of [1, 2]) {
    out[`api-me-pgbouncer-${n}`] = pb
      ? { unit: 'req/s', value: pb[`pgbouncer${n}`], baseline: pb.direct, pgbouncer, connections, seconds, rounds }
      : { notMeasured: pgbouncer };
  }
  emit(out);
});
