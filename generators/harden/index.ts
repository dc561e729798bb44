/**
 * The `harden` generator (`xms add harden`, `npx plop harden`): retrofits row-level security and audit
 * triggers onto a Supabase / PostgreSQL project this tool did not create. The work is done by
 * ./harden.ts (also `xms harden`); this file gives it the one generator signature: it plans
 * ONE new migration (nothing when every table is already hardened, so a second run changes nothing)
 * and, in the plan's notes, reports the tables that now have no policy.
 */
import type { Answers, FeatureGenerator, Plan } from '../types.js';

function options(answers: Answers) {
  const url = String(answers['database-url'] ?? '').trim();
  const migrations = String(answers.migrations ?? 'supabase/migrations').trim() || 'supabase/migrations';
  const schemas = String(answers.schemas ?? 'public').split(',').map((s) => s.trim()).filter(Boolean);
  return url
    ? { databaseUrl: url, outDir: migrations, schemas, dryRun: true }
    : { migrationsDir: migrations, schemas, dryRun: true };
}

const generator: FeatureGenerator = {
  name: 'harden',
  description:
    'For an existing Supabase/PostgreSQL project: one migration that enables and forces RLS on every table of the ' +
    'chosen schemas and adds the audit trigger everywhere (idempotent); reports the tables left without a policy.',
  questions: [
    { name: 'database-url', message: 'DATABASE_URL of the project (empty: read the migrations folder instead):', type: 'input', default: '' },
    { name: 'migrations', message: 'Migrations folder (read, and where the new migration goes):', type: 'input', default: 'supabase/migrations' },
    {
      name: 'schemas',
      message: 'Schemas to harden (comma-separated):',
      type: 'input',
      default: 'public',
      validate: (v) => (v.split(',').every((s) => /^[A-Za-z_][A-Za-z0-9_$]*$/.test(s.trim())) ? true : 'plain schema names, comma-separated'),
    },
  ],
  async plan(appDir: string, answers: Answers): Promise<Plan> {
    const { harden, formatHarden, HardenError } = await import('./harden.js');
    const { UserError } = await import('../../lib/engine/errors.js');
    try {
      const result = await harden(appDir, options(answers));
      return {
        changes: result.migration ? [{ path: result.migration.path, after: result.migration.sql }] : [],
        notes: formatHarden(result).split('\n'),
      };
    } catch (error) {
      if (error instanceof HardenError) throw new UserError(error.message);
      throw error;
    }
  },
};

export default generator;
