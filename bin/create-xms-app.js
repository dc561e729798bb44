#!/usr/bin/env node
// Thin shim: the CLI is TypeScript compiled to dist/ and bundled into dist/cli/create.cjs (npm run
// build, also run on install via prepare; scripts/build-bundle.mjs says why it is CommonJS, and
// bin/package.json makes this file CommonJS too).
require('../dist/cli/create.cjs').run(process.argv.slice(2));
