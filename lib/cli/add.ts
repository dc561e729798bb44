import { parseArgs } from 'node:util';
import { UserError } from '../engine/errors.js';
import { applyChanges, effectiveChanges, readProjectFile } from '../engine/changes.js';
import { GENERATORS, generatorNames } from '../../generators/registry.js';
import type { Answers, FeatureGenerator, GeneratorQuestion } from '../../generators/types.js';

export async function loadGenerator(name: string | undefined): Promise<FeatureGenerator> {
  const load = name ? GENERATORS[name] : undefined;
  if (!load) {
    throw new UserError(`${name ? `unknown generator "${name}"` : 'missing generator name'} (available: ${generatorNames().join(', ') || 'none'}).`);
  }
  return load();
}

function validateAnswer(question: GeneratorQuestion, value: string | boolean): void {
  if (question.type === 'select' && !question.choices?.includes(String(value))) {
    throw new UserError(`--${question.name}: unknown value "${value}" (expected one of ${question.choices?.join(', ')}).`);
  }
  if (typeof value === 'string' && question.validate) {
    const verdict = question.validate(value);
    if (verdict !== true) throw new UserError(`--${question.name}: ${verdict}`);
  }
}

/** Flags first, then defaults, then prompts on a terminal; without one a missing answer names its flag. */
export async function resolveGeneratorAnswers(
  generator: FeatureGenerator,
  argv: string[],
  interactive: boolean,
): Promise<{ answers: Answers; dryRun: boolean }> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { 'dry-run': { type: 'boolean' }, yes: { type: 'boolean' } };
  for (const question of generator.questions) {
    options[question.name] = { type: question.type === 'confirm' ? 'boolean' : 'string' };
    if (question.type === 'confirm') options[`no-${question.name}`] = { type: 'boolean' };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UserError(`${(error as Error).message.split('\n')[0]} (see xms add ${generator.name} --help).`);
  }
  const { values, positionals } = parsed;
  const answers: Answers = {};
  // The first question may also be given positionally: `xms add table invoices`.
  const [first] = generator.questions;
  if (positionals.length > 1) throw new UserError(`unexpected arguments: ${positionals.slice(1).join(' ')}.`);
  if (first && positionals[0] !== undefined) answers[first.name] = positionals[0];
  for (const question of generator.questions) {
    const flag = values[question.name] as string | boolean | undefined;
    const negated = values[`no-${question.name}`] as boolean | undefined;
    if (flag !== undefined) answers[question.name] = flag;
    if (negated) answers[question.name] = false;
    if (answers[question.name] === undefined && question.default !== undefined && (values.yes || !interactive)) {
      answers[question.name] = question.default;
    }
  }
  const missing = generator.questions.filter((question) => answers[question.name] === undefined);
  if (missing.length > 0 && !interactive) {
    throw new UserError(`missing answer for "${missing[0]!.name}" and no terminal to ask: pass --${missing[0]!.name}.`);
  }
  if (missing.length > 0) {
    const prompts = await import('@inquirer/prompts');
    for (const question of missing) {
      if (question.type === 'confirm') answers[question.name] = await prompts.confirm({ message: question.message, default: Boolean(question.default) });
      else if (question.type === 'select') answers[question.name] = await prompts.select({ message: question.message, choices: (question.choices ?? []).map((value) => ({ value })) });
      else answers[question.name] = await prompts.input({ message: question.message, validate: (value) => question.validate?.(value) ?? true });
    }
  }
  for (const question of generator.questions) validateAnswer(question, answers[question.name]!);
  return { answers, dryRun: Boolean(values['dry-run']) };
}

/**
 * Plans, then writes (or lists, with --dry-run) and reports; the second run of a generator says
 * "nothing to change". The plan is complete (the compiled matrix and the app's record included), so
 * the dry run lists exactly the files the run writes, and the one writer applies them in one batch.
 */
export async function runGenerator(generator: FeatureGenerator, appDir: string, answers: Answers, dryRun: boolean): Promise<string[]> {
  const plan = await generator.plan(appDir, answers);
  const changes = effectiveChanges(plan.changes);
  const lines: string[] = [];
  if (changes.length === 0) {
    lines.push(`${generator.name}: nothing to change (already applied).`);
    return lines;
  }
  // the run joins the app's record (xms.json), written with its changes, so `xms update` can replay it
  const { recordWithRun, RECORD_FILE } = await import('../update/record.js');
  const record = recordWithRun(appDir, generator.name, answers);
  if (record !== undefined) changes.push({ path: RECORD_FILE, before: readProjectFile(appDir, RECORD_FILE), after: record });
  if (dryRun) {
    lines.push(`${generator.name}: would change ${changes.length} files (dry run, nothing written):`);
    for (const change of changes) lines.push(`  ${change.before === undefined ? 'create' : 'update'} ${change.path}`);
    return lines;
  }
  for (const path of applyChanges(appDir, changes)) {
    const change = changes.find((c) => c.path === path)!;
    lines.push(`  ${change.compiled ? 'compiled' : change.before === undefined ? 'created' : 'updated'} ${path}`);
  }
  for (const note of plan.notes ?? []) lines.push(`  ${note}`);
  return lines;
}

export async function addCommand(argv: string[], appDir: string): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log('Usage: xms add <generator> [options]   (xms add <generator> --help lists its flags)\n\nGenerators:');
    for (const generatorName of generatorNames()) {
      console.log(`  ${generatorName.padEnd(16)} ${(await GENERATORS[generatorName]!()).description}`);
    }
    return name === undefined ? 1 : 0;
  }
  const generator = await loadGenerator(name);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`Usage: xms add ${generator.name} [options]\n\n${generator.description}\n`);
    for (const question of generator.questions) {
      const choices = question.choices ? ` (${question.choices.join(' | ')})` : '';
      console.log(`  --${question.name.padEnd(18)} ${question.message}${choices}`);
    }
    console.log('  --dry-run            list what would change, write nothing');
    return 0;
  }
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !process.env.CI;
  const { answers, dryRun } = await resolveGeneratorAnswers(generator, rest, interactive);
  for (const line of await runGenerator(generator, appDir, answers, dryRun)) console.log(line);
  return 0;
}
