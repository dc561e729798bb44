/**
 * Loads the app's TypeScript with V8's code cache: compiling its 9 MB file is most of what loading it
 * costs, and the source checks load it on every check that has a unit to run (./server/units.ts).
 * The compiled code is kept in the check's cache folder, under the identity of the build (path,
 * size, modification and change times, inode) and of this Node (version, architecture, flags), behind
 * a SHA-256 of its bytes; V8 itself refuses code of another source length or V8 build. Same trust rule
 * as the other caches (./findings-cache.ts): only a file this user owns, in a folder nobody else can
 * write to. Anything wrong: TypeScript is required as usual.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import type * as TS from 'typescript';
import { cacheDir, ownedByMe, writePrivate } from './database.js';

export interface LoadedTypeScript {
  ts: typeof TS;
  /** Whether V8 took the stored compiled code */
  fromCache: boolean;
  /** Stores the compiled code when there was none to use (call it once TypeScript has parsed: the code then holds the parser's functions too). */
  keep(): void;
}

/** The file keeping the compiled code of this TypeScript build for this Node. */
export function codeFile(resolved: string, appDir: string): string {
  const st = statSync(resolved);
  const id = createHash('sha256')
    .update(`xms-check-typescript 1\0${resolved}\0${st.size}\0${st.mtimeMs}\0${st.ctimeMs}\0${st.ino}\0${process.version}\0${process.arch}\0${process.execArgv.join(' ')}`)
    .digest('hex')
    .slice(0, 32);
  return join(cacheDir(appDir), `typescript-${id}.code`);
}

export function loadTypeScript(resolved: string, appDir: string): LoadedTypeScript {
  if (process.env.XMS_CHECK_NO_CACHE) return { ts: createRequire(import.meta.url)(resolved) as typeof TS, fromCache: false, keep: () => {} };
  const file = codeFile(resolved, appDir);
  let cached: Buffer | undefined;
  try {
    if (existsSync(file) && ownedByMe(file)) {
      const bytes = readFileSync(file);
      const data = bytes.subarray(32);
      if (createHash('sha256').update(data).digest().equals(bytes.subarray(0, 32))) cached = data;
    }
  } catch {
    cached = undefined;
  }
  let script: Script;
  try {
    script = new Script((Module as unknown as { wrap(source: string): string }).wrap(readFileSync(resolved, 'utf8')), { filename: resolved, cachedData: cached });
  } catch {
    return { ts: createRequire(import.meta.url)(resolved) as typeof TS, fromCache: false, keep: () => {} };
  }
  // the CommonJS wrapper's arguments, as require would pass them
  const module = { exports: {} as unknown, id: resolved, filename: resolved, loaded: false };
  (script.runInThisContext() as (...args: unknown[]) => void).call(module.exports, module.exports, createRequire(resolved), module, resolved, dirname(resolved));
  module.loaded = true;
  const fresh = !cached || script.cachedDataRejected === true;
  return {
    ts: module.exports as typeof TS,
    fromCache: !fresh,
    keep: () => {
      if (!fresh) return;
      try {
        const data = script.createCachedData();
        writePrivate(file, Buffer.concat([createHash('sha256').update(data).digest(), data]));
      } catch {
        // the cache is an optimisation only
      }
    },
  };
}
