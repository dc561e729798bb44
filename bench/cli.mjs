// The app's own commands, whole processes, in an app of the default preset on PGlite:
//   node bench/cli.mjs [-- --quick] [-- --runs 11 --dev-runs 3] [-- --app <installed app>]
//   add-table   `node_modules/.bin/xms add table --name ... --columns ...` against `node -e 0`
//               (interleaved, a new table name each run)
//   check       `node_modules/.bin/xms check` (PGlite with the app's migrations): wall time and the
//               peak RSS of its Node processes (a preloaded module reports maxRSS at exit). The row is
//               a check after a source edit (a comment appended to src/server/app.ts: the server checks
//               run again, the database findings, keyed by the migrations and permissions.yml, come
//               from the findings cache); reported beside it: a check with the findings cache off (what
//               a migration or permissions.yml edit costs) and one of the unchanged app (cached)
//   dev-cold    `npm run dev` to the first 200 of GET /health in a freshly scaffolded app (no PGlite
//               data, no migrated-folder snapshot or compile stamp in node_modules/.cache/xms-dev,
//               an empty temp folder, so tsx's cache is cold): the first start after an install; the
//               package's migrated folder for the preset (dist/pglite-snapshots) is there, as in any install
//   dev-warm    the second start of the same app
// --only dev: the dev-cold and dev-warm rows alone (no add-table, no check).
// Each app is scaffolded from this checkout (--no-install) with node_modules linked to one installed
// app (--app, else installed once now). DATABASE_URL is removed from their environment.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emit, flag, freePort, installedApp, median, now, option, quick, root, run, sh, startServer, tempDir } from './_shared.mjs';

const runs = flag('runs', quick ? 3 : 11);
const devRuns = flag('dev-runs', quick ? 1 : 3);
const only = option('only');
if (only !== undefined && only !== 'dev') {
  console.error(`--only: "${only}" is not a row this bench can run alone (dev)`);
  process.exit(2);
}

// reports each Node process's peak RSS (KiB) to $XMS_BENCH_RSS_FILE at exit
const RSS_PRELOAD = `const fs = require('node:fs');
process.on('exit', () => { try { fs.appendFileSync(process.env.XMS_BENCH_RSS_FILE, process.resourceUsage().maxRSS + '\\n'); } catch {} });
`;

run(async () => {
  const installed = installedApp('admin');
  const work = tempDir('xms-bench-cli-');
  const preload = join(work, 'rss-preload.cjs');
  writeFileSync(preload, RSS_PRELOAD);
  let apps = 0;
  /** A new default-preset app, node_modules linked to the installed app's. */
  const freshApp = () => {
    const dir = join(work, `app-${apps++}`);
    sh(process.execPath, [join(root, 'bin/create-xms-app.js'), dir, '--preset', 'default', '--yes', '--no-install', '--no-git'], {
      env: { ...process.env, CI: '1', CREATE_XMS_APP_SPEC: `file:${root}` },
    });
    symlinkSync(join(installed, 'node_modules'), join(dir, 'node_modules'), 'dir');
    return dir;
  };
  const env = (extra = {}) => {
    const e = { ...process.env, CI: '1', ...extra };
    delete e.DATABASE_URL;
    return e;
  };
  const time = (cmd, args, cwd, extra) => {
    const started = now();
    const r = spawnSync(cmd, args, { cwd, env: env(extra), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    const ms = now() - started;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    return ms;
  };

  // --- xms add table, against node -e 0
  const app = only ? undefined : freshApp();
  const xms = app && join(app, 'node_modules/.bin/xms');
  const add = [];
  const node = [];
  for (let i = -1; i < (only ? -1 : runs); i++) {
    const sides = [
      () => add.push(time(xms, ['add', 'table', '--name', `bench_items_${i + 1}`, '--columns', 'label:text,qty:int'], app)),
      () => node.push(time(process.execPath, ['-e', '0'], app)),
    ];
    for (const side of i % 2 ? sides.reverse() : sides) side();
    if (i < 0) add.pop(), node.pop(); // warm-up
  }

  // --- xms check on a fresh default app: wall time, peak RSS. The row is a check after a source edit
  // (the database findings cached, the server checks run); beside it a check that finds no cached
  // answer (XMS_CHECK_NO_FINDINGS_CACHE=1: a migration or permissions.yml edit) and the same app
  // checked again with nothing changed (its findings cache answers).
  const checkApp = only ? '' : freshApp();
  const checkOnce = (label, env) => {
    const rssFile = join(work, `rss-${label}.txt`);
    writeFileSync(rssFile, '');
    const ms = time(join(checkApp, 'node_modules/.bin/xms'), ['check'], checkApp, { NODE_OPTIONS: `--require ${preload}`, XMS_BENCH_RSS_FILE: rssFile, ...env });
    const kib = readFileSync(rssFile, 'utf8').trim().split('\n').filter(Boolean).map(Number);
    if (!kib.length) throw new Error('xms check reported no peak RSS');
    return { ms, rss: Math.max(...kib) / 1024 };
  };
  const routeFile = join(checkApp, 'src', 'server', 'app.ts');
  let edits = 0;
  const editSource = () => appendFileSync(routeFile, `// bench edit ${edits++}\n`);
  if (!only) checkOnce('prime', {}); // the database findings of these migrations, as after any earlier check
  const checkMs = [];
  const checkRss = [];
  const fullMs = [];
  const fullRss = [];
  const cachedMs = [];
  const cachedRss = [];
  for (let i = quick ? 0 : -1; i < (only ? -1 : Math.max(1, Math.floor(runs / 2))); i++) { // a warm-up run unless --quick
    const sides = [
      () => {
        editSource();
        const edited = checkOnce(`edit-${i + 1}`, {});
        const cached = checkOnce(`cached-${i + 1}`, {});
        if (i >= 0) checkMs.push(edited.ms), checkRss.push(edited.rss), cachedMs.push(cached.ms), cachedRss.push(cached.rss);
      },
      () => {
        const full = checkOnce(`full-${i + 1}`, { XMS_CHECK_NO_FINDINGS_CACHE: '1' });
        if (i >= 0) fullMs.push(full.ms), fullRss.push(full.rss);
      },
    ];
    for (const side of i % 2 ? sides.reverse() : sides) side();
  }

  // --- npm run dev to the first 200: cold (fresh app, empty temp folder), then warm (second start)
  const cold = [];
  const warm = [];
  for (let i = 0; i < devRuns; i++) {
    const devApp = freshApp();
    const tmp = join(work, `tmp-${i}`);
    mkdirSync(tmp);
    // the apps share one node_modules: a cold start must not find the previous app's dev cache
    rmSync(join(devApp, 'node_modules', '.cache', 'xms-dev'), { recursive: true, force: true });
    for (const into of [cold, warm]) {
      const port = await freePort();
      const server = await startServer('npm run dev', devApp, 'npm', ['run', 'dev'], { DATABASE_URL: undefined, PORT: String(port), HOST: '127.0.0.1', TMPDIR: tmp }, port, {
        timeoutMs: 180_000,
      });
      into.push(server.ms);
      await server.stop();
    }
  }

  if (only) {
    console.log(`\nmedians: npm run dev to 200: cold ${median(cold).toFixed(0)} ms, warm ${median(warm).toFixed(0)} ms`);
    emit({ 'dev-warm': { unit: 'ms', value: median(warm), runs: devRuns }, 'dev-cold': { unit: 'ms', value: median(cold), runs: devRuns } });
    return;
  }
  const m = {
    add: median(add), node: median(node), check: median(checkMs), rss: Math.max(...checkRss),
    full: median(fullMs), fullRss: Math.max(...fullRss),
    cached: median(cachedMs), cachedRss: Math.max(...cachedRss), cold: median(cold), warm: median(warm),
  };
  console.log(`\nmedians: xms add table ${m.add.toFixed(0)} ms, node -e 0 ${m.node.toFixed(0)} ms (${(m.add / m.node).toFixed(2)}x); ` +
    `xms check after a source edit ${m.check.toFixed(0)} ms, peak RSS ${m.rss.toFixed(0)} MiB (findings cache off: ${m.full.toFixed(0)} ms, ${m.fullRss.toFixed(0)} MiB; unchanged app, cached: ${m.cached.toFixed(0)} ms, ${m.cachedRss.toFixed(0)} MiB); npm run dev to 200: cold ${m.cold.toFixed(0)} ms, warm ${m.warm.toFixed(0)} ms`);
  emit({
    'add-table': { unit: 'ms', value: m.add, baseline: m.node, runs },
    check: {
      unit: 'ms', value: m.check, peakRssMiB: m.rss, uncachedMs: m.full, uncachedPeakRssMiB: m.fullRss,
      cachedMs: m.cached, cachedPeakRssMiB: m.cachedRss, runs: checkMs.length,
    },
    'dev-warm': { unit: 'ms', value: m.warm, runs: devRuns },
    'dev-cold': { unit: 'ms', value: m.cold, runs: devRuns },
  });
});
