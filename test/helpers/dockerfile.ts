// Runs a Dockerfile's stage without Docker: each WORKDIR maps into a scratch root folder, COPY copies
// from the build context (or, with --from, from a stage's folder), RUN runs with sh in the stage's
// working folder and its ENV, and the stage's CMD and HEALTHCHECK are returned to be started by the
// caller. What Docker adds (the base image, USER) is checked structurally by the tests instead.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface Instruction {
  op: string;
  args: string;
}
export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Parses a Dockerfile into stages (comments dropped, `\` continuations joined). */
export function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ op: upper, args });
    } else if (upper !== 'ARG' && upper !== 'SYNTAX') {
      throw new Error(`Dockerfile: ${upper} before the first FROM`);
    }
  }
  return stages;
}

/** The exec-form (JSON array) or shell-form command of CMD / HEALTHCHECK CMD as argv. */
export function commandOf(args: string): string[] {
  const json = args.replace(/^(--\S+\s+)*CMD\s+/i, '');
  return json.startsWith('[') ? (JSON.parse(json) as string[]) : ['sh', '-c', json];
}

export interface StageRun {
  workdir: string;
  env: Record<string, string>;
  cmd?: string[];
  healthcheck?: string[];
  user?: string;
}

/**
 * Runs `stage` with its root at `root`. `stageDirs` maps earlier stage names to the folder standing in
 * for their root (COPY --from=name /app/dist reads <dir>/dist when that stage's WORKDIR was /app).
 */
export function runStage(
  stage: Stage,
  options: { root: string; context: string; stageDirs: Record<string, { root: string; workdir: string }>; env?: NodeJS.ProcessEnv },
): StageRun {
  const run: StageRun = { workdir: options.root, env: {} };
  const inRoot = (path: string) => (path.startsWith('/') ? join(options.root, path) : join(run.workdir, path));
  for (const { op, args } of stage.instructions) {
    switch (op) {
      case 'WORKDIR':
        run.workdir = inRoot(args);
        mkdirSync(run.workdir, { recursive: true });
        break;
      case 'ENV':
        for (const [, key, value] of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) run.env[key!] = value!.replace(/^"|"$/g, '');
        break;
      case 'COPY': {
        const words = args.split(/\s+/);
        const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
        const paths = words.filter((word) => !word.startsWith('--'));
        const rawDestination = paths.pop()!;
        const destination = inRoot(rawDestination);
        for (const source of paths) {
          let full: string;
          if (from) {
            const other = options.stageDirs[from];
            if (!other) throw new Error(`COPY --from=${from}: no such stage`);
            // the other stage's WORKDIR stands for its folder: /app/dist -> <folder>/dist
            full = join(other.root, source.startsWith(other.workdir) ? source.slice(other.workdir.length) : source);
          } else {
            full = join(options.context, source);
          }
          if (!existsSync(full)) throw new Error(`COPY ${source}: not found (${full})`);
          // Docker's rules: a folder's contents go into the destination; files go into it when it ends
          // with / or there are several sources, else the destination is the file's new path
          const intoFolder = rawDestination.endsWith('/') || paths.length > 1;
          const target = statSync(full).isDirectory() || !intoFolder ? destination : join(destination, basename(full));
          mkdirSync(intoFolder ? destination : join(destination, '..'), { recursive: true });
          cpSync(full, target, { recursive: true });
        }
        break;
      }
      case 'RUN': {
        const result = spawnSync('sh', ['-c', args], {
          cwd: run.workdir,
          env: { ...process.env, ...options.env, ...run.env },
          encoding: 'utf8',
          timeout: 300_000,
        });
        if (result.status !== 0) throw new Error(`RUN ${args} failed (exit ${result.status}):\n${(result.stdout + result.stderr).slice(-3000)}`);
        break;
      }
      case 'CMD':
        run.cmd = commandOf(args);
        break;
      case 'HEALTHCHECK':
        run.healthcheck = commandOf(args);
        break;
      case 'USER':
        run.user = args;
        break;
      case 'EXPOSE':
      case 'ARG':
      case 'LABEL':
        break;
      default:
        throw new Error(`Dockerfile: ${op} is not understood by this runner`);
    }
  }
  return run;
}

export function readDockerfile(dir: string): Stage[] {
  return parseDockerfile(readFileSync(join(dir, 'Dockerfile'), 'utf8'));
}
