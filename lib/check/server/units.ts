/**
 * The server checks' findings, cached per unit: a unit is one check family (./index.ts lists them) or
 * the source scan of one file (./source-scan.ts judges each file alone). While a unit runs, every
 * input it reads through ../syntax.ts is recorded: a file's content (SHA-256), whether a path exists,
 * a folder's entries, which files mention a word; shared derived values (the route inventory) hand
 * their inputs on to every unit using them. A later check reuses a unit's findings only while every
 * recorded input reads the same; otherwise the unit runs again. Values one module yields (a route
 * module's routes, its body-schema verdict: Syntax.persisted) are kept the same way, so a unit that
 * runs again parses only the modules that changed. After a source edit only the units that read the
 * edited file run, and TypeScript itself loads only when one unit runs.
 *
 * A cross-file check is therefore keyed by every file it reads, never by one: editing the public
 * list re-runs the scope checks of every route. The store is one JSON file per app, keyed by the
 * checker (this package's lib/ content) and the TypeScript build: another checker's entries are
 * never read. Same trust rule as ../findings-cache.ts: only a file this user owns, in a folder nobody
 * else can write to; a torn or foreign file is ignored (the units run). XMS_CHECK_NO_CACHE=1 or
 * XMS_CHECK_NO_FINDINGS_CACHE=1 turns it off.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, ownedByMe, writePrivate } from '../database.js';
import { checkerVersion } from '../findings-cache.js';
import { inputValue, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';

export interface Unit {
  id: string;
  run: (syntax: Syntax) => Finding[];
}

interface Entry {
  inputs: Array<[string, string]>;
  value: unknown;
}

interface Store {
  version: string;
  /** SHA-256 of the JSON of units: a torn or altered file is not read */
  digest: string;
  units: Record<string, Entry>;
}

const FORMAT = 'xms-check-units 2';

/** The store of an app (one per app folder: the temp-folder cache may serve several). */
export function unitsFile(appDir: string): string {
  return join(cacheDir(appDir), `server-units-${createHash('sha256').update(appDir).digest('hex').slice(0, 16)}.json`);
}

function cacheOff(): boolean {
  return Boolean(process.env.XMS_CHECK_NO_CACHE || process.env.XMS_CHECK_NO_FINDINGS_CACHE);
}

function readStore(file: string, version: string): Store['units'] {
  try {
    if (!existsSync(file) || !ownedByMe(file)) return {};
    const json = JSON.parse(readFileSync(file, 'utf8')) as Partial<Store>;
    if (json.version !== version || !json.units || typeof json.units !== 'object') return {};
    if (json.digest !== digestOf(json.units)) return {};
    return json.units;
  } catch {
    return {}; // torn or foreign: every unit runs
  }
}

const digestOf = (units: Store['units']) => createHash('sha256').update(JSON.stringify(units)).digest('hex');

function wellFormed(entry: unknown): entry is Entry {
  const e = entry as Entry;
  return !!e && Array.isArray(e.inputs) && 'value' in e && e.inputs.every((i) => Array.isArray(i) && typeof i[0] === 'string' && typeof i[1] === 'string' && /^[fedw]:/.test(i[0]));
}

function isFindings(value: unknown): value is Finding[] {
  return Array.isArray(value) && value.every((f) => !!f && typeof f.id === 'string' && typeof f.object === 'string' && typeof f.message === 'string');
}

/**
 * Runs the units, each from the cache while its inputs read the same; the findings in unit order.
 * `stored: false` reads no stored value (every unit runs) but stores what it finds.
 */
export function runUnits(syntax: Syntax, units: Unit[], options: { stored?: boolean } = {}): { findings: Finding[]; ran: string[] } {
  const appDir = syntax.appDir;
  const off = cacheOff();
  const version = off ? '' : createHash('sha256').update(`${FORMAT}\0${appDir}\0${checkerVersion(appDir)}`).digest('hex');
  const file = unitsFile(appDir);
  const stored = off || options.stored === false ? {} : readStore(file, version);
  const now = new Map<string, string>();
  // one reading of src/ for the inputs' word lookups and the units' own
  const scan = syntax.sourceScan();
  const current = (input: string) => {
    let v = now.get(input);
    if (v === undefined) now.set(input, (v = inputValue(appDir, input, scan)));
    return v;
  };
  // entries of ids not used this time stay (a value under a route module's id serves the next check
  // that needs it); each id keeps its newest entry
  const next: Store['units'] = { ...stored };
  let changed = false;
  syntax.store = off
    ? undefined
    : {
        lookup: (id) => {
          const hit = Object.hasOwn(stored, id) ? stored[id] : undefined;
          return wellFormed(hit) && hit.inputs.every(([input, value]) => current(input) === value) ? hit : undefined;
        },
        save: (id, inputs, value) => {
          next[id] = { inputs: [...inputs], value };
          changed = true;
        },
      };
  const findings: Finding[] = [];
  const ran: string[] = [];
  try {
    for (const unit of units) {
      const value = syntax.persisted(`unit:${unit.id}`, () => {
        ran.push(unit.id);
        return unit.run(syntax);
      });
      if (isFindings(value)) findings.push(...value);
      else {
        // a stored value of another shape: run the unit (and store its findings)
        delete stored[`unit:${unit.id}`];
        ran.push(unit.id);
        findings.push(...syntax.persisted(`unit:${unit.id}`, () => unit.run(syntax)));
      }
    }
  } finally {
    syntax.store = undefined;
  }
  if (changed) {
    try {
      writePrivate(file, JSON.stringify({ version, digest: digestOf(next), units: next } satisfies Store));
    } catch {
      // the cache is an optimisation only
    }
  }
  return { findings, ran };
}
