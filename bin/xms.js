#!/usr/bin/env node
// Thin shim: the CLI is TypeScript compiled to dist/ (npm run build, also run on install via prepare).
import { run } from '../dist/lib/cli/xms.js';

await run(process.argv.slice(2));
