/** Marks a UserError, whichever copy of this module made it (see hasInstance). */
const USER_ERROR = Symbol.for('create-xms-app.UserError');

/**
 * An error meant for the person at the terminal: the CLI prints its message on one line
 * (no stack trace) and exits with `exitCode`.
 *
 * `instanceof` recognises it by a mark, not by its class: the CLI runs from a bundle
 * (scripts/build-bundle.mjs) while the commands it loads from dist/lib (`xms check`, `xms update`,
 * `xms harden`) have their own copy of this module, and their errors must still print as one line.
 */
export class UserError extends Error {
  readonly [USER_ERROR] = true;

  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [USER_ERROR]?: unknown })[USER_ERROR] === true;
  }
}
