import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderNetlifyToml, renderVercelJson, SECURITY_HEADERS } from '../../src/security/headers.js';

test('netlify.toml carries exactly the headers of src/security/headers.ts (npm run headers:write)', () => {
  assert.fixture(readFileSync('netlify.toml', 'utf8'), renderNetlifyToml());
});

test('vercel.json carries exactly the headers of src/security/headers.ts (npm run headers:write)', () => {
  assert.fixture(readFileSync('vercel.json', 'utf8'), renderVercelJson());
});

test('the header source is strict (I11)', () => {
  const csp = SECURITY_HEADERS['Content-Security-Policy']!;
  for (const directive of ["default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"]) {
    assert.ok(csp.split(';').includes(directive), directive);
  }
  assert.ok(csp.split(';').includes("script-src 'self'"));
  assert.not.match(csp, /unsafe-inline|unsafe-eval/);
  assert.ok(Number(/max-age=(\d+)/.exec(SECURITY_HEADERS['Strict-Transport-Security']!)?.[1]) >= 31536000);
});

test.run();
