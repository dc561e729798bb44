/**
 * SRV014 of `xms check` (invariant I9): a hook on the root instance (so before every route) refuses
 * cross-site state-changing requests (csrfHook). Input: the root hooks of ./routes.ts.
 */
import { finding, type Syntax } from '../syntax.js';
import type { Finding } from '../types.js';
import type { Inventory } from './routes.js';

export function checkCsrf(syntax: Syntax, inventory: Inventory): Finding[] {
  if (inventory.rootHooks.some((h) => ['onRequest', 'preHandler', 'preValidation'].includes(h.name) && /csrf/i.test(h.text))) return [];
  return [
    finding('SRV014-csrf-unguarded', syntax.rel(inventory.appFile), 'no onRequest hook on the root instance refuses cross-site state-changing requests (csrfHook)',
      "restore app.addHook('onRequest', csrfHook(config.origin)) in src/server/app.ts"),
  ];
}
