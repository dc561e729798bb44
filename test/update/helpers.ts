/**
 * Helpers of the update suite: an earlier commit of this repository, built with the current
 * node_modules and packed (cached per commit under node_modules/.cache, so a rerun skips the build),
 * and the app dependencies installed once per package.json (same cache).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { sh, tail } from '../helpers/e2e.js';

export const CACHE = join(REPO_ROOT, 'node_modules', '.cache', 'xms-update-test');

/** `git archive` of `commit`, built with this checkout's node_modules, `npm pack`ed; returns the tarball path. */
export function packCommit(commit: string): string {
  const tarball = join(CACHE, `create-xms-app-${commit}.tgz`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), `xms-commit-${commit}-`));
  try {
    const archive = sh('sh', ['-c', `git -C "${REPO_ROOT}" archive ${commit} | tar -x -C "${work}"`], REPO_ROOT);
    if (archive.status !== 0) throw new Error(`git archive ${commit} failed:\n${tail(archive.output)}`);
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
    const build = sh('npm', ['run', 'build', '--silent'], work);
    if (build.status !== 0) throw new Error(`building ${commit} failed:\n${tail(build.output)}`);
    rmSync(join(work, 'node_modules'));
    const pack = sh('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], work);
    if (pack.status !== 0) throw new Error(`npm pack of ${commit} failed:\n${tail(pack.output)}`);
    const packed = readdirSync(work).find((name) => name.endsWith('.tgz'))!;
    renameSync(join(work, packed), `${tarball}.tmp`);
    renameSync(`${tarball}.tmp`, tarball);
    return tarball;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * node_modules for an app's package.json (create-xms-app left out: the suite runs this checkout's
 * bin), installed once per set of dependencies; returns the folder to symlink as the app's node_modules.
 */
export function appDependencies(appDir: string): string {
  const manifest = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8'));
  delete manifest.dependencies?.['create-xms-app'];
  delete manifest.devDependencies?.['create-xms-app'];
  const deps = { name: 'xms-update-deps', private: true, dependencies: manifest.dependencies, devDependencies: manifest.devDependencies };
  const key = createHash('sha256').update(JSON.stringify(deps)).digest('hex').slice(0, 16);
  const dir = join(CACHE, `deps-${key}`);
  if (existsSync(join(dir, 'node_modules', '.installed'))) return join(dir, 'node_modules');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(deps, null, 2));
  const install = sh('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts=false'], dir);
  if (install.status !== 0) throw new Error(`npm install failed:\n${tail(install.output)}`);
  writeFileSync(join(dir, 'node_modules', '.installed'), '');
  return join(dir, 'node_modules');
}

/** The packed commit unpacked under the cache (its dependencies resolve from this checkout's node_modules). */
export function unpackCommit(commit: string): string {
  const tarball = packCommit(commit);
  const dir = join(CACHE, `unpacked-${commit}`);
  if (existsSync(join(dir, 'package', 'package.json'))) return join(dir, 'package');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const untar = sh('tar', ['-xzf', tarball, '-C', dir], dir);
  if (untar.status !== 0) throw new Error(`tar failed:\n${tail(untar.output)}`);
  return join(dir, 'package');
}
