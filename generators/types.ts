/**
 * The one shape every feature generator has. The same definition drives `xms add <name>` (flags or
 * prompts), `npx plop <name>` inside a generated app, and the tests (which call `plan` directly).
 */
export interface GeneratorQuestion {
  /** Answer key, also the flag name: `--<name>`. */
  name: string;
  message: string;
  type: 'input' | 'confirm' | 'select';
  choices?: readonly string[];
  /** When set, a missing answer takes this value instead of being asked (or refused without a terminal). */
  default?: string | boolean;
  /** Returns true, or a one-line reason. */
  validate?: (value: string) => true | string;
}

export type Answers = Record<string, string | boolean>;

/** One file the generator writes; `before` is undefined for a new file. */
export interface FileChange {
  path: string;
  before?: string;
  after: string;
  /** Written by the permission matrix compiler (the plan's compilation step). */
  compiled?: boolean;
}

/**
 * Everything a run does: the file changes (the compiled matrix included), written by the one
 * writer in one atomic batch, and the lines to print once they are written.
 */
export interface Plan {
  changes: FileChange[];
  /** Printed after the changes are written (never computed then: a dry run lists exactly what a run writes). */
  notes?: string[];
}

export interface FeatureGenerator {
  name: string;
  description: string;
  questions: GeneratorQuestion[];
  /**
   * Plans every change without writing anything. Running a generator a second time must plan no
   * change (or throw a UserError saying why it refuses); it never duplicates code, routes or policies.
   */
  plan(appDir: string, answers: Answers): Promise<Plan>;
}
