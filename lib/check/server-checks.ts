import type { Finding } from './types.js';
export async function checkServer(_appDir: string): Promise<Finding[]> {
  return [];
}
