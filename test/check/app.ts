import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

/** Scaffolds an app of a preset from this checkout (no install, no git); returns its folder and a cleanup. */
export function scaffold(preset: 'minimal' | 'default' | 'full'): { appDir: string; cleanup: () => void } {
  if (!existsSync(join(REPO_ROOT, 'dist', 'lib', 'cli', 'create.js'))) {
    execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'ignore' });
  }
  const root = mkdtempSync(join(tmpdir(), `xms-check-${preset}-`));
  const appDir = join(root, 'app');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'create-xms-app.js'), appDir, '--yes', '--preset', preset, '--no-git', '--no-install'], {
    env: { ...process.env, CI: '1', CREATE_XMS_APP_SPEC: `file:${REPO_ROOT}` },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`scaffolding the ${preset} preset failed: ${r.stderr}`);
  return { appDir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
