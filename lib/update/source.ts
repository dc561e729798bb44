/**
 * A generator version as a folder whose own CLI can render an app: the running package, a package
 * folder, a tarball (`npm pack` output) or an npm spec (a version, range or tag, fetched with
 * `npm pack create-xms-app@<spec>`). Tarballs are unpacked once into a cache keyed by their hash.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../engine/errors.js';
import { packageRoot } from '../engine/paths.js';

export interface GeneratorPackage {
  /** the spec as given or recorded */
  spec: string;
  /** the package folder (bin/create-xms-app.js, bin/xms.js, dist/) */
  dir: string;
  version: string;
}

/** Where fetched versions are kept: the app's node_modules/.cache (its dependencies resolve from there). */
export function cacheDir(appDir: string): string {
  return existsSync(join(appDir, 'node_modules'))
    ? join(appDir, 'node_modules', '.cache', 'xms-update')
    : join(tmpdir(), `xms-update-cache-${process.getuid?.() ?? 'user'}`);
}

const looksLikePath = (spec: string) => spec.startsWith('file:') || spec.startsWith('.') || spec.startsWith('/') || spec.endsWith('.tgz') || spec.includes('\\');

function readManifest(dir: string, spec: string): { name?: string; version?: string; dependencies?: Record<string, string> } {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) throw new UserError(`generator ${spec}: no package.json in ${dir}.`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

function checkPackage(dir: string, spec: string): GeneratorPackage {
  const manifest = readManifest(dir, spec);
  if (manifest.name !== 'create-xms-app') throw new UserError(`generator ${spec}: ${dir} is not create-xms-app (its package.json names "${manifest.name}").`);
  if (!existsSync(join(dir, 'dist', 'lib', 'cli', 'create.js'))) throw new UserError(`generator ${spec}: ${dir} is not built (no dist/; run npm run build there).`);
  return { spec, dir, version: manifest.version ?? 'unknown' };
}

/** Is every runtime dependency of the package reachable by Node's resolution from its folder? */
function dependenciesResolve(dir: string): boolean {
  const deps = Object.keys(readManifest(dir, dir).dependencies ?? {});
  const real = realpathSync(dir); // Node resolves from a module's real path
  return deps.every((dep) => {
    for (let at = real; ; at = dirname(at)) {
      if (existsSync(join(at, 'node_modules', dep, 'package.json'))) return true;
      if (dirname(at) === at) return false;
    }
  });
}

/** The node_modules folder the running package's dependencies resolve from. */
function ownDependencies(): string | undefined {
  const deps = Object.keys(readManifest(packageRoot(), 'self').dependencies ?? {});
  for (let at = realpathSync(packageRoot()); dirname(at) !== at; at = dirname(at)) {
    const candidate = join(at, 'node_modules');
    if (deps.every((dep) => existsSync(join(candidate, dep, 'package.json')))) return candidate;
  }
  return undefined;
}

/**
 * Points `link` at `target`. The cache outlives the checkout that filled it: a link left by another
 * checkout may point elsewhere or dangle (existsSync follows it and says false), so it is replaced.
 */
function linkTo(target: string, link: string): void {
  let current: string | undefined;
  try {
    if (lstatSync(link).isSymbolicLink()) current = readlinkSync(link);
    else return; // a real folder: dependencies installed for this version (below)
  } catch {
    // no link yet
  }
  if (current === target) return;
  if (current !== undefined) unlinkSync(link);
  symlinkSync(target, link, 'dir');
}

async function unpack(tarball: string, cache: string, spec: string): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(tarball)).digest('hex').slice(0, 16);
  const dir = join(cache, hash, 'package');
  if (!existsSync(join(dir, 'package.json'))) {
    const { execa } = await import('execa');
    const scratch = join(cache, `${hash}.${process.pid}.tmp`);
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    try {
      await execa('tar', ['-xzf', tarball, '-C', scratch]);
      mkdirSync(join(cache, hash), { recursive: true });
      rmSync(dir, { recursive: true, force: true });
      renameSync(join(scratch, 'package'), dir);
    } catch (error) {
      throw new UserError(`generator ${spec}: cannot unpack ${tarball} (${(error as Error).message.split('\n')[0]}).`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  const found = checkPackage(dir, spec);
  if (!dependenciesResolve(dir)) {
    // Outside an installed app: borrow the running package's dependencies (the same ranges, as a rule)
    const own = ownDependencies();
    const link = join(cache, hash, 'node_modules');
    if (own) linkTo(own, link);
  }
  if (!dependenciesResolve(dir)) {
    // an older version with other dependencies: install its own (its scripts are not needed: it is built)
    const { execa } = await import('execa');
    rmSync(join(cache, hash, 'node_modules'), { force: true, recursive: true });
    try {
      await execa('npm', ['install', '--omit=dev', '--omit=peer', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: dir, stdin: 'ignore', all: true });
    } catch (error) {
      throw new UserError(`generator ${spec}: installing its dependencies failed (${((error as { all?: string }).all ?? '').trim().split('\n').filter((line) => /error/i.test(line))[0] ?? 'npm install failed'}).`);
    }
  }
  return found.dir;
}

/**
 * Resolves a spec to a runnable package folder. `self` (or the version and source of the running
 * package) is the running package. Paths are relative to `appDir`.
 */
export async function fetchGenerator(spec: string, appDir: string): Promise<GeneratorPackage> {
  const own = packageRoot();
  if (spec === 'self' || resolve(appDir, spec.replace(/^file:/, '')) === own) return checkPackage(own, spec);
  const cache = cacheDir(appDir);
  if (looksLikePath(spec)) {
    const path = resolve(appDir, spec.replace(/^file:/, ''));
    if (!existsSync(path)) throw new UserError(`generator ${spec}: no such file or folder (${path}).`);
    if (statSync(path).isDirectory()) return checkPackage(path, spec);
    return { ...checkPackage(await unpack(path, cache, spec), spec) };
  }
  const npmSpec = spec.startsWith('create-xms-app@') ? spec : `create-xms-app@${spec}`;
  if (!/^create-xms-app@[\w.^~<>=|* -]+$/.test(npmSpec)) throw new UserError(`generator ${spec}: not a version, tarball or folder.`);
  const exact = /^create-xms-app@\d+\.\d+\.\d+(-[\w.]+)?$/.test(npmSpec);
  const kept = join(cache, `${npmSpec.replace(/[^\w.-]/g, '_')}.tgz`);
  if (!(exact && existsSync(kept))) {
    const { execa } = await import('execa');
    const scratch = join(cache, `pack.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`);
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    try {
      await execa('npm', ['pack', npmSpec, '--silent', '--pack-destination', scratch], { stdin: 'ignore', all: true });
      const packed = readdirSync(scratch).find((name) => name.endsWith('.tgz'));
      if (!packed) throw new Error('npm pack wrote no tarball');
      renameSync(join(scratch, packed), kept);
    } catch (error) {
      const output = (error as { all?: string }).all ?? (error as Error).message;
      const reason = output.split('\n').find((line) => /E404|ETARGET|No matching version|not found/i.test(line))?.replace(/^npm (error|ERR!)\s*/, '');
      throw new UserError(`unknown create-xms-app version "${spec}" (${reason ?? output.trim().split('\n').pop()}).`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return checkPackage(await unpack(kept, cache, spec), spec);
}
