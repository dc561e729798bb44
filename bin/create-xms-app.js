#!/usr/bin/env node
// Thin shim: the CLI is TypeScript compiled to dist/ and bundled into dist/cli/ (npm run build, also
// run on install via prepare; scripts/build-bundle.mjs says why).
import { run } from '../dist/cli/create.js';

await run(process.argv.slice(2));
