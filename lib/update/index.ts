/**
 * `xms update [--to <version>] [--dry-run]`: brings the template's changes since the app was generated
 * into the app, three ways, without losing the team's own work.
 *
 *   1. render the app as the recorded generator made it (base) and as the target makes it (theirs), each
 *      with its own CLI, replaying the recorded `xms add` runs on both (xms.json);
 *   2. merge file by file into a staging copy of the app: a change on one side applies, changes on both
 *      sides merge or get conflict markers, a file the team deleted stays deleted, new files are added;
 *   3. migrations are never edited (they may have been applied): a template migration that changed
 *      becomes a new migration of the statements that differ, a new one is added after the app's own;
 *      then the target compiles permissions.yml (a new permissions migration when the policies changed);
 *   4. the staged result is compared with the app and written in one step (temporary files renamed
 *      into place), then `xms check` runs.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UserError } from '../engine/errors.js';
import { listMigrations, migrationFileName, newMigrationFileName } from '../matrix/migrations.js';
import { isBinary, mergeFile } from './merge.js';
import { loadParser, migrationDelta } from './migrations.js';
import { forkCommit, ownSource, presetOf, readRecord, RECORD_FILE, serialiseRecord, templateFolder, type AppRecord, type GeneratorRun } from './record.js';
import { readTree, renderWith, type Tree } from './render.js';
import { fetchGenerator, type GeneratorPackage } from './source.js';

export const UPDATE_HELP = `Usage: xms update [--to <version>] [--dry-run]

Merges what changed in the templates since this app was generated (xms.json records the version, the
answers and every xms add run) into the app, three ways: your changes stay, the template's arrive, a file
both changed gets conflict markers. Applied migrations are never edited: template database changes
become new migrations. Refuses to run on uncommitted changes; ends with xms check.

Options:
  --to <version>         target: an npm version, a tarball or a package folder  [default: this xms]
  --dry-run              list exactly what would change, with the conflicts; write nothing
  --yes                  outside git: go ahead without asking
  --template <dir>       the team template fork's folder (when it moved)
  --no-check             do not run xms check at the end (when CI runs it next anyway)
Apps without xms.json (generated before it existed):
  --from <version>       the version that generated the app (npm version, tarball or folder)
  --preset <name> | --features <a,b>   --db <target>   --package-manager <pm>   --name <name>
  --add "<generator> --flag value ..."   an xms add run made since, repeatable, in order`;

const OPTIONS = {
  to: { type: 'string' },
  from: { type: 'string' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  template: { type: 'string' },
  name: { type: 'string' },
  preset: { type: 'string' },
  features: { type: 'string' },
  db: { type: 'string' },
  'package-manager': { type: 'string' },
  add: { type: 'string', multiple: true },
  'no-check': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Files `xms update` does not merge: its own record, compiled output (recompiled), migrations (below), secrets. */
const notMerged = (path: string) => path === RECORD_FILE || path.startsWith('src/generated/') || path.startsWith('supabase/migrations/') || path === '.env';
const MIGRATIONS = join('supabase', 'migrations');
const COMPILED_NAME = 'xms_permissions';

interface Plan {
  updated: string[];
  merged: string[];
  added: string[];
  conflicts: string[];
  keptDeleted: string[];
  removed: string[];
  keptRemoved: string[];
  migrations: string[];
  notes: string[];
}

export async function updateCommand(argv: string[], appDir: string): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UserError(`${(error as Error).message.split('\n')[0]} (see xms update --help).`);
  }
  if (values.help) {
    console.log(UPDATE_HELP);
    return 0;
  }
  if (!existsSync(join(appDir, 'package.json'))) throw new UserError(`${appDir} is not an app folder (no package.json).`);
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !process.env.CI;
  const dryRun = Boolean(values['dry-run']);

  let record = readRecord(appDir);
  if (!record) {
    if (!values.from) throw new UserError(`no ${RECORD_FILE} in ${appDir}: pass --from <version> (the version that generated it) and its answers (--preset, --db, ...).`);
    record = await recordFromFlags(values, appDir, interactive);
  } else {
    const ignored = (['name', 'preset', 'features', 'db', 'package-manager', 'add'] as const).filter((flag) => values[flag] !== undefined);
    if (ignored.length > 0) throw new UserError(`--${ignored[0]}: the answers come from ${RECORD_FILE} (the flag is for apps without one).`);
  }
  const templateDir = values.template ? resolve(values.template) : templateFolder(appDir, record);
  if (templateDir && !existsSync(join(templateDir))) throw new UserError(`the team template fork folder ${templateDir} is missing (pass --template <dir> if it moved).`);
  const git = gitState(appDir);
  if (git === 'dirty' && !dryRun) throw new UserError(`${appDir} has uncommitted changes: commit or stash them first, so the update can be reviewed and undone.`);

  const baseSpec = values.from ?? record.generator.source;
  const [base, target] = await Promise.all([fetchGenerator(baseSpec, appDir), fetchGenerator(values.to ?? 'self', appDir)]);
  const work = mkdtempSync(join(tmpdir(), 'xms-update-'));
  try {
    const baseFork = templateDir ? forkAt(templateDir, record.template?.commit, work) : undefined;
    if (templateDir && !record.template?.commit) console.log(`note: ${RECORD_FILE} records no commit of the template fork: its own changes since then are not merged, only the generator's.`);
    const [baseDir, theirsDir] = await Promise.all([
      renderWith(base, record, baseFork, work, 'base'),
      renderWith(target, record, templateDir, work, 'theirs'),
    ]);
    const stage = join(work, 'stage');
    cpSync(appDir, stage, { recursive: true, filter: (source) => !isOutside(appDir, source) });
    const labels = { base: `create-xms-app ${base.version} ${shortSpec(base.spec)}`, theirs: `create-xms-app ${target.version} ${shortSpec(target.spec)}` };
    const plan = await mergeTrees(stage, readTree(baseDir, notMerged), readTree(theirsDir, notMerged), labels);
    await addMigrations(stage, baseDir, theirsDir, plan, labels);

    const next: AppRecord = {
      ...record,
      generator: { version: target.version, source: recordedSource(target, values.to) },
      ...(record.template && templateDir ? { template: { ...record.template, ...(forkCommit(templateDir) ? { commit: forkCommit(templateDir) } : {}) } } : {}),
    };
    writeFileSync(join(stage, RECORD_FILE), serialiseRecord(next));
    await compile(target, stage, plan);

    const changes = diffTrees(appDir, stage);
    const compiled = [...changes.keys()].filter((path) => path.startsWith('src/generated/') || path.endsWith(`_${COMPILED_NAME}.sql`));
    const header = `xms update: ${labels.base} -> ${labels.theirs}`;
    const guarantees = newGuarantees(baseDir, theirsDir);
    if (changes.size === 0) {
      console.log(`${header}\nNothing to change: the app is up to date.`);
      return 0;
    }
    if (dryRun) {
      console.log(`${header} (dry run, nothing written)\nWould change ${changes.size} files:`);
      for (const [path, contents] of [...changes].sort(([a], [b]) => a.localeCompare(b))) {
        console.log(`  ${contents === null ? 'delete' : existsSync(join(appDir, path)) ? 'update' : 'create'} ${path}${plan.conflicts.includes(path) ? '   (conflict)' : ''}`);
      }
      printSummary(plan, compiled, guarantees);
      return 0;
    }
    if (git === 'none' && !values.yes) {
      const list = [...changes.keys()].sort().map((path) => `  ${path}`).join('\n');
      if (!interactive) throw new UserError(`${appDir} is not in a git repository, so the update could not be undone: pass --yes to write ${changes.size} files anyway (--dry-run lists them).`);
      console.log(`${appDir} is not in a git repository. xms update will write:\n${list}`);
      const { confirm } = await import('@inquirer/prompts');
      if (!(await confirm({ message: `Change these ${changes.size} files?`, default: false }))) {
        console.log('Nothing written.');
        return 1;
      }
    }
    const { applyChanges } = await import('../engine/changes.js');
    const current = (path: string) => (existsSync(join(appDir, path)) ? readFileSync(join(appDir, path)) : undefined);
    applyChanges(appDir, [...changes].map(([path, after]) => ({ path, before: current(path), after })));
    console.log(header);
    printSummary(plan, compiled, guarantees);
    if (plan.conflicts.length > 0) {
      console.log(`\nResolve the conflicts (the markers <<<<<<< ======= >>>>>>> in the files above), then run xms check.`);
      return 1;
    }
    if (values['no-check']) {
      console.log('\nRun xms check before you commit (--no-check).');
      return 0;
    }
    console.log('\nRunning xms check:');
    const { execa } = await import('execa');
    const check = await execa(process.execPath, [join(target.dir, 'bin', 'xms.js'), 'check', '--cwd', appDir], { stdio: 'inherit', reject: false });
    return check.exitCode ?? 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Folders of the app that are not its source: never copied, compared or written. */
function isOutside(appDir: string, source: string): boolean {
  const rel = source.slice(resolve(appDir).length + 1);
  const top = rel.split(/[\\/]/)[0];
  return top === 'node_modules' || top === '.git' || top === 'dist';
}

const shortSpec = (spec: string) => (spec === 'self' ? '(this xms)' : `(${spec.length > 48 ? `...${spec.slice(-45)}` : spec})`);

/** Where the target can be fetched again: an npm spec pinned to the exact version, else the spec as given. */
function recordedSource(target: GeneratorPackage, given: string | undefined): string {
  if (given === undefined || given === 'self') return ownSource();
  if (given.startsWith('file:') || given.startsWith('.') || given.startsWith('/') || given.endsWith('.tgz')) return given;
  return `create-xms-app@${target.version}`;
}

function gitState(appDir: string): 'clean' | 'dirty' | 'none' {
  try {
    execFileSync('git', ['-C', appDir, 'rev-parse', '--is-inside-work-tree'], { stdio: 'ignore' });
  } catch {
    return 'none';
  }
  const status = execFileSync('git', ['-C', appDir, 'status', '--porcelain', '--', '.'], { encoding: 'utf8' });
  return status.trim() === '' ? 'clean' : 'dirty';
}

/** The fork folder as it was at `commit` (git archive of the folder), or undefined when unknown. */
function forkAt(dir: string, commit: string | undefined, work: string): string {
  if (!commit) return dir;
  const out = join(work, 'fork-base');
  mkdirSync(out, { recursive: true });
  try {
    const prefix = execFileSync('git', ['-C', dir, 'rev-parse', '--show-prefix'], { encoding: 'utf8' }).trim();
    const tar = execFileSync('git', ['-C', dir, 'archive', `${commit}:${prefix}`], { maxBuffer: 256 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', out], { input: tar });
  } catch {
    throw new UserError(`the team template fork ${dir} has no commit ${commit} (recorded in ${RECORD_FILE}).`);
  }
  return out;
}

async function recordFromFlags(values: Record<string, unknown>, appDir: string, interactive: boolean): Promise<AppRecord> {
  const manifest = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as { name?: string };
  const { PRESETS, DATABASE_TARGETS, PACKAGE_MANAGERS } = await import('../app/index.js');
  const { parseFeatures } = await import('../cli/answers.js');
  let features: string[] | undefined;
  if (typeof values.features === 'string') features = parseFeatures(values.features);
  else if (typeof values.preset === 'string') {
    if (!(values.preset in PRESETS)) throw new UserError(`--preset: unknown value "${values.preset}" (expected one of ${Object.keys(PRESETS).join(', ')}).`);
    features = [...PRESETS[values.preset as keyof typeof PRESETS]];
  }
  let db = values.db as string | undefined;
  if (db !== undefined && !(DATABASE_TARGETS as readonly string[]).includes(db)) throw new UserError(`--db: unknown value "${db}" (expected one of ${DATABASE_TARGETS.join(', ')}).`);
  const lockfile = existsSync(join(appDir, 'pnpm-lock.yaml')) ? 'pnpm' : existsSync(join(appDir, 'yarn.lock')) ? 'yarn' : 'npm';
  const packageManager = (values['package-manager'] as string | undefined) ?? lockfile;
  if (!(PACKAGE_MANAGERS as readonly string[]).includes(packageManager)) throw new UserError(`--package-manager: unknown value "${packageManager}" (expected one of ${PACKAGE_MANAGERS.join(', ')}).`);
  if (!interactive && (features === undefined || db === undefined)) {
    throw new UserError(`without ${RECORD_FILE} the answers it was created with are needed and there is no terminal to ask: pass ${features === undefined ? '--preset or --features' : '--db'}.`);
  }
  if (features === undefined || db === undefined) {
    const { checkbox, select } = await import('@inquirer/prompts');
    features ??= await checkbox({ message: 'Features the app was created with', choices: ['admin', 'csv-import', 'ui'].map((value) => ({ value })) });
    db ??= await select({ message: 'Database target it was created with', choices: DATABASE_TARGETS.map((value) => ({ value })) });
  }
  const name = (values.name as string | undefined) ?? manifest.name;
  if (!name) throw new UserError('--name: the app has no name in package.json; pass --name.');
  const runs = ((values.add as string[] | undefined) ?? []).map(parseRun);
  const preset = presetOf(features);
  return {
    generator: { version: 'unknown', source: values.from as string },
    answers: { name, ...(preset ? { preset } : {}), features, db, packageManager },
    ...(values.template ? { template: { path: relative(appDir, resolve(values.template as string)) || '.' } } : {}),
    runs,
  };
}

/** `--add "table --name invoices --columns title:text"` -> a recorded run. */
export function parseRun(text: string): GeneratorRun {
  const [generator, ...words] = text.trim().split(/\s+/);
  if (!generator || generator.startsWith('-')) throw new UserError(`--add "${text}": expected "<generator> --flag value ...".`);
  const answers: Record<string, string | boolean> = {};
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith('--')) throw new UserError(`--add "${text}": "${word}" is not a --flag.`);
    const flag = word.slice(2);
    const value = words[i + 1];
    if (value === undefined || value.startsWith('--')) {
      if (flag.startsWith('no-')) answers[flag.slice(3)] = false;
      else answers[flag] = true;
    } else {
      answers[flag] = value;
      i++;
    }
  }
  return { generator, answers };
}

async function mergeTrees(stage: string, base: Tree, theirs: Tree, labels: { base: string; theirs: string }): Promise<Plan> {
  const plan: Plan = { updated: [], merged: [], added: [], conflicts: [], keptDeleted: [], removed: [], keptRemoved: [], migrations: [], notes: [] };
  const paths = [...new Set([...base.keys(), ...theirs.keys()])].sort();
  const write = (path: string, contents: Buffer) => {
    mkdirSync(dirname(join(stage, path)), { recursive: true });
    writeFileSync(join(stage, path), contents);
  };
  for (const path of paths) {
    const b = base.get(path);
    const t = theirs.get(path);
    const file = join(stage, path);
    const o = existsSync(file) ? readFileSync(file) : undefined;
    if (b && t) {
      if (b.equals(t)) continue;
      if (!o) plan.keptDeleted.push(path);
      else if (o.equals(t)) continue;
      else if (o.equals(b)) {
        write(path, t);
        plan.updated.push(path);
      } else await mergeInto(path, o, b, t);
    } else if (t) {
      if (!o) {
        write(path, t);
        plan.added.push(path);
      } else if (!o.equals(t)) await mergeInto(path, o, Buffer.alloc(0), t);
    } else if (b && o) {
      if (o.equals(b)) {
        rmSync(file);
        plan.removed.push(path);
      } else plan.keptRemoved.push(path);
    }
  }
  return plan;

  async function mergeInto(path: string, o: Buffer, b: Buffer, t: Buffer): Promise<void> {
    if (isBinary(o) || isBinary(t)) {
      plan.conflicts.push(path);
      plan.notes.push(`${path}: binary, changed on both sides: yours kept`);
      return;
    }
    const result = await mergeFile(path, o, b, t, labels);
    write(path, result.contents);
    (result.conflicts > 0 ? plan.conflicts : plan.merged).push(path);
  }
}

/** Template migrations: a new one goes after the app's own; a changed one becomes a new migration of its difference. */
async function addMigrations(stage: string, baseDir: string, theirsDir: string, plan: Plan, labels: { base: string; theirs: string }): Promise<void> {
  const own = (dir: string) => listMigrations(join(dir, MIGRATIONS)).filter((m) => m.name !== COMPILED_NAME);
  const base = new Map(own(baseDir).map((m) => [m.name, readFileSync(m.file, 'utf8')]));
  const appFiles = new Map(listMigrations(join(stage, MIGRATIONS)).map((m) => [m.name, migrationFileName(m.version, m.name)]));
  const app = new Set(appFiles.keys());
  const theirs = own(theirsDir);
  const add = (name: string, sql: string) => {
    const path = `supabase/migrations/${newMigrationFileName(listMigrations(join(stage, MIGRATIONS)), name)}`;
    mkdirSync(join(stage, MIGRATIONS), { recursive: true });
    writeFileSync(join(stage, path), sql);
    plan.migrations.push(path);
    return path;
  };
  let parserLoaded = false;
  for (const migration of theirs) {
    const after = readFileSync(migration.file, 'utf8');
    const before = base.get(migration.name);
    if (before === undefined) {
      if (!app.has(migration.name)) add(migration.name, after);
      continue;
    }
    if (before === after) continue;
    if (!parserLoaded) await loadParser();
    parserLoaded = true;
    // named as the app has it (a generator's migration carries the version of the day it ran)
    const file = appFiles.get(migration.name) ?? migrationFileName(migration.version, migration.name);
    const delta = migrationDelta(file, before, after);
    if (!delta.sql) continue;
    const header = `-- xms update: what ${labels.theirs} changed in ${file} since ${labels.base}.\n`
      + `-- ${file} itself is not edited (it may have been applied); these statements bring a database to the new state.\n\n`;
    const path = add(`xms_update_${migration.name}`, header + delta.sql);
    if (delta.conflicts.length > 0) plan.conflicts.push(path);
    plan.notes.push(...delta.conflicts);
  }
  for (const name of base.keys()) {
    if (!theirs.some((m) => m.name === name) && app.has(name)) plan.notes.push(`migration ${name}: removed by the template; kept (it may have been applied)`);
  }
}

async function compile(target: GeneratorPackage, stage: string, plan: Plan): Promise<void> {
  const { execa } = await import('execa');
  const result = await execa(process.execPath, [join(target.dir, 'bin', 'xms.js'), 'compile', '--cwd', stage], { stdin: 'ignore', all: true, reject: false });
  if (result.exitCode === 0) return;
  const reason = (result.all ?? '').trim().split('\n').pop();
  if (plan.conflicts.length > 0) plan.notes.push(`permissions not recompiled (${reason}): run xms compile once the conflicts are resolved`);
  else throw new UserError(`xms compile of the updated app failed, nothing written: ${reason}`);
}

/** path -> new contents (null: delete) for every file of the staged app that differs from the app. */
function diffTrees(appDir: string, stage: string): Map<string, Buffer | null> {
  const ours = sourceFiles(appDir);
  const staged = sourceFiles(stage);
  const changes = new Map<string, Buffer | null>();
  for (const path of staged) {
    const next = readFileSync(join(stage, path));
    if (!ours.has(path) || !readFileSync(join(appDir, path)).equals(next)) changes.set(path, next);
  }
  for (const path of ours) if (!staged.has(path)) changes.set(path, null);
  return changes;
}

function sourceFiles(root: string): Set<string> {
  const out = new Set<string>();
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(root, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (!sub && ['node_modules', '.git', 'dist'].includes(entry.name)) continue;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile()) out.add(rel);
    }
  };
  walk('');
  return out;
}

/**
 * The README's security model table (the guarantees an app ships, each proven by its tests): rows of
 * the target the recorded version did not have, and rows whose text changed (a guarantee strengthened).
 */
function newGuarantees(baseDir: string, theirsDir: string): { added: string[]; changed: string[] } {
  const rows = (dir: string) => {
    const file = join(dir, 'README.md');
    if (!existsSync(file)) return [];
    const text = readFileSync(file, 'utf8');
    const start = text.indexOf('## Security model');
    if (start < 0) return [];
    return text.slice(start).split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| guarantee') && !line.startsWith('|---'))
      .map((line) => line.split(' | ')[0]!.replace(/^\|\s*/, '').trim());
  };
  // a row is known by its subject: the text before its first colon, or its first six words
  const subject = (row: string) => (row.includes(':') ? row.slice(0, row.indexOf(':')) : row.split(' ').slice(0, 6).join(' '));
  const before = rows(baseDir);
  const subjects = new Set(before.map(subject));
  const fresh = rows(theirsDir).filter((row) => !before.includes(row));
  return { added: fresh.filter((row) => !subjects.has(subject(row))), changed: fresh.filter((row) => subjects.has(subject(row))) };
}

function printSummary(plan: Plan, compiled: string[], guarantees: { added: string[]; changed: string[] }): void {
  const groups: [string, string[]][] = [
    ['updated', plan.updated],
    ['merged (both sides changed, no conflict)', plan.merged],
    ['added', plan.added],
    ['conflicts', plan.conflicts],
    ['deleted by you, kept deleted', plan.keptDeleted],
    ['removed by the template', plan.removed],
    ['removed by the template, kept (you changed them)', plan.keptRemoved],
    ['new migrations', plan.migrations],
    ['recompiled', compiled],
  ];
  for (const [title, paths] of groups) {
    console.log(`  ${title}: ${paths.length}`);
    for (const path of paths) console.log(`    ${path}`);
  }
  for (const note of plan.notes) console.log(`  note: ${note}`);
  const show = (row: string) => `  - ${row.length > 140 ? `${row.slice(0, 137)}...` : row}`;
  if (guarantees.added.length > 0) console.log(`New guarantees (README, security model):\n${guarantees.added.map(show).join('\n')}`);
  if (guarantees.changed.length > 0) console.log(`Guarantees strengthened (README, security model):\n${guarantees.changed.map(show).join('\n')}`);
}
