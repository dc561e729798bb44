import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import Handlebars from 'handlebars';
import { UserError } from './errors.js';
import type { TemplateFile } from './templates.js';

export interface RenderedFile {
  path: string;
  contents: Buffer;
  /** The template file it came from, for error messages. */
  from: string;
}

/** A handlebars instance with our helpers and every `partials/*.hbs` of the given layers. */
export function createHandlebars(partialDirs: string[]): typeof Handlebars {
  const hbs = Handlebars.create();
  hbs.registerHelper('json', (value: unknown) => new hbs.SafeString(JSON.stringify(value, null, 2)));
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hbs.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
  hbs.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(Boolean));
  for (const dir of partialDirs) {
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).sort()) {
      if (file.endsWith('.hbs')) hbs.registerPartial(basename(file, '.hbs'), readFileSync(join(dir, file), 'utf8'));
    }
  }
  return hbs;
}

/**
 * Renders `.hbs` templates (HTML escaping off: we write code, not HTML) and copies everything else.
 * A `{{` left in any output means a template or a copied file has a placeholder nobody filled in.
 */
export function renderFiles(
  files: Map<string, TemplateFile>,
  context: object,
  hbs: typeof Handlebars,
): RenderedFile[] {
  const out: RenderedFile[] = [];
  for (const [path, file] of [...files.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const raw = readFileSync(file.absolutePath);
    let contents: Buffer = raw;
    if (file.source.endsWith('.hbs')) {
      try {
        const template = hbs.compile(raw.toString('utf8'), { noEscape: true, strict: true });
        contents = Buffer.from(template(context), 'utf8');
      } catch (error) {
        const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
        throw new UserError(`Template ${file.absolutePath} failed to render: ${why}`);
      }
    }
    out.push({ path, contents, from: file.absolutePath });
  }
  return out;
}

/** Throws if any text output still contains `{{`: an unrendered placeholder is a bug, never output. */
export function assertNoUnrenderedPlaceholders(files: { path: string; contents: Buffer; from?: string }[]): void {
  for (const file of files) {
    if (file.contents.includes(0)) continue; // binary
    const text = file.contents.toString('utf8');
    const index = text.indexOf('{{');
    if (index >= 0) {
      const line = text.slice(0, index).split('\n').length;
      throw new UserError(`Unrendered "{{" in ${file.path}:${line}${file.from ? ` (from ${file.from})` : ''}.`);
    }
  }
}
