import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/** Every node:fs function, synchronous, callback and promise forms, whose first argument names a path. */
const PATH_FUNCTIONS = [
  'readFileSync', 'readFile', 'readdirSync', 'readdir', 'existsSync', 'statSync', 'stat', 'lstatSync', 'lstat', 'openSync', 'open',
  'opendirSync', 'opendir', 'accessSync', 'access', 'realpathSync', 'realpath', 'createReadStream', 'readlinkSync', 'readlink',
];

export interface FsTrace {
  /** The paths below `dir` that were opened, listed or tested since the trace began (or was cleared), relative, with '/'. */
  read: Set<string>;
  /** Puts node:fs back as it was. */
  stop(): void;
}

/**
 * Records the paths below `dir` that node:fs is asked about until stop(): how a test proves that a
 * cache key covers every file the cached work reads. Named imports of node:fs see the wrappers
 * through syncBuiltinESMExports.
 */
export function traceFileReads(dir: string): FsTrace {
  const read = new Set<string>();
  const note = (p: unknown) => {
    const path = p instanceof URL ? p.pathname : typeof p === 'string' || Buffer.isBuffer(p) ? String(p) : undefined;
    if (path === undefined) return;
    const rel = relative(dir, isAbsolute(path) ? path : resolve(path));
    if (!rel.startsWith('..') && !isAbsolute(rel)) read.add(rel.split(sep).join('/'));
  };
  const restore: Array<() => void> = [];
  for (const target of [fs, fs.promises] as unknown as Array<Record<string, unknown>>) {
    for (const name of PATH_FUNCTIONS) {
      const original = target[name];
      if (typeof original !== 'function') continue;
      target[name] = function (this: unknown, p: unknown, ...rest: unknown[]) {
        note(p);
        return (original as (...a: unknown[]) => unknown).call(this, p, ...rest);
      };
      restore.push(() => (target[name] = original));
    }
  }
  syncBuiltinESMExports();
  return {
    read,
    stop() {
      for (const undo of restore) undo();
      syncBuiltinESMExports();
    },
  };
}
