import validateNpmPackageName from 'validate-npm-package-name';
import { UserError } from './errors.js';

const MAX_NAME_LENGTH = 214;

/**
 * An app name becomes both the npm package name and (by default) the folder name, so it must
 * satisfy npm's rules for new packages and must not be able to escape the working directory.
 */
export function validateAppName(name: string): void {
  if (name.trim() === '') throw new UserError('Invalid app name: it is empty.');
  if (name.length > MAX_NAME_LENGTH) {
    throw new UserError(`Invalid app name: it is ${name.length} characters long (at most ${MAX_NAME_LENGTH}).`);
  }
  if (name.includes('/') || name.includes('\\') || name.includes('..')) {
    throw new UserError(`Invalid app name "${name}": it must not contain "/", "\\" or "..".`);
  }
  const verdict = validateNpmPackageName(name);
  if (!verdict.validForNewPackages) {
    const reasons = [...(verdict.errors ?? []), ...(verdict.warnings ?? [])];
    throw new UserError(`Invalid app name "${name}": ${reasons.join('; ')}.`);
  }
}

/**
 * A relative path inside a generated tree: never absolute, never climbing out with "..".
 * Template files and generator outputs both go through this before anything is written.
 */
export function assertSafeRelativePath(relPath: string): void {
  if (relPath === '' || relPath.startsWith('/') || /^[a-zA-Z]:/.test(relPath) || relPath.startsWith('\\')) {
    throw new UserError(`Refusing to write "${relPath}": output paths must be relative.`);
  }
  if (relPath.split(/[\\/]/).includes('..')) {
    throw new UserError(`Refusing to write "${relPath}": output paths must not contain "..".`);
  }
}
