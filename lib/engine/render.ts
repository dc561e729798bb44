import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, basename } from 'node:path';
import type Handlebars from 'handlebars';
import type { HelperDelegate } from 'handlebars';

/** A precompiled template (handlebars' TemplateSpecification, global in its typings). */
type TemplateSpecification = Parameters<typeof Handlebars.template>[0];
import { UserError } from './errors.js';
import { byCodePoint } from './order.js';
import { packageRoot } from './paths.js';
import type { TemplateFile } from './templates.js';

const require = createRequire(import.meta.url);

export interface RenderedFile {
  path: string;
  contents: Buffer;
  /** The template file it came from, for error messages. */
  from: string;
}

/** How every template is compiled: no HTML escaping (we write code, not HTML), a missing field is an error. */
export const TEMPLATE_OPTIONS = { noEscape: true, strict: true } as const;

/**
 * dist/precompiled-templates.cjs (written by `npm run build`, scripts/build-templates.mjs): every
 * built-in template precompiled, by the SHA-256 of its source, and the options it was compiled with.
 * A template edited after the build (or a team's own template) has another key and is compiled at
 * run time instead. (Keyed by the source text itself, the set took longer to load than hashing takes.)
 */
export interface PrecompiledTemplates {
  options: typeof TEMPLATE_OPTIONS;
  templates: Map<string, TemplateSpecification>;
}

/** The key of a template in the precompiled set. */
export function templateKey(source: string): string {
  return createHash('sha256').update(source).digest('hex');
}

let precompiled: Map<string, TemplateSpecification> | undefined;

/** The precompiled set of this build, or an empty one (running from sources, another build's options). */
export function loadPrecompiledTemplates(): Map<string, TemplateSpecification> {
  if (!precompiled) {
    precompiled = new Map();
    if (!process.env.XMS_NO_PRECOMPILED) {
      try {
        const set = require(join(packageRoot(), 'dist', 'precompiled-templates.cjs')) as PrecompiledTemplates;
        if (JSON.stringify(set.options) === JSON.stringify(TEMPLATE_OPTIONS) && set.templates instanceof Map) precompiled = set.templates;
      } catch {
        // running from sources, or a build without it: compile everything
      }
    }
  }
  return precompiled;
}

function precompiledSpec(source: string): TemplateSpecification | undefined {
  const set = loadPrecompiledTemplates();
  return set.size ? set.get(templateKey(source)) : undefined;
}

const BUILTIN_HELPERS: Record<string, (hbs: typeof Handlebars) => HelperDelegate> = {
  json: (hbs) => (value: unknown) => new hbs.SafeString(JSON.stringify(value, null, 2)),
  eq: () => (a: unknown, b: unknown) => a === b,
  or: () => (...args: unknown[]) => args.slice(0, -1).some(Boolean),
  and: () => (...args: unknown[]) => args.slice(0, -1).every(Boolean),
  // {{pad name 11}}: the name and spaces up to a column (SQL column lists line up like the base migrations)
  pad: () => (value: unknown, width: unknown) => String(value).padEnd(Number(width)),
  // {{dep "fastify"}}: `"fastify": "<range>"` from the context's `versions` (templates/app/versions.json,
  // the one list of the generated app's dependency versions); a package missing there is an error
  dep: () => (name: unknown, options: { data?: { root?: { versions?: Record<string, string> } } }) => {
    const range = options.data?.root?.versions?.[String(name)];
    if (typeof range !== 'string') throw new Error(`dep "${String(name)}": no version for it in templates/app/versions.json`);
    return `${JSON.stringify(String(name))}: ${JSON.stringify(range)}`;
  },
};

function readPartials(partialDirs: string[]): Map<string, string> {
  const partials = new Map<string, string>();
  for (const dir of partialDirs) {
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).sort()) {
      if (file.endsWith('.hbs')) partials.set(basename(file, '.hbs'), readFileSync(join(dir, file), 'utf8'));
    }
  }
  return partials;
}

/**
 * The one renderer: every template (the app's, every generator's, `xms harden`'s, a fork's) is
 * rendered here, with our helpers and the partials of the given folders, strict (a missing field is
 * an error) and without HTML escaping. A template (or partial)
 * that `npm run build` precompiled runs on the handlebars runtime alone; the compiler is loaded only
 * when some template is not among them (a team's `--template` folder, an edit since the build). Both
 * paths give the same output: precompiling is what `compile` does internally.
 */
export class TemplateRenderer {
  private readonly partials: Map<string, string>;
  private env: typeof Handlebars | undefined;
  private withCompiler = false;

  constructor(partialDirs: string[]) {
    this.partials = readPartials(partialDirs);
  }

  /** Renders one template source; throws handlebars' own error (callers add the file name). */
  render(source: string, context: object): string {
    const spec = precompiledSpec(source);
    const env = this.environment(!spec);
    const template = spec ? env.template(spec) : env.compile(source, TEMPLATE_OPTIONS);
    return template(context);
  }

  private environment(needsCompiler: boolean): typeof Handlebars {
    if (this.env && (this.withCompiler || !needsCompiler)) return this.env;
    // a partial that was not precompiled needs the compiler too (it is compiled on first use)
    const partialSpecs = new Map([...this.partials].map(([name, source]) => [name, precompiledSpec(source)]));
    const compiler = needsCompiler || [...partialSpecs.values()].some((spec) => !spec);
    // the runtime as handlebars' one-file build: the same code as handlebars/runtime, which loads 20
    // CommonJS files (a third of a scaffold's module loading)
    const hbs = (compiler ? require('handlebars') : require('handlebars/dist/handlebars.runtime.js')) as typeof Handlebars;
    const env = hbs.create();
    for (const [name, helper] of Object.entries(BUILTIN_HELPERS)) env.registerHelper(name, helper(env));
    for (const [name, source] of this.partials) {
      const spec = partialSpecs.get(name);
      env.registerPartial(name, spec ? env.template(spec) : source);
    }
    this.env = env;
    this.withCompiler = compiler;
    return env;
  }
}

/**
 * Renders `.hbs` templates and copies everything else.
 * A `{{` left in any output means a template or a copied file has a placeholder nobody filled in.
 */
export function renderFiles(files: Map<string, TemplateFile>, context: object, renderer: TemplateRenderer): RenderedFile[] {
  const out: RenderedFile[] = [];
  for (const [path, file] of [...files.entries()].sort(([a], [b]) => byCodePoint(a, b))) {
    const raw = readFileSync(file.absolutePath);
    let contents: Buffer = raw;
    if (file.source.endsWith('.hbs')) {
      try {
        contents = Buffer.from(renderer.render(raw.toString('utf8'), context), 'utf8');
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
