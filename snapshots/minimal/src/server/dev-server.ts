/**
 * The development server that `npm run dev` runs (and restarts: src/server/dev.mjs). It is the
 * production server (src/server/app.ts: the same hooks, headers, scopes and CSP) plus what development
 * adds; `npm start` runs src/server/index.ts and loads none of this:
 *
 * - migrations applied here, before listening (src/db/dev-data.ts): PGlite is opened once, as the
 *   runtime role xms_app, when the data folder is already migrated;
 * - human-readable log lines (pino-pretty) instead of JSON; the same fields and redaction;
 * - each route's schemas compiled on its first request (src/server/dev-schemas.ts), not all at start-up;
 * - one "Ready: http://..." line when it listens; a busy port says how to choose another.
 */
import { setFlagsFromString } from 'node:v8';
import pretty from 'pino-pretty';
import { checkDatabaseRole, ConfigError, DATABASE_ROLE_FACTS_SQL, loadConfig, type DatabaseRoleFacts } from '../config.js';
import { openDevDatabase } from '../db/dev-data.js';
import { requestDb } from './db.js';

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.env === 'production') throw new ConfigError('npm run dev is for development: in production, npm run build then npm start');
  // the app's modules (routes, auth, password-strength dictionaries) load while
  // the database opens (PGlite compiles its WebAssembly): each takes about a second, neither waits
  // for the other
  const modules = Promise.all([import('./app.js'), import('./dev-schemas.js')]);
  modules.catch(() => {}); // awaited below, where a failure is reported
  // PGlite's WebAssembly (PostgreSQL) is compiled by V8's baseline compiler only: by default V8 also
  // recompiles the functions busy while PostgreSQL starts with its optimising compiler, in background
  // threads, which takes more CPU than the rest of this start and competes with it for the same
  // cores. A query then takes up to a third more CPU, in development only (tests and production
  // compile as usual). The module stays compiled as it was once the flag is restored.
  setFlagsFromString('--liftoff-only');
  const db = await openDevDatabase({ url: config.databaseUrl, log: (line) => console.log(line) }).finally(() =>
    setFlagsFromString('--no-liftoff-only'),
  );
  const facts = (await requestDb(db).asAuth((tx) => tx.query<DatabaseRoleFacts>(DATABASE_ROLE_FACTS_SQL)))[0];
  if (!facts) throw new ConfigError('could not read the database login role');
  for (const problem of checkDatabaseRole(config, facts)) console.warn(`warning: ${problem} (refused in production)`);

  const [{ buildApp }, { lazySchemaCompilers }] = await modules;
  const logStream = pretty({ colorize: Boolean(process.stdout.isTTY), translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: true });
  const app = await buildApp(config, { db, logStream, schemaCompilers: lazySchemaCompilers() });
  // the database closes after the server (a PGlite data folder is then left consistent)
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
