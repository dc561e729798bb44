import { accessSync, constants } from 'node:fs';
import { basename, delimiter, join, resolve } from 'node:path';
import { UserError } from '../engine/errors.js';
import { validateAppName } from '../engine/names.js';
import {
  DATABASE_TARGETS,
  FEATURES,
  PACKAGE_MANAGERS,
  PRESETS,
  type AppAnswers,
  type DatabaseTarget,
  type Feature,
  type PackageManager,
  type Preset,
} from '../app/index.js';
import type { CreateFlags } from './args.js';

const DEFAULT_NAME = 'my-xms-app';

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UserError(`${flag}: unknown value "${value}" (expected one of ${allowed.join(', ')}).`);
  }
  return value as T;
}

export function parseFeatures(list: string): Feature[] {
  const names = list.split(',').map((item) => item.trim()).filter(Boolean);
  const features = names.filter((name) => name !== 'auth'); // auth is always on; accept it quietly
  for (const name of features) oneOf(name, FEATURES, '--features');
  return FEATURES.filter((feature) => features.includes(feature));
}

/** One line per feature, shown where features are chosen. */
export const FEATURE_DESCRIPTIONS: Record<Feature, string> = {
  admin: 'admin functions: tenant admins manage users (invite, reset, deactivate) under /api/admin',
  'csv-import': 'CSV import and export of tables, validated, de-duplicated, all or nothing',
  ui: 'a React UI (Vite) served by the app under the same strict CSP',
};

const PRESET_DESCRIPTIONS: Record<Preset, string> = {
  minimal: 'accounts, sessions and rate limits only',
  default: 'accounts + admin functions',
  full: 'accounts + admin functions + CSV import + UI',
};

function detectPackageManager(installed: readonly PackageManager[]): PackageManager {
  const agent = process.env.npm_config_user_agent ?? '';
  const running: PackageManager = agent.startsWith('pnpm') ? 'pnpm' : agent.startsWith('yarn') ? 'yarn' : 'npm';
  return installed.includes(running) ? running : installed[0] ?? 'npm';
}

/** Whether `command` is an executable on PATH (no process is started: a few stat calls). */
function onPath(command: string): boolean {
  const extensions = process.platform === 'win32' ? ['.cmd', '.exe', ''] : [''];
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const extension of extensions) {
      try {
        accessSync(join(dir, command + extension), constants.X_OK);
        return true;
      } catch {
        // not in this folder
      }
    }
  }
  return false;
}

/** The package managers this machine has, in PACKAGE_MANAGERS order. */
export function installedPackageManagers(): PackageManager[] {
  return PACKAGE_MANAGERS.filter(onPath);
}

/** What each question is called on the command line, for "missing answer" messages. */
const FLAG_OF = {
  name: '[dir] or --name',
  features: '--preset or --features',
  db: '--db',
  packageManager: '--package-manager',
  install: '--install / --no-install',
  git: '--git / --no-git',
} as const;
type Question = keyof typeof FLAG_OF;

/**
 * Turns flags into answers. With --yes every missing answer takes its default; on a terminal the
 * missing ones are asked; without a terminal a missing answer is an error naming its flag (never hang).
 */
export async function resolveAnswers(
  flags: CreateFlags,
  interactive: boolean,
  checkTarget: (target: string) => void = () => {},
): Promise<AppAnswers> {
  const partial: Partial<AppAnswers> = {};
  const nameFromDir = flags.dir ? basename(resolve(flags.dir)) : undefined;
  if (flags.name !== undefined) partial.name = flags.name;
  else if (nameFromDir !== undefined) partial.name = nameFromDir;
  if (flags.features !== undefined) partial.features = parseFeatures(flags.features);
  else if (flags.preset !== undefined) partial.features = PRESETS[oneOf(flags.preset, Object.keys(PRESETS) as Preset[], '--preset')];
  if (flags.db !== undefined) partial.db = oneOf(flags.db, DATABASE_TARGETS, '--db');
  if (flags.databaseUrl !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(flags.databaseUrl)) throw new UserError('--database-url: expected a postgres:// or postgresql:// URL.');
    partial.databaseUrl = flags.databaseUrl;
    partial.db ??= 'postgres';
  }
  if (flags.packageManager !== undefined) partial.packageManager = oneOf(flags.packageManager, PACKAGE_MANAGERS, '--package-manager');
  if (flags.install !== undefined) partial.install = flags.install;
  if (flags.git !== undefined) partial.git = flags.git;
  if (partial.name !== undefined) validateAppName(partial.name);
  // a target that cannot be written is said before any question is asked
  if (flags.dir !== undefined || partial.name !== undefined) checkTarget(resolve(flags.dir ?? partial.name!));

  const installed = installedPackageManagers();
  // only the installed package managers are offered: with one, there is nothing to ask
  if (partial.packageManager === undefined && installed.length === 1) partial.packageManager = installed[0];
  const defaults: Omit<AppAnswers, 'databaseUrl'> = {
    name: partial.name ?? DEFAULT_NAME,
    features: PRESETS.default,
    db: 'pglite',
    packageManager: detectPackageManager(installed),
    install: true,
    git: true,
  };
  const missing = (Object.keys(FLAG_OF) as Question[]).filter((question) => partial[question] === undefined);

  let answers: AppAnswers;
  if (flags.yes || missing.length === 0) answers = { ...defaults, ...partial };
  else if (!interactive) {
    const first = missing[0]!;
    throw new UserError(`Missing answer for "${first}" and no terminal to ask: pass ${FLAG_OF[first]} (or --yes for defaults).`);
  } else {
    answers = { ...partial, ...(await askMissing(missing, defaults, installed, flags.dir === undefined ? checkTarget : undefined)) } as AppAnswers;
  }
  if (answers.install && !installed.includes(answers.packageManager)) {
    throw new UserError(
      `--package-manager ${answers.packageManager}: ${answers.packageManager} is not installed here (found: ${installed.join(', ') || 'none'}); pick one of those or pass --no-install.`,
    );
  }
  return answers;
}

async function askMissing(
  missing: Question[],
  defaults: Omit<AppAnswers, 'databaseUrl'>,
  installed: PackageManager[],
  checkTarget: ((target: string) => void) | undefined,
): Promise<Partial<AppAnswers>> {
  // Loaded only when a question is actually asked: the flag path never pays for the prompt library.
  const { input, checkbox, select, confirm } = await import('@inquirer/prompts');
  const answers: Partial<AppAnswers> = {};
  for (const question of missing) {
    switch (question) {
      case 'name':
        answers.name = await input({
          message: 'App name',
          default: defaults.name,
          // the name is also the folder: a folder that cannot be written is said now, not after every question
          validate: (value) => {
            try {
              validateAppName(value);
              checkTarget?.(resolve(value));
              return true;
            } catch (error) {
              return (error as Error).message;
            }
          },
        });
        break;
      case 'features': {
        const preset = await select<Preset | 'custom'>({
          message: 'Preset (accounts, sessions and rate limits are always on)',
          choices: [
            ...(Object.keys(PRESETS) as Preset[]).map((value) => ({ value, name: `${value.padEnd(8)} ${PRESET_DESCRIPTIONS[value]}` })),
            { value: 'custom' as const, name: `${'custom'.padEnd(8)} choose the features one by one` },
          ],
          default: 'default',
        });
        answers.features = preset !== 'custom' ? PRESETS[preset] : await checkbox({
          message: 'Features',
          choices: FEATURES.map((value) => ({ value, name: `${value.padEnd(10)} ${FEATURE_DESCRIPTIONS[value]}`, checked: defaults.features.includes(value) })),
        });
        break;
      }
      case 'db': {
        const db: DatabaseTarget = await select({
          message: 'Database',
          choices: [
            { value: 'pglite' as const, name: 'Embedded PostgreSQL (PGlite), nothing to install' },
            { value: 'postgres' as const, name: 'A PostgreSQL server (DATABASE_URL)' },
            { value: 'supabase' as const, name: 'A Supabase project' },
          ],
          default: defaults.db,
        });
        answers.db = db;
        if (db !== 'pglite') {
          const url = await input({ message: 'DATABASE_URL (leave empty to set it later in .env)', default: '' });
          if (url) answers.databaseUrl = url;
        }
        break;
      }
      case 'packageManager':
        answers.packageManager = await select({
          message: 'Package manager',
          choices: installed.map((value) => ({ value })),
          default: defaults.packageManager,
        });
        break;
      case 'install':
        answers.install = await confirm({ message: 'Install dependencies now?', default: true });
        break;
      case 'git':
        answers.git = await confirm({ message: 'Initialise a git repository?', default: true });
        break;
    }
  }
  return answers;
}
