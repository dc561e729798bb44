// Scaffold cost as a ratio to starting Node itself, both measured in this run on this machine:
//   npm run bench:scaffold [-- --runs 15]
// Reports medians; the ratio is what holds across machines, the milliseconds are for context.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 11;

function time(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: 'ignore', env: { ...process.env, CI: '1' } });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'xms-bench-'));
try {
  const cases = {
    'node -e 0': () => time(['-e', '0']),
    'create-xms-app --help': () => time([join(root, 'bin/create-xms-app.js'), '--help']),
    'create-xms-app --preset full --yes --no-install --no-git': (i) =>
      time([join(root, 'bin/create-xms-app.js'), join(work, `full-${i}`), '--preset', 'full', '--yes', '--no-install', '--no-git']),
  };
  const results = {};
  for (const [name, run] of Object.entries(cases)) {
    run(-1); // warm the file system cache
    results[name] = median(Array.from({ length: runs }, (_, i) => run(i)));
  }
  const baseline = results['node -e 0'];
  console.log(`median of ${runs} runs (ratio to node -e 0 in this run):`);
  for (const [name, ms] of Object.entries(results)) {
    console.log(`  ${name.padEnd(58)} ${ms.toFixed(0).padStart(5)} ms  ${(ms / baseline).toFixed(2)}x`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
