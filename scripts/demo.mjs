// `npm run demo`: scaffolds the "full" preset from this checkout into .tmp/demo-app (never from the
// registry), installs it, migrates the embedded database and starts the server in the foreground.
import { spawnSync, spawn } from 'node:child_process';
import { rmSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const appDir = join(root, '.tmp', 'demo-app');
const port = process.env.PORT ?? '3000';

function run(command, args, cwd, env = {}) {
  console.log(`\n$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

rmSync(appDir, { recursive: true, force: true });
mkdirSync(dirname(appDir), { recursive: true });
run(process.execPath, [join(root, 'bin/create-xms-app.js'), appDir, '--preset', 'full', '--db', 'pglite', '--package-manager', 'npm', '--install', '--no-git'], root, {
  CREATE_XMS_APP_SPEC: `file:${root}`,
});
run('npm', ['run', 'db:migrate'], appDir);
console.log(`\nStarting the demo app on http://127.0.0.1:${port} (Ctrl-C to stop)\n`);
const server = spawn('npm', ['run', 'dev'], { cwd: appDir, stdio: 'inherit', env: { ...process.env, PORT: port } });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code) => process.exit(code ?? 0));
