import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from './errors.js';

/** One template file and the layer it came from (the last layer that has the path wins). */
export interface TemplateFile {
  /** Path inside the layer, with forward slashes, e.g. `src/server/app.ts.hbs`. */
  source: string;
  absolutePath: string;
  layer: string;
}

/** The files under root, as paths relative to it with forward slashes, sorted. */
function listFiles(root: string): string[] {
  const out: string[] = [];
  // each path is built as the walk goes down: path.relative() per file resolved both paths again,
  // most of the listing's time in a scaffold
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.isFile()) out.push(prefix + entry.name);
    }
  };
  walk(root, '');
  return out.sort();
}

/**
 * Layers template folders file by file: a later layer's file replaces an earlier layer's file at the
 * same path, and its extra files are added. This is how features extend the base app and how a team's
 * `--template` fork overrides the built-in templates without copying all of them.
 */
export function collectLayers(layers: string[]): Map<string, TemplateFile> {
  const files = new Map<string, TemplateFile>();
  for (const layer of layers) {
    if (!existsSync(layer)) continue;
    for (const source of listFiles(layer)) {
      files.set(outputPathOf(source), { source, absolutePath: join(layer, source), layer });
    }
  }
  return files;
}

/** `foo.ts.hbs` is written as `foo.ts`; `_gitignore` as `.gitignore` (npm drops .gitignore from packages). */
export function outputPathOf(source: string): string {
  const withoutHbs = source.endsWith('.hbs') ? source.slice(0, -'.hbs'.length) : source;
  return withoutHbs.replace(/(^|\/)_gitignore$/, '$1.gitignore');
}

export function assertTemplateDir(dir: string, flag: string): void {
  if (!existsSync(dir)) throw new UserError(`${flag}: template folder "${dir}" does not exist.`);
  if (!statSync(dir).isDirectory()) throw new UserError(`${flag}: "${dir}" is not a folder.`);
}
