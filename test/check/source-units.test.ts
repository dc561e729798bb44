// The server checks' findings are cached per unit (lib/check/server/units.ts) under every input the
// unit read: after an edit only the units that read the edited file run again. The cache must never
// hide a finding: a weakening written into one file is found, a finding that depends on another
// file follows that file, another checker's entries and a damaged store are not used, and every
// file a unit opens is among the inputs it recorded (traced).
import fs, { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkServerUnits, serverUnits } from '../../lib/check/server/index.js';
import { unitsFile } from '../../lib/check/server/units.js';
import { resolveFrom } from '../../lib/check/database.js';
import { Syntax } from '../../lib/check/syntax.js';
import { codeFile, loadTypeScript } from '../../lib/check/typescript-code.js';
import type { Finding } from '../../lib/check/types.js';
import { scaffold } from './app.js';
import { traceFileReads } from '../helpers/fs-trace.js';

delete process.env.XMS_CHECK_NO_CACHE;
delete process.env.XMS_CHECK_NO_FINDINGS_CACHE;

const { appDir, cleanup } = scaffold('default');
test.after(cleanup);
fs.mkdirSync(join(appDir, 'node_modules')); // the store lives in this app's node_modules/.cache/xms-check
const store = unitsFile(appDir);
const summary = (findings: Finding[]) => findings.map((f) => `${f.severity} ${f.id} ${f.object}: ${f.message}`).sort();
const ids = (findings: Finding[]) => findings.map((f) => `${f.id} ${f.object.replace(/:\d+$/, '')}`);

/** Runs fn with a file's content changed by edit, and restores it. */
async function withEdit<T>(path: string, edit: (text: string) => string, fn: () => Promise<T>): Promise<T> {
  const file = join(appDir, path);
  const before = readFileSync(file, 'utf8');
  const after = edit(before);
  assert.is.not(after, before, `the edit of ${path} changed nothing`);
  writeFileSync(file, after);
  try {
    return await fn();
  } finally {
    writeFileSync(file, before);
  }
}

let clean: string[] = [];
let allUnits: string[] = [];

test('a second check of unchanged files runs no unit and loads no TypeScript; its findings are the first', async () => {
  const first = await checkServerUnits(appDir);
  allUnits = first.ran;
  assert.ok(allUnits.includes('scopes') && allUnits.includes('scan:src/server/app.ts'), allUnits.join(', '));
  clean = summary(first.findings);
  assert.equal(clean.filter((f) => f.startsWith('error')), []);
  const syntax = await Syntax.load(appDir);
  const { runUnits } = await import('../../lib/check/server/units.js');
  const second = runUnits(syntax, serverUnits(syntax));
  assert.equal(second.ran, []);
  assert.not.ok(syntax.typescriptLoaded, 'TypeScript was loaded with every unit cached');
  assert.equal(summary(second.findings), clean);
});

test('a weakening written into one file is found; only the units reading that file run', async () => {
  await withEdit('src/auth/login.ts', (t) => `${t}\nexport function remember(token: string) {\n  localStorage.setItem('session-token', token);\n}\n`, async () => {
    const r = await checkServerUnits(appDir);
    assert.ok(ids(r.findings).includes('SRV012-token-in-browser-storage src/auth/login.ts'), ids(r.findings).join(', '));
    assert.equal(r.ran, ['scan:src/auth/login.ts']);
  });
  await withEdit('src/auth/sessions.ts', (t) => t.replace(/httpOnly:\s*true/, 'httpOnly: false'), async () => {
    const r = await checkServerUnits(appDir);
    assert.ok(ids(r.findings).some((f) => f.startsWith('SRV008-cookie-insecure')), ids(r.findings).join(', '));
    assert.ok(r.ran.includes('cookies'), r.ran.join(', '));
    assert.ok(r.ran.length < allUnits.length / 2, r.ran.join(', '));
  });
  assert.equal(summary((await checkServerUnits(appDir)).findings), clean);
});

test('a finding in one file follows the other file it depends on (the public list, an imported body schema)', async () => {
  // the route is in src/routes/public/auth.ts (not edited); the list that allows it is another file
  await withEdit('src/server/public-routes.ts', (t) => t.replace("  'POST /api/auth/signup',\n", ''), async () => {
    const r = await checkServerUnits(appDir);
    assert.ok(ids(r.findings).includes('SRV002-public-route-unlisted src/routes/public/auth.ts'), ids(r.findings).join(', '));
  });
  // src/routes/api/passkeys.ts (not edited) takes ProofBody from src/routes/api/mfa.ts
  await withEdit('src/routes/api/mfa.ts', (t) => t.replace('export const ProofBody = Strict(', 'export const ProofBody = Type.Object('), async () => {
    const r = await checkServerUnits(appDir);
    assert.ok(ids(r.findings).includes('SRV020-write-body-not-strict src/routes/api/passkeys.ts'), ids(r.findings).join(', '));
  });
  assert.equal(summary((await checkServerUnits(appDir)).findings), clean);
});

test("another checker's entries are not used (and this checker's are: the control)", async () => {
  await checkServerUnits(appDir);
  const json = JSON.parse(readFileSync(store, 'utf8')) as { version: string; digest: string; units: Record<string, { value: unknown }> };
  // a finding planted into every stored unit, the digest made to match: this checker reports it
  const planted = { id: 'PLANTED', severity: 'error', object: 'x', message: 'from the store', fix: '-' };
  for (const [id, entry] of Object.entries(json.units)) if (id.startsWith('unit:')) entry.value = [planted];
  const { createHash } = await import('node:crypto');
  json.digest = createHash('sha256').update(JSON.stringify(json.units)).digest('hex');
  writeFileSync(store, JSON.stringify(json));
  const control = await checkServerUnits(appDir);
  assert.equal(control.ran, []);
  assert.ok(control.findings.some((f) => f.id === 'PLANTED'), 'the store was not read: the test below proves nothing');
  // the same entries under another checker's version (its lib/ or TypeScript build differ)
  writeFileSync(store, JSON.stringify({ ...json, version: json.version.slice(0, -1) + (json.version.endsWith('0') ? '1' : '0') }));
  const other = await checkServerUnits(appDir);
  assert.not.ok(other.findings.some((f) => f.id === 'PLANTED'), "another checker's finding was reported");
  assert.equal(other.ran, allUnits);
  assert.equal(summary(other.findings), clean);
});

test('a damaged store is ignored: torn, altered, garbage, or values of another shape', async () => {
  await checkServerUnits(appDir);
  const good = readFileSync(store, 'utf8');
  const altered = good.replace(/"value":\[\]/, '"value":[{"id":"X","severity":"error","object":"x","message":"m","fix":"f"}]');
  assert.is.not(altered, good);
  const json = JSON.parse(good) as { version: string; units: Record<string, { inputs: unknown; value: unknown }> };
  // entries of the right digest but wrong shapes (as a bug could write): a unit's value not findings,
  // a route module's routes not a list, inputs not pairs
  for (const [id, entry] of Object.entries(json.units)) {
    if (id.startsWith('plugin:')) entry.value = 'not a list';
    else if (id === 'unit:headers') entry.value = { not: 'findings' };
    else if (id === 'unit:cookies') entry.inputs = 'nothing';
  }
  const { createHash } = await import('node:crypto');
  const shapes = JSON.stringify({ ...json, digest: createHash('sha256').update(JSON.stringify(json.units)).digest('hex') });
  for (const [label, text] of [['torn', good.slice(0, good.length / 2)], ['altered', altered], ['garbage', '\u0000\u0001not json'], ['shapes', shapes]] as const) {
    writeFileSync(store, text);
    const r = await checkServerUnits(appDir);
    assert.equal(summary(r.findings), clean, label);
    if (label !== 'shapes') assert.equal(r.ran, allUnits, label);
  }
  // the store written again is read again
  assert.equal((await checkServerUnits(appDir)).ran, []);
});

test('a route module edited to add a public route off the list is found (its routes are read again)', async () => {
  await withEdit('src/routes/public/health.ts', (t) => t.replace(/(\n\s*)(app\.get\(\s*'\/health')/, "$1app.get('/debug-dump', async () => ({}));$1$2"), async () => {
    const r = await checkServerUnits(appDir);
    assert.ok(ids(r.findings).includes('SRV002-public-route-unlisted src/routes/public/health.ts'), ids(r.findings).join(', '));
  });
  assert.equal(summary((await checkServerUnits(appDir)).findings), clean);
});

test('a unit records the same inputs whether it computed the shared values itself or took them from another unit or the store', async () => {
  const fresh = new Map<string, string[]>();
  for (const id of allUnits) {
    const syntax = await Syntax.load(appDir);
    const unit = serverUnits(syntax).find((u) => u.id === id)!;
    fresh.set(id, [...syntax.track(() => unit.run(syntax)).inputs].map(([k, v]) => `${k}=${v}`).sort());
  }
  // the store keeps the shared values (route modules, the public list, ...) but no unit's findings:
  // every unit runs, the shared values come from the store or from the unit that computed them first
  await checkServerUnits(appDir);
  const json = JSON.parse(readFileSync(store, 'utf8')) as { version: string; digest: string; units: Record<string, unknown> };
  for (const id of Object.keys(json.units)) if (id.startsWith('unit:')) delete json.units[id];
  const { createHash } = await import('node:crypto');
  json.digest = createHash('sha256').update(JSON.stringify(json.units)).digest('hex');
  writeFileSync(store, JSON.stringify(json));
  const r = await checkServerUnits(appDir);
  assert.equal(r.ran, allUnits);
  const after = JSON.parse(readFileSync(store, 'utf8')) as { units: Record<string, { inputs: Array<[string, string]> }> };
  for (const id of allUnits) {
    const shared = after.units[`unit:${id}`]!.inputs.map(([k, v]) => `${k}=${v}`).sort();
    assert.equal(shared, fresh.get(id), id);
  }
});

test('every app file a unit opens is among the inputs it recorded (traced, unit by unit)', async () => {
  const trace = traceFileReads(appDir);
  const read = trace.read;
  const misses: string[] = [];
  let opened = 0; // the trace itself must see the reads, or no miss could show
  try {
    // a fresh instance per unit: nothing parsed by an earlier unit hides a read
    const units = serverUnits(await Syntax.load(appDir)).map((u) => u.id);
    assert.ok(units.length > 20, units.join(', '));
    for (const id of units) {
      const syntax = await Syntax.load(appDir);
      const unit = serverUnits(syntax).find((u) => u.id === id)!;
      void syntax.ts; // loading TypeScript is not an app file
      read.clear();
      const { inputs } = syntax.track(() => unit.run(syntax));
      const recorded = [...inputs.keys()].map((k) => k.slice(2));
      const mentions = [...inputs.keys()].some((k) => k.startsWith('w:'));
      opened += read.size;
      for (const path of read) {
        if (path === '' || path === 'node_modules' || path.startsWith('node_modules/')) continue;
        // a folder's listing covers the existence of what it holds; w: covers the files under src/ searched for a word
        if (recorded.includes(path) || (mentions && (path === 'src' || path.startsWith('src/')))) continue;
        misses.push(`${id}: ${path}`);
      }
    }
  } finally {
    trace.stop();
  }
  assert.ok(opened > 0, "the trace saw no read");
  assert.equal(misses, [], `units opened files they did not record: ${misses.join(', ')}`);
});

test("TypeScript's compiled code is kept and used; a damaged or foreign copy is not", async () => {
  const resolved = resolveFrom('typescript', appDir)!;
  const file = codeFile(resolved, appDir);
  fs.rmSync(file, { force: true });
  const parse = (ts: typeof import('typescript')) => ts.createSourceFile('a.ts', 'export const a: number = 1;', ts.ScriptTarget.Latest, true).statements.length;
  const first = loadTypeScript(resolved, appDir);
  assert.not.ok(first.fromCache);
  assert.is(parse(first.ts), 1);
  first.keep();
  assert.ok(fs.existsSync(file));
  const second = loadTypeScript(resolved, appDir);
  assert.ok(second.fromCache, 'the kept code was not used');
  assert.is(parse(second.ts), 1);
  assert.is(second.ts.version, first.ts.version);
  // one byte of the code changed: its digest no longer matches, TypeScript is compiled from its source
  const bytes = readFileSync(file);
  bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
  writeFileSync(file, bytes);
  const damaged = loadTypeScript(resolved, appDir);
  assert.not.ok(damaged.fromCache);
  assert.is(parse(damaged.ts), 1);
  // a copy others could have written is not read
  damaged.keep();
  if (typeof process.getuid === 'function') {
    fs.chmodSync(file, 0o666);
    assert.not.ok(loadTypeScript(resolved, appDir).fromCache);
    fs.chmodSync(file, 0o600);
  }
  assert.ok(loadTypeScript(resolved, appDir).fromCache);
});

test.run();
