// Scaffold time against other generators, all measured in this run on this machine:
//   npm run bench:scaffold [-- --quick] [-- --runs 11]
//   create-xms-app   --preset default --yes --no-install --no-git (this checkout's build), run as
//                    an install from the registry runs: the app's dependency on create-xms-app is
//                    the range the registry install writes (CREATE_XMS_APP_SPEC=^<version>). Run from
//                    a checkout, the CLI otherwise hashes the checkout to depend on it as a packed local
//                    tarball (lib/cli/self-spec.ts), which only developers of create-xms-app pay;
//                    that time is measured too, as "create-xms-app (checkout)", and reported beside
//   create-vite      --template react-ts --no-interactive --no-immediate (no install)
//   create-t3-app    --CI --noGit --noInstall (its defaults)
//   node -e 0        for scale
// create-vite and create-t3-app are installed from npm into a temp folder once (or --tools <dir>)
// and their binaries run directly with node; every run writes a new folder. Interleaved (the order
// rotates each run), medians of --runs after one warm-up run each.
// Rows of `npm run bench`: scaffold (vs create-vite), scaffold-t3 (vs create-t3-app).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emit, flag, median, now, quick, root, run, tempDir, toolsDir } from './_shared.mjs';

const runs = flag('runs', quick ? 3 : 11);

run(async () => {
  const tools = toolsDir(['create-vite@9', 'create-t3-app@7']);
  const bin = (name, path) => join(tools, 'node_modules', name, path);
  const version = (name) => JSON.parse(readFileSync(join(tools, 'node_modules', name, 'package.json'), 'utf8')).version;
  const work = tempDir('xms-bench-scaffold-');

  const ownVersion = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  const time = (args, env = {}) => {
    const started = now();
    const r = spawnSync(process.execPath, args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: { ...process.env, CI: '1', ...env }, timeout: 300_000 });
    const ms = now() - started;
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    return ms;
  };
  const cases = {
    'node -e 0': () => time(['-e', '0']),
    'create-xms-app': (i) => time([join(root, 'bin/create-xms-app.js'), `xms-${i}`, '--preset', 'default', '--yes', '--no-install', '--no-git'], { CREATE_XMS_APP_SPEC: `^${ownVersion}` }),
    // the checkout's own way (an undefined variable is left out of the child's environment)
    'create-xms-app (checkout)': (i) => time([join(root, 'bin/create-xms-app.js'), `xms-checkout-${i}`, '--preset', 'default', '--yes', '--no-install', '--no-git'], { CREATE_XMS_APP_SPEC: undefined }),
    'create-vite': (i) => time([bin('create-vite', 'index.js'), `vite-${i}`, '--template', 'react-ts', '--no-interactive', '--no-immediate']),
    'create-t3-app': (i) => time([bin('create-t3-app', 'dist/index.js'), `t3-${i}`, '--CI', '--noGit', '--noInstall']),
  };
  const names = Object.keys(cases);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = -1; i < runs; i++) {
    const order = names.map((_, k) => names[(k + Math.max(i, 0)) % names.length]);
    for (const name of order) {
      const ms = cases[name](`${i + 1}`);
      if (i >= 0) samples[name].push(ms);
    }
  }
  const m = Object.fromEntries(names.map((n) => [n, median(samples[n])]));
  console.log(`median of ${runs} runs (ratio to create-xms-app):`);
  for (const name of names) console.log(`  ${name.padEnd(26)} ${m[name].toFixed(0).padStart(6)} ms  ${(m['create-xms-app'] / m[name]).toFixed(2)}x`);
  const versions = { 'create-vite': version('create-vite'), 'create-t3-app': version('create-t3-app') };
  emit({
    scaffold: { unit: 'ms', value: m['create-xms-app'], baseline: m['create-vite'], nodeMs: m['node -e 0'], checkoutMs: m['create-xms-app (checkout)'], runs, versions },
    'scaffold-t3': { unit: 'ms', value: m['create-xms-app'], baseline: m['create-t3-app'], nodeMs: m['node -e 0'], checkoutMs: m['create-xms-app (checkout)'], runs, versions },
  });
});
