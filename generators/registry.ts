import type { FeatureGenerator } from './types.js';

/**
 * Every feature generator, by name, loaded on demand (one file per generator, one signature):
 * `xms add <name>` and the plopfile both read this table.
 */
export const GENERATORS: Record<string, () => Promise<FeatureGenerator>> = {
  harden: () => import('./harden/index.js').then((m) => m.default),
  table: () => import('./table/index.js').then((m) => m.default),
  'csv-import': () => import('./csv-import/index.js').then((m) => m.default),
  'admin-function': () => import('./admin-function/index.js').then((m) => m.default),
  auth: () => import('./auth/index.js').then((m) => m.default),
};

export function generatorNames(): string[] {
  return Object.keys(GENERATORS).sort();
}
