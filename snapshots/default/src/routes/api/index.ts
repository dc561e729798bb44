import type { FastifyPluginAsync } from 'fastify';
import { accountRoutes } from './account.js';
import { importRoutes } from './imports.js';
import { meRoutes } from './me.js';
import { mfaRoutes } from './mfa.js';
import { passkeyRoutes } from './passkeys.js';
import { sessionRoutes } from './sessions.js';
import { tenantRoutes } from './tenants.js';
import { recordsRoutes } from './records.js';
// xms:api-imports (generators add their route imports above this line)

/**
 * The protected API (prefix /api): every route registered here needs a live session, by structure.
 * Register new route modules here (the `table` generator adds its line below).
 */
export const apiRoutes: FastifyPluginAsync = async (app) => {
  await app.register(meRoutes);
  await app.register(mfaRoutes);
  await app.register(passkeyRoutes);
  await app.register(sessionRoutes);
  await app.register(accountRoutes);
  await app.register(tenantRoutes);
  await app.register(importRoutes);
  await app.register(recordsRoutes);
  // xms:api-routes (generators register their routes above this line)
};
