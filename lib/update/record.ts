/**
 * xms.json: what produced an app, committed with it, so `xms update` can render the app again exactly
 * as the recorded generator did (base) and as a newer one does (theirs).
 *
 *   generator  the create-xms-app version and where to get exactly that code again (`source`: an npm
 *              spec such as `create-xms-app@0.1.0`, a tarball or a folder)
 *   answers    the scaffold's answers (preset or features, database target, package manager)
 *   template   the team template fork, if any: its folder (relative to the app) and git commit
 *   runs       every `xms add <generator>` that changed the app, with its answers, in order
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve, sep } from 'node:path';
import { UserError } from '../engine/errors.js';
import { packageRoot } from '../engine/paths.js';

export const RECORD_FILE = 'xms.json';

export interface GeneratorRun {
  generator: string;
  answers: Record<string, string | boolean>;
}

export interface AppRecord {
  generator: { version: string; source: string };
  answers: { name: string; preset?: string; features: string[]; db: string; packageManager: string };
  template?: { path: string; commit?: string };
  runs: GeneratorRun[];
}

const PRESET_FEATURES: Record<string, string[]> = { minimal: [], default: ['admin'], full: ['admin', 'csv-import', 'ui'] };

/** The preset whose features are exactly these, if any. */
export function presetOf(features: string[]): string | undefined {
  const key = [...features].sort().join(',');
  return Object.keys(PRESET_FEATURES).find((preset) => [...PRESET_FEATURES[preset]!].sort().join(',') === key);
}

export function ownVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string;
}

/**
 * Where this running generator can be fetched again: `XMS_GENERATOR_SOURCE` when set (a tarball or
 * folder of an unpublished build), the npm spec of this version when it runs from an installed package,
 * else (a checkout of the repository) its folder.
 */
export function ownSource(): string {
  if (process.env.XMS_GENERATOR_SOURCE) return process.env.XMS_GENERATOR_SOURCE;
  const root = packageRoot();
  return root.split(sep).includes('node_modules') ? `create-xms-app@${ownVersion()}` : root;
}

/** The commit of a fork folder kept in git (clean), so the fork can be rendered again as it was. */
export function forkCommit(dir: string): string | undefined {
  // loaded here, not at the top: only a scaffold from a fork asks, and node:child_process (with the
  // net and stream modules it loads) is ~7 ms of every create-xms-app start
  const { execFileSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const git = (args: string[]) => {
    try {
      // a folder outside git (or git missing) simply has no commit
      return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  };
  const commit = git(['rev-parse', 'HEAD']);
  if (!commit || git(['status', '--porcelain', '--', '.']) !== '') return undefined;
  return commit;
}

export function newRecord(
  answers: { name: string; features: readonly string[]; db: string; packageManager: string },
  appDir: string,
  templateDir?: string,
): AppRecord {
  const features = [...answers.features];
  const preset = presetOf(features);
  const record: AppRecord = {
    generator: { version: ownVersion(), source: ownSource() },
    answers: { name: answers.name, ...(preset ? { preset } : {}), features, db: answers.db, packageManager: answers.packageManager },
    runs: [],
  };
  if (templateDir) {
    const commit = forkCommit(templateDir);
    record.template = { path: relative(resolve(appDir), resolve(templateDir)) || '.', ...(commit ? { commit } : {}) };
  }
  return record;
}

export function serialiseRecord(record: AppRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** The app's record, or undefined when it has none; a malformed one is a one-line error. */
export function readRecord(appDir: string): AppRecord | undefined {
  const file = join(appDir, RECORD_FILE);
  if (!existsSync(file)) return undefined;
  let value: AppRecord;
  try {
    value = JSON.parse(readFileSync(file, 'utf8')) as AppRecord;
  } catch (error) {
    throw new UserError(`${RECORD_FILE}: not valid JSON (${(error as Error).message.split('\n')[0]}).`);
  }
  const ok = value && typeof value.generator?.source === 'string' && typeof value.answers?.name === 'string'
    && Array.isArray(value.answers.features) && typeof value.answers.db === 'string' && Array.isArray(value.runs ?? []);
  if (!ok) throw new UserError(`${RECORD_FILE}: expected generator.source, answers.name, answers.features and answers.db.`);
  value.runs ??= [];
  return value;
}

/** `xms add` appends its run to the record (when the app has one): the new contents, or undefined. */
export function recordWithRun(appDir: string, generator: string, answers: Record<string, string | boolean>): string | undefined {
  const record = readRecord(appDir);
  if (!record) return undefined;
  record.runs.push({ generator, answers });
  return serialiseRecord(record);
}

/** The fork folder of a record, absolute. */
export function templateFolder(appDir: string, record: AppRecord): string | undefined {
  return record.template ? resolve(appDir, record.template.path) : undefined;
}
