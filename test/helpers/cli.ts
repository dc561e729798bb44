import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const CREATE_BIN = join(REPO_ROOT, 'bin/create-xms-app.js');
export const XMS_BIN = join(REPO_ROOT, 'bin/xms.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a CLI of this repo (the built one in dist/) with no terminal attached, as CI would. */
export function runCli(bin: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): CliResult {
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [bin, ...args], {
    cwd: options.cwd,
    // a checkout packs itself for the apps it scaffolds (lib/cli/self-spec.ts): into a cache of the test runs
    env: { ...process.env, CI: '1', XDG_CACHE_HOME: join(tmpdir(), 'xms-test-cache'), ...options.env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeout ?? 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function create(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): CliResult {
  return runCli(CREATE_BIN, args, options);
}

/** A temporary folder removed by the returned `cleanup`. */
export function tempDir(prefix = 'xms-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function isEmptyOrMissing(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}
