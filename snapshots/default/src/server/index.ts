import { checkDatabaseRole, ConfigError, DATABASE_ROLE_FACTS_SQL, loadConfig, type DatabaseRoleFacts } from '../config.js';
import { openDatabase } from '../db/client.js';
import { buildApp } from './app.js';
import { requestDb } from './db.js';

/** Start-up: validate the config (production refuses an insecure one, saying why), then listen. */
async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase({ url: config.databaseUrl });
  const facts = (await requestDb(db).asAuth((tx) => tx.query<DatabaseRoleFacts>(DATABASE_ROLE_FACTS_SQL)))[0];
  if (!facts) throw new ConfigError('could not read the database login role');
  for (const problem of checkDatabaseRole(config, facts)) console.warn(`warning: ${problem} (refused in production)`);
  const app = await buildApp(config, { db });
  await app.listen({ host: config.host, port: config.port });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
});
