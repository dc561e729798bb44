#!/usr/bin/env node
// Part of `npm run build`, after tsc: bundles each CLI (dist/lib/cli/create.js and xms.js) with esbuild
// into one CommonJS file, dist/cli/create.cjs and dist/cli/xms.cjs, which bin/ runs, and yaml into
// dist/cli/yaml.cjs, which both require() on first use.
//   - Why a bundle: a short command's time was mostly module loading: ~40 of our ES modules plus yaml's
//     ~80 CommonJS files, each resolved, read and compiled on its own.
//   - Why CommonJS: Node 20's ES module loader costs a scaffold ~7 ms more than require() of the same
//     bundle (resolving, linking and evaluating module jobs through promises; docs/benchmarks.md,
//     session 31). A dynamic import() of our own code stays lazy inside the file: esbuild wraps the
//     module in an init function that runs on first use, so a command runs only the code it uses (a
//     scaffold of a built-in preset never runs the matrix compiler's).
//   - Why yaml apart: V8 compiles the whole of a file it loads, and yaml was 70% of each CLI's file,
//     used only where permissions.yml is parsed (never by a scaffold of a built-in preset).
// The bundles are made from the compiled dist/lib files of the same build (so hashes of dist/lib/matrix
// code, the compile caches' keys, describe the bundled code: lib/matrix/code-id.ts). Bundled
// packages: validate-npm-package-name, and yaml apart. Not bundled: every other package (the SQL parser
// is WebAssembly, handlebars is require()d by path, the prompt library, execa, TypeScript and PGlite
// load only where needed, all through import()) and the commands that keep loading from dist/lib as
// ES modules (`xms check`, `xms update`, `xms harden`: worker threads and their own module graphs).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'cli');
const BUNDLED_PACKAGES = new Set(['validate-npm-package-name']);
/** Our modules loaded as they are from dist/lib (by their path below dist/). */
const UNBUNDLED = ['lib/check/index.js', 'lib/update/index.js', 'generators/harden/harden.js'].map((p) => join(root, 'dist', p));

/** What every output file is: one CommonJS file in dist/cli for Node 20, with a metafile. */
const COMMON = { outdir, outExtension: { '.js': '.cjs' }, absWorkingDir: root, bundle: true, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'warning', metafile: true };

rmSync(outdir, { recursive: true, force: true });
const yaml = await build({ ...COMMON, entryPoints: { yaml: join(root, 'node_modules', 'yaml', 'dist', 'index.js') } });
const { metafile } = await build({
  ...COMMON,
  entryPoints: { create: join(root, 'dist/lib/cli/create.js'), xms: join(root, 'dist/lib/cli/xms.js') },
  // our modules find the package's files from their own URL; every bundled module now lives in
  // dist/cli, as in the ES module bundle before
  define: { 'import.meta.url': '__xmsModuleUrl' },
  banner: { js: "const __xmsModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [
    {
      name: 'xms-externals',
      setup(b) {
        b.onResolve({ filter: /.*/ }, (args) => {
          if (args.kind === 'entry-point') return undefined;
          if (/^(node:|[a-z@])/i.test(args.path) && !args.path.startsWith('.')) {
            const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
            if (name === 'yaml') return { path: './yaml.cjs', external: true }; // beside both CLIs
            return BUNDLED_PACKAGES.has(name) ? undefined : { path: args.path, external: true };
          }
          const target = join(args.resolveDir, args.path);
          if (UNBUNDLED.includes(target)) {
            // both output files are in dist/cli: one relative path from each
            return { path: target, external: true, namespace: 'file' };
          }
          return undefined;
        });
      },
    },
  ],
});

// Which modules each output file holds, and which of them run only when first used (for tests that
// prove what a command runs, by module name: test/helpers/loaded-modules.ts). esbuild names a lazily
// run module's init function by the module's path: `"dist/lib/matrix/compile.js"() {`.
const inputs = {};
for (const [file, output] of Object.entries({ ...yaml.metafile.outputs, ...metafile.outputs })) {
  const text = readFileSync(join(root, file), 'utf8');
  const modules = Object.keys(output.inputs);
  const lazy = modules.filter((m) => text.includes(`\n  ${JSON.stringify(m)}(`));
  inputs[basename(file)] = { modules: modules.map((m) => resolve(root, m)), lazy: lazy.map((m) => resolve(root, m)) };
}
writeFileSync(join(outdir, 'bundle-inputs.json'), `${JSON.stringify(inputs, null, 1)}\n`);
