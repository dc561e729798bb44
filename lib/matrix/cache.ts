/**
 * A content-addressed cache of compiled matrices, so that compiling an unchanged matrix loads
 * neither the YAML parser nor PostgreSQL's SQL parser (the bulk of a scaffold's and `xms compile`'s
 * time). The key is the SHA-256 of everything a compilation reads: the compiler's own code,
 * permissions.yml, and the name and content of every migration. Two places are looked up:
 *   - the package's own cache, `dist/matrix-cache/` (written by `npm run build` for the built-in
 *     presets: a new app starts compiled without compiling);
 *   - the app's cache, `node_modules/.cache/xms-matrix/` (written after each compilation in an app),
 *     used only where the result is written into files the team reviews (`xms compile`, generators),
 *     never by `xms check`, which must not trust anything outside the package's code.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../engine/paths.js';
import { matrixModuleId } from './code-id.js';
import type { Compiled } from './compile.js';

/** The modules whose code decides the output (code-id.ts says which file of each is read). */
const COMPILER_MODULES = ['compile', 'parse', 'schema'];

let compilerId: string | undefined;
function compilerHash(): string {
  compilerId ??= COMPILER_MODULES.map((name) => matrixModuleId(name)).join('\0');
  return compilerId;
}

/** The key of a compilation: compiler code, matrix source, migrations (name and content, in order). */
export function compileKey(matrixSource: string, migrations: { file: string; sql?: string }[]): string {
  const h = createHash('sha256').update(compilerHash()).update('\0').update(matrixSource);
  for (const m of migrations) h.update('\0').update(m.file.split(/[\\/]/).pop()!).update('\0').update(m.sql ?? readFileSync(m.file));
  return h.digest('hex');
}

/** The package's cache folder (dist/matrix-cache, beside dist/lib), or XMS_MATRIX_CACHE_DIR at build time. */
export function packageCacheDir(): string {
  return process.env.XMS_MATRIX_CACHE_DIR || join(packageRoot(), 'dist', 'matrix-cache');
}

export function appCacheDir(appDir: string): string {
  return join(appDir, 'node_modules', '.cache', 'xms-matrix');
}

function isCompiled(value: unknown): value is Compiled {
  const v = value as Compiled | null;
  return !!v && typeof v.sql === 'string' && typeof v.guardMapTs === 'string' && typeof v.testDataTs === 'string' && typeof v.testData === 'object';
}

/** The cached compilation of `key` in the first folder holding it, or undefined. */
export function readCached(key: string, dirs: string[]): Compiled | undefined {
  for (const dir of dirs) {
    let text: string;
    try {
      text = readFileSync(join(dir, `${key}.json`), 'utf8');
    } catch {
      continue;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (isCompiled(value)) return value;
    } catch {
      // a torn or foreign file is a miss
    }
  }
  return undefined;
}

/** Stores a compilation (best effort: a cache that cannot be written is only slower). */
export function writeCached(key: string, dir: string, compiled: Compiled): void {
  try {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${key}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(compiled));
    renameSync(tmp, file);
    // keep the app's cache small: the newest 20 entries
    const entries = readdirSync(dir).filter((f) => f.endsWith('.json'));
    if (entries.length > 20 && !process.env.XMS_MATRIX_CACHE_DIR) {
      entries
        .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
        .sort((a, b) => b.t - a.t)
        .slice(20)
        .forEach(({ f }) => rmSync(join(dir, f), { force: true }));
    }
  } catch {
    // read-only node_modules, a full disk: compile again next time
  }
}
