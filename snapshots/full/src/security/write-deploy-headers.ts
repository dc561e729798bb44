/**
 * `npm run headers:write`: writes netlify.toml and vercel.json from src/security/headers.ts, the one
 * source of the security headers. Run it after changing the headers; the test suite fails until you do.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderNetlifyToml, renderVercelJson } from './headers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
writeFileSync(`${root}netlify.toml`, renderNetlifyToml());
writeFileSync(`${root}vercel.json`, renderVercelJson());
console.log('wrote netlify.toml and vercel.json from src/security/headers.ts');
