#!/usr/bin/env node
// Part of `npm run build`, after tsc: bundles the two CLIs (dist/lib/cli/create.js and xms.js) with
// esbuild into dist/cli/, which bin/ runs. A short command's time was mostly module loading: ~40 of our
// ES modules plus yaml's ~80 CommonJS files, each resolved, read and compiled on its own. The bundle
// is made from the compiled dist/lib files of the same build (so hashes of dist/lib/matrix code, the
// compile cache's key, describe the bundled code) and keeps every dynamic import() lazy (splitting:
// a command loads only its own chunks). Bundled packages: yaml, validate-npm-package-name. Not bundled:
// every other package (the SQL parser is WebAssembly, handlebars is require()d by path, the prompt
// library, execa, TypeScript and PGlite load only where needed) and the commands that keep loading
// from dist/lib as they are (`xms check`, `xms update`, `xms harden`: worker threads and their own
// module graphs).
import { rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'cli');
const BUNDLED_PACKAGES = new Set(['yaml', 'validate-npm-package-name']);
/** Our modules loaded as they are from dist/lib (by their path below dist/). */
const UNBUNDLED = ['lib/check/index.js', 'lib/update/index.js', 'generators/harden/harden.js'].map((p) => join(root, 'dist', p));

rmSync(outdir, { recursive: true, force: true });
// One build per CLI: shared chunks would split create's own code into many small files, each a
// module to load (chunk names are content hashes, so a chunk both builds make is one file).
const outputs = {};
for (const entry of ['create', 'xms']) {
  const { metafile } = await build({
    entryPoints: { [entry]: join(root, `dist/lib/cli/${entry}.js`) },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: '[name]-[hash]',
    // the bundled CommonJS packages require() Node's built-ins
    banner: { js: "import { createRequire as __xmsCreateRequire } from 'node:module';\nconst require = __xmsCreateRequire(import.meta.url);" },
    logLevel: 'warning',
    metafile: true,
    plugins: [
      {
        name: 'xms-externals',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined;
            if (/^(node:|[a-z@])/i.test(args.path) && !args.path.startsWith('.')) {
              const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
              return BUNDLED_PACKAGES.has(name) ? undefined : { path: args.path, external: true };
            }
            const target = join(args.resolveDir, args.path);
            if (UNBUNDLED.includes(target)) {
              // every output file is in dist/cli: one relative path from each
              return { path: target, external: true, namespace: 'file' };
            }
            return undefined;
          });
        },
      },
    ],
  });
  Object.assign(outputs, metafile.outputs);
}

// Which modules each output file holds (for tests that prove what a command loads, by module name).
const inputs = Object.fromEntries(
  Object.entries(outputs).map(([file, output]) => [basename(file), Object.keys(output.inputs).map((input) => resolve(input))]),
);
writeFileSync(join(outdir, 'bundle-inputs.json'), `${JSON.stringify(inputs, null, 1)}\n`);
