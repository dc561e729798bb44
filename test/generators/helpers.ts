/**
 * Helpers of the generator suites: a scaffolded app in a temporary folder (rendered from the TS
 * sources, no install), a fingerprint of its whole tree (to prove "nothing written"), a generator
 * run as `xms add` runs it, and snapshot files kept under test/generators/__snapshots__/
 * (`UPDATE_GENERATOR_SNAPSHOTS=1` rewrites them).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as assert from 'uvu/assert';
import { listTree, writeTree } from '../../lib/engine/index.js';
import { renderApp, type Feature } from '../../lib/app/index.js';
import { prepareApp } from '../../generators/scaffold.js';
import { GENERATORS } from '../../generators/registry.js';
import { resolveGeneratorAnswers, runGenerator } from '../../lib/cli/add.js';
import type { FeatureGenerator } from '../../generators/types.js';

export const SNAPSHOTS = resolve(import.meta.dirname, '__snapshots__');

export interface TempApp {
  dir: string;
  cleanup(): void;
}

/** A freshly scaffolded app (files only, matrix compiled) with the given features. */
export async function scaffold(features: Feature[] = ['admin']): Promise<TempApp> {
  const root = mkdtempSync(join(tmpdir(), 'xms-gen-'));
  const dir = join(root, 'app');
  const files = renderApp({ name: 'gen-test-app', features, db: 'pglite', packageManager: 'npm', install: false, git: false });
  writeTree(dir, files);
  await prepareApp(dir);
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** path -> sha256 of every file of the tree. */
export function fingerprint(dir: string): Map<string, string> {
  return new Map(listTree(dir).map((path) => [path, createHash('sha256').update(readFileSync(join(dir, path))).digest('hex')]));
}

export function assertUnchanged(before: Map<string, string>, dir: string, what: string): void {
  const after = fingerprint(dir);
  const changed = [...new Set([...before.keys(), ...after.keys()])].filter((p) => before.get(p) !== after.get(p));
  assert.equal(changed, [], `${what}: files changed`);
}

export async function load(name: string): Promise<FeatureGenerator> {
  return GENERATORS[name]!();
}

/** Runs a generator from `xms add` arguments (flags, no terminal), returns its report lines. */
export async function add(dir: string, name: string, argv: string[]): Promise<string[]> {
  const generator = await load(name);
  const { answers, dryRun } = await resolveGeneratorAnswers(generator, argv, false);
  return runGenerator(generator, dir, answers, dryRun);
}

/** Expects `add` to fail with a one-line error matching `pattern`, leaving the tree as it was. */
export async function assertRefused(dir: string, name: string, argv: string[], pattern: RegExp): Promise<void> {
  const before = fingerprint(dir);
  let message: string | undefined;
  try {
    await add(dir, name, argv);
  } catch (error) {
    message = (error as Error).message;
  }
  assert.ok(message !== undefined, `xms add ${name} ${argv.join(' ')} should fail`);
  assert.not.match(message!, /\n/, 'one line');
  assert.match(message!, pattern);
  assertUnchanged(before, dir, `refused xms add ${name} ${argv.join(' ')}`);
}

/** Migration file names with their timestamp version replaced, for stable comparisons. */
export function stablePath(path: string): string {
  return path.replace(/migrations\/\d{14}_/, 'migrations/VERSION_');
}

/** Compares an app file with its snapshot (or writes the snapshot when updating). */
export function assertSnapshot(generator: string, dir: string, path: string): void {
  const actual = readFileSync(join(dir, path), 'utf8');
  const file = join(SNAPSHOTS, generator, stablePath(path));
  if (process.env.UPDATE_GENERATOR_SNAPSHOTS === '1' || !existsSync(file)) {
    if (!existsSync(file) && process.env.CI && process.env.UPDATE_GENERATOR_SNAPSHOTS !== '1') {
      assert.unreachable(`missing snapshot ${file} (run with UPDATE_GENERATOR_SNAPSHOTS=1)`);
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.fixture(actual, readFileSync(file, 'utf8'), `${path} differs from ${file} (UPDATE_GENERATOR_SNAPSHOTS=1 to accept)`);
}

/** The one file of the app matching a pattern (e.g. a migration by name). */
export function findFile(dir: string, pattern: RegExp): string {
  const matches = listTree(dir).filter((p) => pattern.test(p));
  assert.is(matches.length, 1, `expected one file matching ${pattern}, found ${matches.join(', ') || 'none'}`);
  return matches[0]!;
}
