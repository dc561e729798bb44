/**
 * What a command of this repo's CLI runs, module by module, read from V8's coverage of the process
 * (NODE_V8_COVERAGE), so a test can prove that a path does not load what it does not use:
 *   - every script the process ran: a package's files, ES modules and CommonJS alike (handlebars is
 *     require()d, and is seen like the rest);
 *   - inside a bundle file of dist/cli (scripts/build-bundle.mjs), the bundled modules that ran: the
 *     ones it runs on load, and each lazily run one whose init function was called
 *     (dist/cli/bundle-inputs.json lists both).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, type CliResult } from './cli.js';

interface Coverage {
  result: { url: string; functions: { functionName: string; ranges: { count: number }[] }[] }[];
}
interface BundleInputs {
  [file: string]: { modules: string[]; lazy: string[] };
}

/** Runs `node <bin> ...args` and returns its result and the absolute paths of the modules it ran. */
export function runRecordingModules(bin: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult & { loaded: string[] } {
  const coverageDir = mkdtempSync(join(tmpdir(), 'xms-coverage-'));
  try {
    const result = runCli(bin, args, { ...options, env: { ...options.env, NODE_V8_COVERAGE: coverageDir } });
    const loaded = new Set<string>();
    for (const name of readdirSync(coverageDir).filter((f) => f.endsWith('.json'))) {
      const coverage = JSON.parse(readFileSync(join(coverageDir, name), 'utf8')) as Coverage;
      for (const script of coverage.result) {
        if (!script.url.startsWith('file:')) continue; // node: built-ins
        const file = fileURLToPath(script.url);
        loaded.add(file);
        const bundle = bundleInputs(file);
        if (!bundle) continue;
        const ran = new Set(script.functions.filter((f) => (f.ranges[0]?.count ?? 0) > 0).map((f) => f.functionName));
        // esbuild names a lazily run module's init function by the module's path from the repo root
        const root = join(dirname(file), '..', '..');
        for (const module of bundle.modules) {
          if (!bundle.lazy.includes(module) || ran.has(module.slice(root.length + 1))) loaded.add(module);
        }
      }
    }
    if (loaded.size === 0) throw new Error(`no coverage was written for ${bin} ${args.join(' ')}: the recorder does not work`);
    return { ...result, loaded: [...loaded].sort() };
  } finally {
    rmSync(coverageDir, { recursive: true, force: true });
  }
}

const lists = new Map<string, BundleInputs>();
function bundleInputs(file: string): BundleInputs[string] | undefined {
  if (basename(dirname(file)) !== 'cli' || !file.endsWith('.cjs')) return undefined;
  const path = join(dirname(file), 'bundle-inputs.json');
  if (!lists.has(path)) lists.set(path, JSON.parse(readFileSync(path, 'utf8')) as BundleInputs);
  const list = lists.get(path)!;
  const bundle = list[basename(file)];
  if (!bundle) throw new Error(`${file} is not in its bundle-inputs.json`);
  return bundle;
}
