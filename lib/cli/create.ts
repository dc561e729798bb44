import { resolve, relative } from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../engine/errors.js';
import { packageRoot } from '../engine/paths.js';
import { assertTemplateDir } from '../engine/templates.js';
import { assertWritableTarget, listTree, writeAtomically } from '../engine/write.js';
import { renderApp, type AppAnswers } from '../app/index.js';
import { CREATE_HELP, parseCreateArgs } from './args.js';
import { resolveAnswers } from './answers.js';
import { paint, step, withSpinner } from './progress.js';
import { xmsDependencySpec } from './self-spec.js';
import { prepareApp } from '../../generators/scaffold.js';
import { newRecord, serialiseRecord, RECORD_FILE } from '../update/record.js';

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
  const answers = await resolveAnswers(flags, interactive, (folder) => assertWritableTarget(folder, flags.force));
  const target = resolve(flags.dir ?? answers.name);
  assertWritableTarget(target, flags.force);

  if (!flags.dryRun) console.log(`\nCreating ${answers.name} in ${target}\n`);
  // The dry run writes no package.json to install from: it does not need the dependency spec.
  const xmsSpec = flags.dryRun
    ? undefined
    : (await xmsDependencySpec(packageRoot(), (pack) => withSpinner('Packing this unpublished create-xms-app for the new app (once per build)', pack))).spec;
  const teamTemplateDir = flags.template ? resolve(flags.template) : undefined;
  const files = renderApp(answers, { teamTemplateDir, xmsSpec });
  const prepare = (dir: string) => prepareApp(dir, { teamTemplateDir });
  // xms.json: what produced the app, so `xms update` can render it again and merge newer templates
  files.push({ path: RECORD_FILE, contents: Buffer.from(serialiseRecord(newRecord(answers, target, flags.template))), from: 'create-xms-app' });

  if (flags.dryRun) {
    // The exact tree, generated files included: build it in a throw-away folder, list it, remove it.
    const scratch = mkdtempSync(join(tmpdir(), 'xms-dry-run-'));
    try {
      await writeAtomically(join(scratch, 'app'), files, { force: false, prepare });
      const paths = listTree(join(scratch, 'app'));
      console.log(`Would write ${paths.length} files to ${target} (dry run, nothing written):`);
      for (const path of paths) console.log(`  ${path}`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    return 0;
  }

  await withSpinner(`Writing ${files.length} files`, () => writeAtomically(target, files, { force: flags.force, prepare }));

  // git first: installing runs the app's `prepare` script, which points git at the app's hooks
  const git = answers.git && (await initGit(target));
  let installFailed = false;
  if (answers.install) installFailed = !(await install(target, answers));
  if (git) await firstCommit(target);

  if (xmsSpec?.startsWith('file:')) {
    console.log(`\n  This create-xms-app is not the published package: the app depends on its packed copy,\n  ${xmsSpec.slice('file:'.length)}\n  (rewrite devDependencies["create-xms-app"] to "^<version>" once it is published).`);
  }
  printNextSteps(target, answers, installFailed);
  return installFailed ? 1 : 0;
}

/**
 * The lines of a failed install worth showing: the package manager's error lines, else its last
 * lines, else how it ended. Never empty.
 */
export function installErrorLines(output: string | undefined, fallback: string): string[] {
  const lines = (output ?? '').split(/\r?\n/).map((line) => line.trimEnd()).filter((line) => line.trim() !== '');
  const errors = lines.filter((line) => /\b(err(or)?|ERR_[A-Z_]+|ERESOLVE|E404|ENOENT|EACCES)\b/i.test(line));
  const shown = (errors.length > 0 ? errors : lines).slice(-12);
  return shown.length > 0 ? shown : [fallback];
}

async function install(target: string, answers: AppAnswers): Promise<boolean> {
  const { execa } = await import('execa');
  try {
    await withSpinner(`Installing dependencies with ${answers.packageManager}`, () =>
      execa(answers.packageManager, ['install'], { cwd: target, stdin: 'ignore', all: true }),
    );
    return true;
  } catch (error) {
    const failure = error as { all?: string; shortMessage?: string; message: string };
    const lines = installErrorLines(failure.all, failure.shortMessage ?? failure.message.split('\n')[0]!);
    console.error(
      `\n  Installing dependencies failed; the project is written. To finish:\n    cd ${relative(process.cwd(), target) || '.'} && ${answers.packageManager} install\n  ${answers.packageManager} said:\n    ${lines.join('\n    ')}\n`,
    );
    return false;
  }
}

async function initGit(target: string): Promise<boolean> {
  const { execa } = await import('execa');
  try {
    await execa('git', ['init', '-q'], { cwd: target });
    return true;
  } catch (error) {
    console.error(`  Could not initialise git (${(error as Error).message.split('\n')[0]}); run git init yourself.`);
    return false;
  }
}

async function firstCommit(target: string): Promise<void> {
  const { execa } = await import('execa');
  try {
    await execa('git', ['add', '-A'], { cwd: target });
    const identity = await execa('git', ['config', 'user.email'], { cwd: target, reject: false });
    const author = identity.exitCode === 0 ? [] : ['-c', 'user.name=create-xms-app', '-c', 'user.email=create-xms-app@localhost'];
    // --no-verify: the generated tree is what `xms check` is tested against; the hook guards the user's commits
    await execa('git', [...author, 'commit', '-q', '--no-verify', '-m', 'Initial commit from create-xms-app'], { cwd: target });
    step('Initialised a git repository');
  } catch (error) {
    console.error(`  Could not make the first commit (${(error as Error).message.split('\n')[0]}); commit yourself.`);
  }
}

function printNextSteps(target: string, answers: AppAnswers, installFailed: boolean): void {
  const where = relative(process.cwd(), target) || '.';
  const run = answers.packageManager === 'npm' ? 'npm run' : answers.packageManager;
  const steps: Array<[string, string]> = [];
  if (where !== '.') steps.push([`cd ${where}`, '']);
  if (!answers.install || installFailed) steps.push([`${answers.packageManager} install`, 'install the dependencies']);
  if (answers.db !== 'pglite' && !answers.databaseUrl) steps.push(['cp .env.example .env', 'and set DATABASE_URL']);
  steps.push(
    [`${run} dev`, 'migrate, then serve with hot reload'],
    [`${run} check`, 'prove the security invariants (also run by CI)'],
    [`${answers.packageManager} test`, "the app's own test suite"],
  );
  const width = Math.max(...steps.map(([command]) => command.length));
  const body = steps.map(([command, what]) => (what ? `  ${paint('cyan', command.padEnd(width))}   ${paint('dim', what)}` : `  ${paint('cyan', command)}`)).join('\n');
  const title = installFailed ? paint('yellow', 'Created, but not installed.') : paint('green', `Created ${answers.name}.`);
  console.log(`\n${title} ${paint('bold', 'Next steps:')}\n\n${body}\n\n  ${paint('dim', 'AGENTS.md says what must stay true and how to change the app safely.')}\n`);
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
