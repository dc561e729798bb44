/**
 * Three-way merge of one file with `git merge-file`: the app's version (ours), the recorded
 * generator's (base) and the target's (theirs). A clean merge applies both sides' changes; otherwise
 * the result carries git's conflict markers, labelled with the file and the versions.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../engine/errors.js';

export interface MergeResult {
  contents: Buffer;
  conflicts: number;
}

export const isBinary = (data: Buffer) => data.subarray(0, 8000).includes(0);

export async function mergeFile(path: string, ours: Buffer, base: Buffer, theirs: Buffer, labels: { base: string; theirs: string }): Promise<MergeResult> {
  const { execa } = await import('execa');
  const dir = mkdtempSync(join(tmpdir(), 'xms-merge-'));
  try {
    const files = { ours: join(dir, 'ours'), base: join(dir, 'base'), theirs: join(dir, 'theirs') };
    writeFileSync(files.ours, ours);
    writeFileSync(files.base, base);
    writeFileSync(files.theirs, theirs);
    const result = await execa('git', ['merge-file', '-p', '-L', `${path} (yours)`, '-L', `${path} (${labels.base})`, '-L', `${path} (${labels.theirs})`,
      files.ours, files.base, files.theirs], { reject: false, encoding: 'buffer', stdin: 'ignore', stripFinalNewline: false });
    if ((result as { code?: string }).code === 'ENOENT') throw new UserError('xms update merges with "git merge-file": install git first.');
    const code = result.exitCode ?? -1;
    if (code < 0 || code > 127) throw new UserError(`git merge-file failed on ${path}: ${Buffer.from(result.stderr as Uint8Array).toString('utf8').trim().split('\n')[0]}`);
    return { contents: Buffer.from(result.stdout as Uint8Array), conflicts: code };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
