/**
 * The development server that `npm run dev` runs (and restarts: src/server/dev.mjs). It is the
 * production server (src/server/app.ts: the same hooks, headers, scopes and CSP) plus what development
 * adds; `npm start` runs src/server/index.ts and loads none of this:
 *
 * - the database migrated before listening (src/db/dev-data.ts). PGlite is held by the supervisor,
 *   which opens it while this process loads and keeps it open across restarts; this process uses it
 *   through their IPC channel (src/db/dev-database-host.ts). With DATABASE_URL it connects itself;
 * - human-readable log lines (pino-pretty) instead of JSON; the same fields and redaction;
 * - each route's schemas compiled on its first request (src/server/dev-schemas.ts), not all at start-up;
 * - Vite's dev server inside Fastify (src/server/dev-ui.ts): the UI and the API on one port, hot
 *   reload, under the same CSP (a per-request nonce is the one relaxation);
 * - one "Ready: http://..." line when it listens; a busy port says how to choose another.
 */
import pretty from 'pino-pretty';
import { checkDatabaseRole, ConfigError, loadConfig } from '../config.js';
import { openDevDatabase } from '../db/dev-data.js';
import { remoteDatabase } from '../db/dev-database-host.js';
import { readDatabaseRoleFacts } from './db.js';

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.env === 'production') throw new ConfigError('npm run dev is for development: in production, npm run build then npm start');
  // the app's modules (routes, auth, password-strength dictionaries, Vite) load here while
  // the supervisor opens the database (src/server/dev.mjs): each takes about a second, and neither
  // waits for the other
  const modules = Promise.all([import('./app.js'), import('./dev-schemas.js'), import('./dev-ui.js')]);
  modules.catch(() => {}); // awaited below, where a failure is reported
  const db =
    process.env.XMS_DEV_DATABASE === 'ipc' && process.send
      ? remoteDatabase(process)
      : await openDevDatabase({ url: config.databaseUrl, log: (line) => console.log(line) });
  const facts = await readDatabaseRoleFacts(db);
  for (const problem of checkDatabaseRole(config, facts)) console.warn(`warning: ${problem} (refused in production)`);

  const [{ buildApp }, { lazySchemaCompilers }, { createDevUi }] = await modules;
  const logStream = pretty({ colorize: Boolean(process.stdout.isTTY), translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: true });
  const app = await buildApp(config, { db, logStream, schemaCompilers: lazySchemaCompilers(), ui: { dev: createDevUi } });
  // the database closes after the server (the supervisor's closes after this process stopped)
  app.addHook('onClose', async () => db.close());

  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // the supervisor went away (killed): never outlive it
  process.on('disconnect', shutdown);

  try {
    await app.listen({ host: config.host, port: config.port, listenTextResolver: (address) => `Ready: ${address}` });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      await app.close();
      throw new ConfigError(
        `Port ${config.port} on ${config.host} is in use: stop the server using it, or choose another port: PORT=${config.port + 1} npm run dev`,
      );
    }
    throw error;
  }
  process.send?.({ ready: true });
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
