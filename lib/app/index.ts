import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { byCodePoint } from '../engine/order.js';
import {
  UserError,
  assertNoUnrenderedPlaceholders,
  builtinTemplatesDir,
  collectLayers,
  packageRoot,
  renderFiles,
  TemplateRenderer,
  type RenderedFile,
} from '../engine/index.js';

/** Optional features; accounts and sessions (auth) are always on. */
export const FEATURES = ['admin', 'csv-import', 'ui'] as const;
export type Feature = (typeof FEATURES)[number];

export const PRESETS = {
  minimal: [] as Feature[],
  default: ['admin'] as Feature[],
  full: ['admin', 'csv-import', 'ui'] as Feature[],
} satisfies Record<string, Feature[]>;
export type Preset = keyof typeof PRESETS;

export const DATABASE_TARGETS = ['pglite', 'postgres', 'supabase'] as const;
export type DatabaseTarget = (typeof DATABASE_TARGETS)[number];

export const PACKAGE_MANAGERS = ['npm', 'pnpm', 'yarn'] as const;
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

export interface AppAnswers {
  name: string;
  features: Feature[];
  db: DatabaseTarget;
  databaseUrl?: string;
  packageManager: PackageManager;
  install: boolean;
  git: boolean;
}

export interface AppPlanOptions {
  /** A team's template folder, layered over the built-in templates. */
  teamTemplateDir?: string;
  /** The create-xms-app dependency spec (the CLI decides it: lib/cli/self-spec.ts). */
  xmsSpec?: string;
}

function xmsVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string;
}

/**
 * The generated app's dependency versions, by package name: templates/app/versions.json is the one
 * list (package.json.hbs takes them with `{{dep "<name>"}}`, generators that add a dependency read
 * them here).
 */
export function appVersions(): Record<string, string> {
  return JSON.parse(readFileSync(join(builtinTemplatesDir(), 'app', 'versions.json'), 'utf8')) as Record<string, string>;
}

/** The version range of one dependency of the generated app (an unknown name is a bug: it throws). */
export function appVersion(name: string): string {
  const range = appVersions()[name];
  if (range === undefined) throw new Error(`templates/app/versions.json has no version for ${name}`);
  return range;
}

/** The render context every app template sees (the one context builder of the app templates). */
export function appContext(answers: AppAnswers, xmsSpec?: string) {
  const version = xmsVersion();
  return {
    versions: appVersions(),
    name: answers.name,
    features: {
      admin: answers.features.includes('admin'),
      csvImport: answers.features.includes('csv-import'),
      ui: answers.features.includes('ui'),
    },
    featureList: answers.features,
    db: answers.db,
    packageManager: answers.packageManager,
    run: answers.packageManager === 'npm' ? 'npm run' : answers.packageManager,
    xmsVersion: version,
    // Tests point this at a local `npm pack` tarball so the registry is never used.
    xmsSpec: xmsSpec ?? (process.env.CREATE_XMS_APP_SPEC || `^${version}`),
  };
}

/**
 * The template layers for an app, in order: the base app, each chosen feature, then the team's
 * fork (which may itself contain `base/` and `features/<name>/`, mirroring the built-in layout).
 */
export function appLayers(answers: AppAnswers, options: AppPlanOptions): string[] {
  const roots = [join(builtinTemplatesDir(), 'app')];
  if (options.teamTemplateDir) roots.push(options.teamTemplateDir);
  const layers: string[] = [];
  for (const root of roots) {
    layers.push(join(root, 'base'));
    for (const feature of FEATURES) if (answers.features.includes(feature)) layers.push(join(root, 'features', feature));
  }
  return layers;
}

/** Renders the whole app in memory; nothing touches the disk here. */
export function renderApp(answers: AppAnswers, options: AppPlanOptions = {}): RenderedFile[] {
  const roots = [join(builtinTemplatesDir(), 'app'), ...(options.teamTemplateDir ? [options.teamTemplateDir] : [])];
  const renderer = new TemplateRenderer(roots.map((root) => join(root, 'partials')));
  const files = renderFiles(collectLayers(appLayers(answers, options)), appContext(answers, options.xmsSpec), renderer);
  if (answers.databaseUrl) {
    files.push({ path: '.env', contents: Buffer.from(`DATABASE_URL=${answers.databaseUrl}\n`), from: '--database-url' });
  }
  assertNoUnrenderedPlaceholders(files);
  return files.map((file) => (file.path === 'package.json' ? { ...file, contents: normalisePackageJson(file) } : file));
}

/**
 * package.json is assembled from feature conditionals: parse it (a template that renders invalid JSON
 * is an error here, not at install time) and write it back the way npm would, dependencies sorted.
 */
function normalisePackageJson(file: RenderedFile): Buffer {
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(file.contents.toString('utf8'));
  } catch (error) {
    throw new UserError(`package.json rendered from ${file.from} is not valid JSON: ${(error as Error).message}`);
  }
  for (const field of ['dependencies', 'devDependencies']) {
    const deps = manifest[field] as Record<string, string> | undefined;
    if (deps) manifest[field] = Object.fromEntries(Object.entries(deps).sort(([a], [b]) => byCodePoint(a, b)));
  }
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}
