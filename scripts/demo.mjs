// `npm run demo`: scaffolds the "full" preset from this checkout into .tmp/demo-app (never from the
// registry), installs it and runs its `npm run dev` in the foreground (it migrates the embedded
// database itself). PORT chooses the port (default 3000). Ctrl-C, or SIGTERM to this process, stops
// the app's server too.
import { spawn } from 'node:child_process';
import { rmSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const appDir = join(root, '.tmp', 'demo-app');
const port = process.env.PORT ?? '3000';

let current;
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopping = true;
    if (current && current.exitCode === null) current.kill(signal);
    else process.exit(130);
  });
}

/** Runs a command; `filter` may drop lines of its standard output. Resolves with its exit code. */
function run(command, args, { cwd = root, env = {}, filter } = {}) {
  const child = spawn(command, args, { cwd, stdio: ['inherit', filter ? 'pipe' : 'inherit', 'inherit'], env: { ...process.env, ...env } });
  current = child;
  if (filter) createInterface({ input: child.stdout }).on('line', (line) => filter(line) && console.log(line));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

rmSync(appDir, { recursive: true, force: true });
mkdirSync(dirname(appDir), { recursive: true });
// the CLI's closing "Next steps" are what this script does next: they are not printed
let nextSteps = false;
const created = await run(
  process.execPath,
  [join(root, 'bin/create-xms-app.js'), appDir, '--preset', 'full', '--db', 'pglite', '--package-manager', 'npm', '--install', '--no-git'],
  { env: { CREATE_XMS_APP_SPEC: `file:${root}` }, filter: (line) => !(nextSteps ||= /Next steps:/.test(line)) },
);
if (created !== 0 || stopping) process.exit(created || 130);

console.log(`\nStarting the demo app (PORT=${port}; Ctrl-C stops it)\n`);
const code = await run('npm', ['run', 'dev'], { cwd: appDir, env: { PORT: port } });
process.exit(stopping ? 0 : code);
