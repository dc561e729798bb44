import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from './errors.js';
import { applyChanges, writeNewTree } from './changes.js';

export interface OutputFile {
  path: string;
  contents: Buffer;
}

/**
 * Checks that `target` can receive a new project: it does not exist, or is an empty folder, or
 * `force` is set. Also refuses a target below a regular file (`mkdir` would fail halfway otherwise).
 */
export function assertWritableTarget(target: string, force: boolean): void {
  let probe = resolve(target);
  // Walk up to the first existing ancestor: it must be a directory.
  while (!existsSync(probe)) {
    const parent = dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  if (probe !== resolve(target) && !statSync(probe).isDirectory()) {
    throw new UserError(`Cannot create "${target}": "${probe}" is a file, not a folder.`);
  }
  if (!existsSync(target)) return;
  if (!statSync(target).isDirectory()) throw new UserError(`Cannot create "${target}": it is a file.`);
  if (readdirSync(target).length > 0 && !force) {
    throw new UserError(`Target folder "${target}" exists and is not empty (use --force to write into it).`);
  }
}

/** Writes a new tree into `dir`, which must not exist yet (through the one writer's path for new trees). */
export function writeTree(dir: string, files: OutputFile[]): void {
  writeNewTree(dir, files);
}

/**
 * Render first, move second: the project is built in a temporary sibling folder, `prepare` may add
 * generated files to it (compiled permissions, ...), and only a complete tree is moved into place.
 * A failure before the move leaves the target exactly as it was.
 */
export async function writeAtomically(
  target: string,
  files: OutputFile[],
  options: { force: boolean; prepare?: (stagingDir: string) => Promise<void> },
): Promise<void> {
  const absoluteTarget = resolve(target);
  assertWritableTarget(absoluteTarget, options.force);
  const parent = dirname(absoluteTarget);
  mkdirSync(parent, { recursive: true });
  const staging = join(parent, `.${basename(absoluteTarget)}.xms-${randomBytes(4).toString('hex')}`);
  try {
    writeTree(staging, files);
    await options.prepare?.(staging);
    if (!existsSync(absoluteTarget)) {
      renameSync(staging, absoluteTarget);
    } else if (readdirSync(absoluteTarget).length === 0) {
      rmSync(absoluteTarget, { recursive: true });
      renameSync(staging, absoluteTarget);
    } else {
      // --force into a non-empty folder: replace our files one by one, leave other files alone.
      moveInto(staging, absoluteTarget);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** `--force` into a non-empty folder: our files replace theirs (through the one writer), other files stay. */
function moveInto(from: string, to: string): void {
  for (const path of listTree(from)) {
    // a file where the tree needs a folder is in the way of every file below it
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = join(to, ...parts.slice(0, i));
      if (existsSync(folder) && !statSync(folder).isDirectory()) rmSync(folder);
    }
  }
  applyChanges(to, listTree(from).map((path) => ({ path, after: readFileSync(join(from, path)) })), { checkBefore: false });
}

/** Lists every file below `dir` (relative, sorted): used by dry runs and tests. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk('');
  return out.sort();
}
