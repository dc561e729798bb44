import { existsSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderNetlifyToml, renderVercelJson, SECURITY_HEADERS } from '../../src/security/headers.js';

// The server sends these headers itself. A static host or CDN config written by `npm run headers:write`
// (netlify.toml, vercel.json) must carry exactly the same ones: checked when such a file exists.
test('a deploy config written by npm run headers:write carries exactly the headers of src/security/headers.ts', () => {
  if (existsSync('netlify.toml')) assert.fixture(readFileSync('netlify.toml', 'utf8'), renderNetlifyToml());
  if (existsSync('vercel.json')) assert.fixture(readFileSync('vercel.json', 'utf8'), renderVercelJson());
  assert.match(renderNetlifyToml(), /Strict-Transport-Security = "max-age=63072000; includeSubDomains"/);
  assert.match(renderVercelJson(), /"key": "Content-Security-Policy"/);
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
