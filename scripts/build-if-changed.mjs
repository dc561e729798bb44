#!/usr/bin/env node
// `npm test` builds through this script: `npm ci` has just built (its prepare script), and building
// again with nothing changed costs a quarter of a minute before the first test starts. The last step
// of `npm run build` records the digest of its inputs (`--record`); here a build runs only when the
// inputs differ from that record (or there is none).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inputsDigest } from './inputs-digest.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', 'build-inputs.sha256');
// everything `npm run build` reads: the sources, the build scripts, and the installed packages
// (npm ci rewrites package-lock.json's tree into node_modules)
const digest = () =>
  inputsDigest(root, {
    dirs: ['lib', 'generators', 'bin', 'templates', 'scripts'],
    files: ['package.json', 'package-lock.json', 'tsconfig.json', 'node_modules/.package-lock.json'],
  });

if (process.argv.includes('--record')) {
  writeFileSync(stamp, digest());
} else if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest()) {
  console.log('build: up to date (dist/build-inputs.sha256)');
} else {
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
