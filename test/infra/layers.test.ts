// Imports point down (docs/ARCHITECTURE.md): `npm run lint:deps` (dependency-cruiser with
// .dependency-cruiser.cjs) passes on this repository, and the same rules refuse an upward import.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

function cruise(cwd: string) {
  return spawnSync(process.execPath, [DEPCRUISE, 'lib', 'generators', '--config', join(cwd, '.dependency-cruiser.cjs')], { cwd, encoding: 'utf8' });
}

test('the repository has no upward import', () => {
  const r = cruise(ROOT);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /no dependency violations found/);
});

test('the rules refuse an upward import, one generator importing another, and a cycle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xms-layers-'));
  try {
    copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
    copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    const files: Record<string, string> = {
      'lib/engine/render.ts': "import { x } from '../cli/create.js';\nexport const y = x;\n",
      'lib/cli/create.ts': 'export const x = 1;\n',
      'lib/app/index.ts': "import { z } from '../../generators/kit/app.js';\nexport const a = z;\n",
      'generators/kit/app.ts': 'export const z = 1;\n',
      'generators/csv-import/index.ts': "import { t } from '../table/index.js';\nexport const c = t;\n",
      'generators/table/index.ts': "import { c } from '../csv-import/index.js';\nexport const t = 1;\nexport const u = c;\n",
    };
    for (const [path, source] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), source);
    }
    const r = cruise(dir);
    assert.is.not(r.status, 0);
    for (const rule of ['engine-imports-nothing-of-ours', 'app-rendering-points-down', 'generators-are-independent', 'no-circular']) {
      assert.match(r.stdout, rule, `${rule} is reported`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
