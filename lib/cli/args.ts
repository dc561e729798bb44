import { parseArgs } from 'node:util';
import { UserError } from '../engine/errors.js';

/** Every prompt of `create-xms-app` is also a flag, so CI can run it without a terminal. */
export const CREATE_OPTIONS = {
  name: { type: 'string' },
  preset: { type: 'string' },
  features: { type: 'string' },
  db: { type: 'string' },
  'database-url': { type: 'string' },
  'package-manager': { type: 'string' },
  install: { type: 'boolean' },
  'no-install': { type: 'boolean' },
  git: { type: 'boolean' },
  'no-git': { type: 'boolean' },
  template: { type: 'string' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

export interface CreateFlags {
  dir?: string;
  name?: string;
  preset?: string;
  features?: string;
  db?: string;
  databaseUrl?: string;
  packageManager?: string;
  install?: boolean;
  git?: boolean;
  template?: string;
  force: boolean;
  dryRun: boolean;
  yes: boolean;
  help: boolean;
  version: boolean;
}

function pickBoolean(positive: boolean | undefined, negative: boolean | undefined, flag: string): boolean | undefined {
  if (positive && negative) throw new UserError(`--${flag} and --no-${flag} contradict each other.`);
  if (positive) return true;
  if (negative) return false;
  return undefined;
}

export function parseCreateArgs(argv: string[]): CreateFlags {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: CREATE_OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UserError(`${(error as Error).message.split('\n')[0]} (see --help).`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UserError(`Expected one target folder, got ${positionals.length}: ${positionals.join(' ')}.`);
  return {
    dir: positionals[0],
    name: values.name,
    preset: values.preset,
    features: values.features,
    db: values.db,
    databaseUrl: values['database-url'],
    packageManager: values['package-manager'],
    install: pickBoolean(values.install, values['no-install'], 'install'),
    git: pickBoolean(values.git, values['no-git'], 'git'),
    template: values.template,
    force: values.force ?? false,
    dryRun: values['dry-run'] ?? false,
    yes: values.yes ?? false,
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

export const CREATE_HELP = `Usage: create-xms-app [dir] [options]

Scaffolds a secure-by-default app: permissions compiled to PostgreSQL row-level security,
audit triggers, httpOnly sessions, strict headers and shared rate limits.

Options (each answers one prompt; --yes takes the defaults for the rest):
  --name <name>               app (npm package) name            [default: the folder name]
  --preset <name>             minimal | default | full           [default: default]
  --features <a,b>            admin, csv-import, ui (auth is always on); overrides --preset
  --db <target>               pglite | postgres | supabase       [default: pglite]
  --database-url <url>        PostgreSQL URL written to .env (git-ignored)
  --package-manager <pm>      npm | pnpm | yarn                  [default: the one running this]
  --no-install                do not install dependencies
  --no-git                    do not initialise a git repository
  --template <dir>            a team template folder layered over the built-in templates
  --force                     write into a non-empty folder (replaces generated files)
  --dry-run                   list what would be written, write nothing
  -y, --yes                   accept defaults for every question not given as a flag
  -h, --help                  show this help
  -v, --version               show the version

Without a terminal (CI), every answer must come from a flag or --yes.`;
