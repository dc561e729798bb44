import { checkDatabaseRole, ConfigError, loadConfig } from '../config.js';
import { openDatabase } from '../db/client.js';
import { buildApp } from './app.js';
import { asyncContextWarning, readDatabaseRoleFacts } from './db.js';

/** Start-up: validate the config (production refuses an insecure one, saying why), then listen. */
async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase({ url: config.databaseUrl, poolMax: config.databasePoolMax });
  const facts = await readDatabaseRoleFacts(db);
  for (const problem of checkDatabaseRole(config, facts)) console.warn(`warning: ${problem} (refused in production)`);
  const slowPromises = asyncContextWarning();
  if (slowPromises) console.warn(`warning: ${slowPromises}`);
  const app = await buildApp(config, { db });
  await app.listen({ host: config.host, port: config.port });
  stopOnSignal(async () => {
    await app.close();
    await db.close();
  });
}

/**
 * SIGTERM (a deploy, the orchestrator) or SIGINT: stop taking connections, let the requests in flight
 * end (each commits or rolls back its transaction), close the pool, then exit, which writes out the
 * last log lines (the default for these signals kills the process at once and loses them). A second
 * signal, or a shutdown still running after SHUTDOWN_GRACE_MS, exits at once with 1.
 */
const SHUTDOWN_GRACE_MS = 10_000;

function stopOnSignal(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1);
    stopping = true;
    setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('shutdown failed:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
});
