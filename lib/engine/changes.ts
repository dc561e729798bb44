import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from './errors.js';
import { assertSafeRelativePath } from './names.js';

export interface PlannedChange {
  path: string;
  /** The content the plan was made from; undefined: the file must not exist. */
  before?: string | Buffer;
  /** The new content; null deletes the file. */
  after: string | Buffer | null;
  /** Written by the permission matrix compiler (reported as "compiled"). */
  compiled?: boolean;
}

const sameContent = (a: string | Buffer | null | undefined, b: string | Buffer | null | undefined): boolean =>
  a == null || b == null ? (a ?? undefined) === (b ?? undefined) : Buffer.from(a).equals(Buffer.from(b));

/** Only the changes that actually change something. */
export function effectiveChanges<T extends PlannedChange>(changes: T[]): T[] {
  return changes.filter((change) => !sameContent(change.before, change.after));
}

/**
 * The one writer: every plan (a scaffold's tree, a generator's changes with their compiled matrix,
 * `xms compile`, `xms update`) is applied here. Every new content goes to a temporary file next to
 * its target first, and only when all are written are they renamed into place (deletions last), so a
 * failure while writing leaves the project as it was. A file changed on disk since it was planned is
 * refused (`checkBefore: false` for a tree written over on purpose, e.g. `--force`).
 */
export function applyChanges(root: string, changes: PlannedChange[], options: { checkBefore?: boolean } = {}): string[] {
  const staged: { tmp: string; target: string; path: string }[] = [];
  const deleted: PlannedChange[] = [];
  const effective = options.checkBefore === false ? changes : effectiveChanges(changes);
  try {
    for (const change of effective) {
      assertSafeRelativePath(change.path);
      const target = join(root, change.path);
      if (existsSync(target) && statSync(target).isDirectory()) throw new UserError(`Cannot write "${target}": a folder is in the way.`);
      if (options.checkBefore !== false) {
        const current = existsSync(target) ? readFileSync(target) : undefined;
        if (!sameContent(current, change.before)) throw new UserError(`${change.path} changed since it was read; run the generator again.`);
      }
      if (change.after === null) {
        deleted.push(change);
        continue;
      }
      mkdirSync(dirname(target), { recursive: true });
      const tmp = `${target}.xms-${process.pid}.tmp`;
      writeFileSync(tmp, change.after);
      staged.push({ tmp, target, path: change.path });
    }
  } catch (error) {
    for (const { tmp } of staged) rmSync(tmp, { force: true });
    throw error;
  }
  for (const { tmp, target } of staged) renameSync(tmp, target);
  for (const change of deleted) rmSync(join(root, change.path), { force: true });
  return [...staged.map(({ path }) => path), ...deleted.map(({ path }) => path)];
}

/**
 * The writer's path for a tree nobody has seen yet (a scaffold's staging folder): `root` must not
 * exist; it is created here, so no file can be in the way and nothing needs comparing, and each file
 * is written in place (the caller moves the finished folder into place in one rename, which is what
 * makes it atomic). Paths are checked as for any plan before anything is written.
 */
export function writeNewTree(root: string, files: { path: string; contents: string | Buffer }[]): void {
  for (const file of files) assertSafeRelativePath(file.path);
  mkdirSync(dirname(root), { recursive: true });
  mkdirSync(root); // throws when it exists: this path is for new folders only
  const folders = new Set<string>([root]);
  for (const file of files) {
    const target = join(root, file.path);
    const folder = dirname(target);
    if (!folders.has(folder)) {
      mkdirSync(folder, { recursive: true });
      folders.add(folder);
    }
    writeFileSync(target, file.contents, { flag: 'wx' });
  }
}

/** Reads a file of the project as it is now (undefined when absent), for a `before`. */
export function readProjectFile(root: string, path: string): string | undefined {
  const full = join(root, path);
  return existsSync(full) ? readFileSync(full, 'utf8') : undefined;
}

/**
 * Inserts `snippet` on the line before the marker comment `marker` (e.g. `// xms:routes`), once.
 * Idempotent: when the snippet is already in the file the text is returned unchanged. A missing
 * marker is an error naming the file, since editing anywhere else would be guesswork.
 */
export function insertAtMarker(text: string, file: string, marker: string, snippet: string): string {
  if (text.includes(snippet.trim())) return text;
  const index = text.indexOf(marker);
  if (index < 0) throw new UserError(`${file}: marker "${marker}" not found; restore it to let generators edit this file.`);
  const lineStart = text.lastIndexOf('\n', index) + 1;
  const indent = text.slice(lineStart, index).match(/^\s*/)?.[0] ?? '';
  const block = snippet.trimEnd().split('\n').map((line) => (line ? indent + line : line)).join('\n');
  return `${text.slice(0, lineStart)}${block}\n${text.slice(lineStart)}`;
}
