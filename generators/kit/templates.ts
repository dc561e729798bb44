/**
 * Where every generator finds its templates, and the one way they are rendered (lib/engine/render.ts).
 *
 * Built in: a generator's templates are `templates/<generator>/*.hbs` (partials in
 * `templates/<generator>/partials` and the shared `templates/table/partials`); the app's files are
 * `templates/app/base/...` and `templates/app/features/<name>/...`.
 *
 * A team's fork (`create-xms-app --template <fork>`, remembered in the app's xms.json so `xms add`
 * uses it too) layers over all of them, file by file, with the same layout below its root:
 *   <fork>/base/..., <fork>/features/<name>/..., <fork>/partials/   the app (as for scaffolding)
 *   <fork>/<generator>/*.hbs, <fork>/<generator>/partials/          a generator (table, admin-function, csv-import)
 * A file the fork has wins; everything else comes from the built-in templates.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import { builtinTemplatesDir } from '../../lib/engine/paths.js';
import { TemplateRenderer } from '../../lib/engine/render.js';

/** The fork an app was made from (xms.json `template.path`, relative to the app), if it has one and it is there. */
export async function forkOf(appDir: string): Promise<string | undefined> {
  if (!existsSync(join(appDir, 'xms.json'))) return undefined;
  const { readRecord, templateFolder } = await import('../../lib/update/record.js');
  const record = readRecord(appDir);
  const fork = record ? templateFolder(appDir, record) : undefined;
  if (fork && !existsSync(fork)) {
    throw new UserError(`xms.json names the template fork ${record!.template!.path}, which is missing (restore it, or remove "template" from xms.json to use the built-in templates).`);
  }
  return fork;
}

const renderers = new Map<string, TemplateRenderer>();

function rendererFor(folder: string, fork: string | undefined): TemplateRenderer {
  const key = `${folder}\0${fork ?? ''}`;
  let renderer = renderers.get(key);
  if (!renderer) {
    const roots = [builtinTemplatesDir(), ...(fork ? [fork] : [])];
    renderer = new TemplateRenderer(roots.flatMap((root) => [join(root, 'table', 'partials'), join(root, folder, 'partials')]));
    renderers.set(key, renderer);
  }
  return renderer;
}

/** Renders `<folder>/<file>` of the fork, else of the built-in templates; a `{{` left in the output is an error. */
export function renderTemplate(folder: string, file: string, context: object, fork?: string): string {
  const forked = fork ? join(fork, folder, file) : undefined;
  const path = forked && existsSync(forked) ? forked : join(builtinTemplatesDir(), folder, file);
  let out: string;
  try {
    out = rendererFor(folder, fork).render(readFileSync(path, 'utf8'), context);
  } catch (error) {
    throw new UserError(`Template ${path} failed to render: ${(error as Error).message.split('\n')[0]}`);
  }
  const index = out.indexOf('{{');
  if (index >= 0) throw new UserError(`Unrendered "{{" in ${path}.`);
  return out;
}

/** Whether the fork supplies `<folder>/<file>` itself (renderTemplate would render its copy). */
export function forkHasTemplate(fork: string | undefined, folder: string, file: string): boolean {
  return Boolean(fork) && existsSync(join(fork!, folder, file));
}

/** A file of the app templates (`base/<path>` or `features/<name>/<path>`): the fork's, else the built-in one. */
export function appTemplateFile(path: string, fork?: string): string | undefined {
  for (const file of [...(fork ? [join(fork, path)] : []), join(builtinTemplatesDir(), 'app', path)]) {
    if (existsSync(file)) return readFileSync(file, 'utf8');
  }
  return undefined;
}

/** Whether the fork supplies this app file itself (as a plain file or a template) in its base layer. */
export function forkHasAppFile(fork: string | undefined, path: string): boolean {
  return Boolean(fork) && (existsSync(join(fork!, 'base', path)) || existsSync(join(fork!, 'base', `${path}.hbs`)));
}

/** The files below an app templates folder (e.g. `features/csv-import`), built-in and fork together, sorted. */
export function appTemplateFiles(folder: string, fork?: string): string[] {
  const out = new Set<string>();
  for (const root of [join(builtinTemplatesDir(), 'app', folder), ...(fork ? [join(resolve(fork), folder)] : [])]) {
    if (!existsSync(root)) continue;
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const full = join(dir, entry);
        if (statSync(full).isDirectory()) walk(full);
        else out.add(relative(root, full).split(sep).join('/'));
      }
    };
    walk(root);
  }
  return [...out].sort();
}
