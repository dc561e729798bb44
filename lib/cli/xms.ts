import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../engine/errors.js';
import { packageRoot } from '../engine/paths.js';

const HELP = `Usage: xms <command> [options]

Commands (run inside an app scaffolded by create-xms-app):
  compile            compile permissions.yml into policies (a new migration only when it changed)
                     and the server guard map
  add <generator>    add a feature to this app (xms add <generator> --help lists its flags)
  check              prove the invariants on the repo and a database (DATABASE_URL, else PGlite
                     with the migrations); --json for tools; exit 1 on any error
  update             merge what changed in the templates since this app was generated (xms.json)
                     into it, three ways; --to <version>, --dry-run (xms update --help)
  harden             for a project this tool did not create: write one migration enabling and
                     forcing RLS and audit triggers on every table (--database-url <url> | --migrations <dir>)
  help               show this help

Options:
  --cwd <dir>        the app folder                                [default: .]
  -h, --help         show this help
  -v, --version      show the version`;

interface Command {
  summary: string;
  run(args: string[], cwd: string): Promise<number>;
}

/** One entry per sub-command; each loads its module only when it runs. */
const COMMANDS: Record<string, Command> = {
  add: {
    summary: 'add a feature with a generator',
    async run(args, cwd) {
      const { addCommand } = await import('./add.js');
      return addCommand(args, cwd);
    },
  },
  check: {
    summary: 'prove the invariants (xms check [--json] [--database-url url] [--skip-db])',
    async run(args, cwd) {
      const { checkCommand } = await import('../check/index.js');
      try {
        return await checkCommand(args, cwd);
      } catch (error) {
        if (error instanceof Error && (/^(unknown option|.* has no package\.json)/.test(error.message) || error.name === 'MissingModuleError')) {
          throw new UserError(error.message);
        }
        throw error;
      }
    },
  },
  harden: {
    summary: 'retrofit RLS and audit triggers onto an existing project',
    async run(args, cwd) {
      const { hardenCommand, HardenError } = await import('../../generators/harden/harden.js');
      try {
        return await hardenCommand(args, cwd);
      } catch (error) {
        if (error instanceof HardenError) throw new UserError(error.message);
        throw error;
      }
    },
  },
  update: {
    summary: 'merge template changes into the app',
    async run(args, cwd) {
      const { updateCommand } = await import('../update/index.js');
      return updateCommand(args, cwd);
    },
  },
  compile: {
    summary: 'compile the permission matrix',
    async run(_args, cwd) {
      // write.js alone: an unchanged matrix comes from the compile cache without loading the parsers
      const { writeCompiled } = await import('../matrix/write.js');
      try {
        const result = await writeCompiled(cwd);
        if (result.written.length === 0) console.log('permissions.yml unchanged: nothing written.');
        else for (const file of result.written) console.log(`wrote ${file}`);
        return 0;
      } catch (error) {
        const { MatrixError } = await import('../matrix/parse.js');
        if (error instanceof MatrixError) throw new UserError(error.message);
        throw error;
      }
    },
  },
};

function takeCwd(args: string[]): { cwd: string; rest: string[] } {
  const rest: string[] = [];
  let cwd = process.cwd();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--cwd') {
      const value = args[++i];
      if (!value) throw new UserError('--cwd needs a folder.');
      cwd = resolve(value);
    } else if (arg.startsWith('--cwd=')) cwd = resolve(arg.slice('--cwd='.length));
    else rest.push(arg);
  }
  return { cwd, rest };
}

export async function main(argv: string[]): Promise<number> {
  const { cwd, rest } = takeCwd(argv);
  const [name, ...args] = rest;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(HELP);
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    console.log(JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UserError(`unknown command "${name}" (expected one of ${Object.keys(COMMANDS).join(', ')}; see xms --help).`);
  return command.run(args, cwd);
}

export async function run(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (error) {
    if (error instanceof UserError) {
      console.error(`xms: ${error.message}`);
      process.exitCode = error.exitCode;
    } else {
      throw error;
    }
  }
}
