/**
 * Runs the server and source checks in a worker thread, so that on a machine with a second core they
 * parse the app's TypeScript while the main thread replays migrations and queries the database.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkServer } from './server/index.js';

try {
  parentPort!.postMessage({ findings: await checkServer(workerData.appDir as string) });
} catch (error) {
  parentPort!.postMessage({ error: { name: (error as Error).name, message: (error as Error).message, stack: (error as Error).stack } });
}
