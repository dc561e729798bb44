/**
 * Renders an app with a given generator version's own CLI, in a temporary folder: the scaffold with
 * the recorded answers (no install, no git), then every recorded `xms add` run, in order.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../engine/errors.js';
import { listTree } from '../engine/write.js';
import type { AppRecord } from './record.js';
import type { GeneratorPackage } from './source.js';

export type Tree = Map<string, Buffer>;

export function readTree(dir: string, skip: (path: string) => boolean = () => false): Tree {
  const tree: Tree = new Map();
  for (const path of listTree(dir)) if (!skip(path)) tree.set(path, readFileSync(join(dir, path)));
  return tree;
}

/** `--<name> value` / `--<name>` / `--no-<name>` for each recorded answer. */
export function answerFlags(answers: Record<string, string | boolean>): string[] {
  return Object.entries(answers).flatMap(([name, value]) =>
    value === true ? [`--${name}`] : value === false ? [`--no-${name}`] : [`--${name}`, String(value)]);
}

export async function renderWith(generator: GeneratorPackage, record: AppRecord, templateDir: string | undefined, workDir: string, label: string): Promise<string> {
  const { execa } = await import('execa');
  const appDir = join(workDir, label, record.answers.name);
  mkdirSync(join(workDir, label), { recursive: true });
  const { answers } = record;
  const features = answers.preset ? ['--preset', answers.preset] : ['--features', answers.features.join(',')];
  const args = [join(generator.dir, 'bin', 'create-xms-app.js'), appDir, '--name', answers.name, ...features, '--db', answers.db,
    '--package-manager', answers.packageManager, '--no-install', '--no-git', ...(templateDir ? ['--template', templateDir] : [])];
  const env = { CI: '1' };
  const scaffold = await execa(process.execPath, args, { stdin: 'ignore', all: true, reject: false, env });
  if (scaffold.exitCode !== 0 || !existsSync(join(appDir, 'package.json'))) {
    throw new UserError(`rendering the app with create-xms-app ${generator.version} (${generator.spec}) failed: ${lastLine(scaffold.all)}`);
  }
  for (const run of record.runs) {
    const add = await execa(process.execPath, [join(generator.dir, 'bin', 'xms.js'), 'add', run.generator, ...answerFlags(run.answers), '--cwd', appDir],
      { stdin: 'ignore', all: true, reject: false, env });
    if (add.exitCode !== 0) {
      throw new UserError(`replaying "xms add ${run.generator}" with create-xms-app ${generator.version} (${generator.spec}) failed: ${lastLine(add.all)}`);
    }
  }
  return appDir;
}

const lastLine = (output: string | undefined) => (output ?? '').trim().split('\n').filter(Boolean).pop() ?? 'no output';
