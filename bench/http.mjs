// Request throughput of a generated app's server as a ratio to a bare Fastify server with the same
// routes, both on 127.0.0.1 in this run:
//   npm run bench:http [-- --quick] [-- --seconds 5 --rounds 3 --connections 10] [-- --pglite]
// The app (minimal preset, installed from this checkout, run from source with tsx) runs in
// production mode on PostgreSQL (DATABASE_URL's server, else a throw-away cluster), connected as
// xms_app; with --pglite both servers use PGlite instead (the app in test mode: production refuses
// PGlite). The bare server is Fastify from the app's node_modules, no hooks:
//   GET /health   the same JSON; the app adds its security headers, CSRF and API-limit hooks
//   GET /api/me   one `begin; select 1; commit` per request on the same database and pool size;
//                 the app resumes the session (update, as xms_auth), reads the user under RLS
//                 (set local role, set_config) and the e-mail (as xms_auth): 3 transactions;
//                 2 sessions per connection, and all connections on 1 session (its row update
//                 serializes them)
// Load: autocannon, --connections connections, --seconds per measurement, --rounds rounds
// alternating bare/app, plus a 1 s warm-up of each; req/s are the medians of the rounds.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { flag, freshDatabase, median, connect, quick, ratio, run, scaffold, sh, onCleanup } from './_shared.mjs';

const seconds = flag('seconds', quick ? 2 : 5);
const rounds = flag('rounds', quick ? 1 : 3);
const connections = flag('connections', 10);
const usePglite = process.argv.includes('--pglite');
const ORIGIN = 'https://bench.example.com';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts `node file` in cwd with env and waits until GET /health answers 200. */
async function startServer(name, cwd, args, env, port) {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  onCleanup(
    () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  );
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.status === 200) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not answer on 127.0.0.1:${port} within 60 s:\n${output}`);
}

const BARE_SERVER = `// bench/http.mjs: bare Fastify, same routes, no hooks
import Fastify from 'fastify';
const app = Fastify({ logger: false });
let tx;
if (process.env.DATABASE_URL) {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_MAX ?? 10) });
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
app.get('/health', async () => ({ status: 'ok' }));
app.get('/api/me', async () => ({ user: { one: await tx() } }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
`;

run(async () => {
  console.log(`scaffolding and installing the minimal preset ...`);
  const app = scaffold(['--preset', 'minimal', '--yes', '--no-git', '--install']);
  sh('npm', ['install', '--no-save', '--no-audit', '--no-fund', 'autocannon@9'], { cwd: app, timeout: 300_000 });
  const autocannon = createRequire(join(app, 'package.json'))('autocannon');

  const appPort = await freePort();
  const barePort = await freePort();
  const common = { HOST: '127.0.0.1', API_LIMIT_PER_MINUTE: '1000000', AUTH_LIMIT_PER_IP: '100000', AUTH_LIMIT_PER_ACCOUNT: '1000' };
  let appEnv;
  let bareEnv;
  if (usePglite) {
    sh('npm', ['run', 'db:migrate'], { cwd: app, env: { ...process.env, DATABASE_URL: '', PGLITE_DATA_DIR: '.data/pglite' } });
    // test mode: production refuses PGlite; the cookie is then `session` over http
    appEnv = { ...common, NODE_ENV: 'test', DATABASE_URL: '', PGLITE_DATA_DIR: '.data/pglite', APP_ORIGIN: ORIGIN, COOKIE_SECURE: 'false' };
    bareEnv = { DATABASE_URL: '' };
  } else {
    const { url } = await freshDatabase();
    sh('npm', ['run', 'db:migrate'], { cwd: app, env: { ...process.env, DATABASE_URL: url, MIGRATION_DATABASE_URL: url } });
    const owner = await connect(url);
    await owner.query(`alter role xms_app login password 'bench'`);
    await owner.end();
    const appUrl = new URL(url);
    appUrl.username = 'xms_app';
    appUrl.password = 'bench';
    appEnv = { ...common, NODE_ENV: 'production', DATABASE_URL: appUrl.toString(), APP_ORIGIN: ORIGIN };
    bareEnv = { DATABASE_URL: appUrl.toString() };
  }
  writeFileSync(join(app, 'bare-server.mjs'), BARE_SERVER);
  // from source with tsx, as `npm run dev` does (compiled once at load: the steady state is the same);
  // the built server (`npm run build && npm start`) cannot find data/common-passwords.txt at sign-up
  await startServer('the app', app, ['--import', 'tsx', 'src/server/index.ts'], { ...appEnv, PORT: String(appPort) }, appPort);
  await startServer('bare Fastify', app, ['bare-server.mjs'], { ...bareEnv, PORT: String(barePort) }, barePort);

  // users of the app, logged in through its API (the cookie is the session): 2 per connection, so that
  // concurrent requests rarely share a session (each request updates its session's row: requests of
  // one session wait for each other, measured apart)
  const post = (path, body) =>
    fetch(`http://127.0.0.1:${appPort}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN }, body: JSON.stringify(body) });
  const cookies = [];
  for (let i = 0; i < connections * 2; i++) {
    const email = `bench-${i}-${randomBytes(4).toString('hex')}@example.com`;
    const password = randomBytes(18).toString('base64url');
    const signup = await post('/api/auth/signup', { email, password, tenantName: `Bench ${i}` });
    if (signup.status !== 202) throw new Error(`sign-up answered ${signup.status}: ${await signup.text()}`);
    const login = await post('/api/auth/login', { email, password });
    if (login.status !== 200) throw new Error(`log-in answered ${login.status}: ${await login.text()}`);
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const me = await fetch(`http://127.0.0.1:${appPort}/api/me`, { headers: { cookie } });
    if (me.status !== 200) throw new Error(`GET /api/me answered ${me.status}: ${await me.text()}`);
    if ((await me.json()).user?.email !== email) throw new Error('GET /api/me answered another user');
    cookies.push(cookie);
  }

  const load = (port, path, duration, sessions = []) =>
    new Promise((resolve, reject) => {
      let next = 0;
      const requests = [
        { method: 'GET', path, setupRequest: (req) => (sessions.length ? { ...req, headers: { ...req.headers, cookie: sessions[next++ % sessions.length] } } : req) },
      ];
      autocannon({ url: `http://127.0.0.1:${port}`, connections, duration, requests }, (err, result) => {
        if (err) return reject(err);
        if (result.errors || result.non2xx || result.timeouts) {
          return reject(new Error(`${path} on ${port}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`));
        }
        resolve(result.requests.average);
      });
    });

  const cases = [
    { name: 'GET /health', path: '/health', sessions: [] },
    { name: `GET /api/me, ${cookies.length} sessions`, path: '/api/me', sessions: cookies },
    { name: 'GET /api/me, 1 session', path: '/api/me', sessions: cookies.slice(0, 1) },
  ];
  const results = [];
  for (const c of cases) {
    await load(barePort, c.path, 1, c.sessions);
    await load(appPort, c.path, 1, c.sessions);
    const bare = [];
    const secured = [];
    for (let i = 0; i < rounds; i++) {
      bare.push(await load(barePort, c.path, seconds, c.sessions));
      secured.push(await load(appPort, c.path, seconds, c.sessions));
    }
    results.push({ name: c.name, bare: median(bare), secured: median(secured) });
  }

  console.log(
    `\nHTTP on 127.0.0.1 (${usePglite ? 'PGlite' : 'PostgreSQL'}), autocannon ${connections} connections, ${rounds} x ${seconds} s; median req/s; ratio = app / bare Fastify`,
  );
  console.log(`  ${'route'.padEnd(28)} ${'app'.padStart(8)} ${'bare'.padStart(8)}  ratio`);
  for (const r of results) {
    console.log(`  ${r.name.padEnd(28)} ${r.secured.toFixed(0).padStart(8)} ${r.bare.toFixed(0).padStart(8)}  ${ratio(r.secured, r.bare)}`);
  }
});
