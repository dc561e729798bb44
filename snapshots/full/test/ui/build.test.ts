/**
 * The SPA's production build runs under the strict CSP and carries no secret (invariants I11, I15):
 * it is built here with Vite's API into a temporary folder, with canary secrets in the environment,
 * and the output is inspected.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CANARIES, sharedBuild, sourceFiles, withoutComments } from './support.js';

let outDir: string;
let html: string;
let assets: { name: string; text: string }[];

test.before(async () => {
  outDir = await sharedBuild();
  html = readFileSync(join(outDir, 'index.html'), 'utf8');
  const dir = join(outDir, 'assets');
  assets = readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isFile())
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
});

test('index.html has no inline script, no inline style, no event-handler attribute', () => {
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  assert.ok(scripts.length >= 1, 'the built page loads a script');
  for (const [, attributes, body] of scripts) {
    assert.match(attributes!, /\bsrc="\/assets\/[^"]+\.js"/, `every script is an external file under /assets: ${attributes}`);
    assert.is(body!.trim(), '', 'no script body');
  }
  assert.not.match(html, /<style\b/i, 'no <style> element');
  assert.not.match(html, /\sstyle\s*=/i, 'no style attribute');
  assert.not.match(html, /\son[a-z]+\s*=/i, 'no inline event handler');
  assert.not.match(html, /javascript:/i, 'no javascript: URL');
  assert.match(html, /<link rel="stylesheet"[^>]*href="\/assets\/[^"]+\.css"/, 'one external stylesheet');
  // every URL the page loads is same-origin (the CSP allows 'self' only; data: for the empty icon)
  for (const [, url] of html.matchAll(/\s(?:src|href)="([^"]*)"/g)) {
    assert.ok(url!.startsWith('/') || url === 'data:,', `same-origin URL: ${url}`);
  }
});

test('the build emits only external JS and CSS files', () => {
  const kinds = new Set(assets.map((a) => extname(a.name)));
  assert.ok(kinds.has('.js') && kinds.has('.css'), `assets: ${[...kinds].join(', ')}`);
  for (const kind of kinds) assert.ok(['.js', '.css'].includes(kind), `unexpected asset type ${kind}`);
});

test('no eval or inline-style injection in the bundle (script-src / style-src without unsafe-*)', () => {
  for (const { name, text } of assets.filter((a) => a.name.endsWith('.js'))) {
    assert.not.match(text, /\beval\(/, `${name}: eval`);
    assert.not.match(text, /new Function\(/, `${name}: new Function`);
    assert.not.match(text, /createElement\(["']style["']\)/, `${name}: creates <style> elements`);
  }
  for (const { name, text } of assets.filter((a) => a.name.endsWith('.css'))) {
    assert.not.match(text, /url\(\s*["']?(?:https?:)?\/\//i, `${name}: loads from another origin`);
    assert.not.match(text, /@import/i, `${name}: @import`);
  }
});

test('no secret, DATABASE_URL or token handling in the built files', () => {
  for (const { name, text } of [{ name: 'index.html', text: html }, ...assets]) {
    for (const canary of CANARIES) assert.not.ok(text.includes(canary), `${name} contains the canary ${canary}`);
    assert.not.match(text, /DATABASE_URL|postgres(?:ql)?:\/\//i, `${name}: a database URL`);
    assert.not.match(text, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, `${name}: a private key`);
    assert.not.match(text, /service_role|sk_live_|xms_app_password/i, `${name}: a privileged key`);
    assert.not.match(text, /localStorage|sessionStorage|indexedDB/, `${name}: browser storage`);
    assert.not.match(text, /document\.cookie/, `${name}: reads cookies`);
    assert.not.match(text, /__Host-session/, `${name}: names the session cookie`);
  }
});

test('the SPA sources: no style attribute, no raw HTML, every request through api.ts, same-origin', () => {
  const files = sourceFiles();
  assert.ok(files.length > 5);
  for (const { path, text: raw } of files) {
    const text = withoutComments(raw);
    assert.not.match(text, /\bstyle=/, `${path}: style attribute`);
    assert.not.match(text, /dangerouslySetInnerHTML|innerHTML|outerHTML|insertAdjacentHTML/, `${path}: raw HTML`);
    assert.not.match(text, /localStorage|sessionStorage|document\.cookie|Authorization/, `${path}: token handling`);
    assert.not.match(text, /import\.meta\.env\.(?!DEV\b|PROD\b|MODE\b)/, `${path}: reads the build environment`);
    if (!path.endsWith('api.ts')) assert.not.match(text, /\bfetch\(/, `${path}: calls fetch outside api.ts`);
  }
  const api = files.find((f) => f.path.endsWith('api.ts'))!.text;
  assert.match(api, /credentials: 'same-origin'/);
  assert.match(api, /mode: 'same-origin'/);
});

test.run();
