import { resolve, relative } from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../engine/errors.js';
import { packageRoot } from '../engine/paths.js';
import { assertTemplateDir } from '../engine/templates.js';
import { assertWritableTarget, listTree, writeAtomically } from '../engine/write.js';
import { renderApp, prepareApp, type AppAnswers } from '../../generators/app/index.js';
import { CREATE_HELP, parseCreateArgs } from './args.js';
import { resolveAnswers } from './answers.js';
import { step, withSpinner } from './progress.js';

export async function main(argv: string[]): Promise<number> {
  const flags = parseCreateArgs(argv);
  if (flags.help) {
    console.log(CREATE_HELP);
    return 0;
  }
  if (flags.version) {
    console.log(JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version);
    return 0;
  }
  if (flags.template) assertTemplateDir(flags.template, '--template');

  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !process.env.CI;
  const answers = await resolveAnswers(flags, interactive);
  const target = resolve(flags.dir ?? answers.name);
  assertWritableTarget(target, flags.force);

  const files = renderApp(answers, { teamTemplateDir: flags.template ? resolve(flags.template) : undefined });
  // xms.json: what produced the app, so `xms update` can render it again and merge newer templates
  const { newRecord, serialiseRecord, RECORD_FILE } = await import('../update/record.js');
  files.push({ path: RECORD_FILE, contents: Buffer.from(serialiseRecord(newRecord(answers, target, flags.template))), from: 'create-xms-app' });

  if (flags.dryRun) {
    // The exact tree, generated files included: build it in a throw-away folder, list it, remove it.
    const scratch = mkdtempSync(join(tmpdir(), 'xms-dry-run-'));
    try {
      await writeAtomically(join(scratch, 'app'), files, { force: false, prepare: prepareApp });
      const paths = listTree(join(scratch, 'app'));
      console.log(`Would write ${paths.length} files to ${target} (dry run, nothing written):`);
      for (const path of paths) console.log(`  ${path}`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    return 0;
  }

  console.log(`\nCreating ${answers.name} in ${target}\n`);
  await withSpinner(`Writing ${files.length} files`, () => writeAtomically(target, files, { force: flags.force, prepare: prepareApp }));

  let installFailed = false;
  if (answers.install) installFailed = !(await install(target, answers));
  if (answers.git) await initGit(target);

  printNextSteps(target, answers, installFailed);
  return installFailed ? 1 : 0;
}

async function install(target: string, answers: AppAnswers): Promise<boolean> {
  const { execa } = await import('execa');
  try {
    await withSpinner(`Installing dependencies with ${answers.packageManager}`, () =>
      execa(answers.packageManager, ['install'], { cwd: target, stdin: 'ignore', all: true }),
    );
    return true;
  } catch (error) {
    const output = (error as { all?: string }).all ?? (error as Error).message;
    const lastLines = output.trim().split('\n').slice(-5).join('\n    ');
    console.error(`\n  Installing dependencies failed; the project is written. To finish:\n    cd ${relative(process.cwd(), target) || '.'} && ${answers.packageManager} install\n  Last output:\n    ${lastLines}\n`);
    return false;
  }
}

async function initGit(target: string): Promise<void> {
  const { execa } = await import('execa');
  try {
    await execa('git', ['init', '-q'], { cwd: target });
    await execa('git', ['add', '-A'], { cwd: target });
    const identity = await execa('git', ['config', 'user.email'], { cwd: target, reject: false });
    const author = identity.exitCode === 0 ? [] : ['-c', 'user.name=create-xms-app', '-c', 'user.email=create-xms-app@localhost'];
    await execa('git', [...author, 'commit', '-q', '-m', 'Initial commit from create-xms-app'], { cwd: target });
    step('Initialised a git repository');
  } catch (error) {
    console.error(`  Could not initialise git (${(error as Error).message.split('\n')[0]}); run git init yourself.`);
  }
}

function printNextSteps(target: string, answers: AppAnswers, installFailed: boolean): void {
  const where = relative(process.cwd(), target) || '.';
  const run = answers.packageManager === 'npm' ? 'npm run' : answers.packageManager;
  const lines = [`cd ${where}`];
  if (!answers.install || installFailed) lines.push(`${answers.packageManager} install`);
  if (answers.db !== 'pglite' && !answers.databaseUrl) lines.push('cp .env.example .env   # and set DATABASE_URL');
  lines.push(`${run} db:migrate`, `${run} dev`, `${answers.packageManager} test`);
  console.log(`\n${installFailed ? 'Created, but not installed.' : 'Done.'} Next steps:\n\n${lines.map((line) => `  ${line}`).join('\n')}\n`);
}

export async function run(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (error) {
    if (error instanceof UserError) {
      console.error(`create-xms-app: ${error.message}`);
      process.exitCode = error.exitCode;
    } else if ((error as Error)?.name === 'ExitPromptError') {
      console.error('create-xms-app: cancelled, nothing written.');
      process.exitCode = 130;
    } else {
      throw error;
    }
  }
}
