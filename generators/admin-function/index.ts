import { join } from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import { insertAtMarker, readProjectFile } from '../../lib/engine/changes.js';
import { listMigrations, MIGRATIONS_DIR, newMigrationFileName } from '../../lib/matrix/index.js';
import type { Answers, FeatureGenerator, FileChange, Plan } from '../types.js';
import { SQL_KEYWORDS, camel } from '../kit/spec.js';
import { forkOf, renderTemplate } from '../kit/templates.js';
import { assertApp, harnessChanges, matrixChange, matrixRoles, withCompiledMatrix } from '../kit/app.js';

const ADMIN_INDEX = 'src/routes/admin/index.ts';
const TRAIL_MIGRATION = 'xms_admin_operations';
const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function nameProblem(value: string): true | string {
  if (!NAME.test(value) || value.length > 60) {
    return `invalid admin function name "${value}": use lower-case words joined by dashes, e.g. archive-old-records (at most 60 characters).`;
  }
  if (SQL_KEYWORDS.has(value) || ['users', 'audit'].includes(value)) return `invalid admin function name "${value}": it is reserved; choose another name.`;
  return true;
}

const generator: FeatureGenerator = {
  name: 'admin-function',
  description:
    'An admin operation: POST /api/admin/<name> in the admin scope with its own server guard, run in the admin\'s ' +
    'request transaction with a trail row in app.admin_operations (audited), and a test that a member is refused.',
  questions: [
    { name: 'name', message: 'Admin function name (kebab-case, e.g. archive-old-records):', type: 'input', validate: nameProblem },
    { name: 'description', message: 'What it does (one line):', type: 'input', default: 'an admin operation.' },
  ],

  async plan(appDir: string, answers: Answers): Promise<Plan> {
    const name = String(answers.name ?? '');
    const verdict = nameProblem(name);
    if (verdict !== true) throw new UserError(`--name: ${verdict}`);
    const description = String(answers.description ?? '').replace(/\s+/g, ' ').replace(/\*\//g, '* /').trim() || 'an admin operation.';
    assertApp(appDir);
    if (!(await matrixRoles(appDir)).includes('admin')) {
      throw new UserError('permissions.yml declares no admin role: admin functions run in the admin scope, which needs it.');
    }
    const identifier = camel(name.replace(/-/g, '_'));

    const fork = await forkOf(appDir);
    const changes: FileChange[] = [...harnessChanges(appDir, fork)];
    const migrations = listMigrations(join(appDir, MIGRATIONS_DIR));
    if (!migrations.some((m) => m.name === TRAIL_MIGRATION)) {
      changes.push({
        path: join(MIGRATIONS_DIR, newMigrationFileName(migrations, TRAIL_MIGRATION)),
        after: renderTemplate('admin-function', 'migration.sql.hbs', {}, fork),
      });
    }
    changes.push(await matrixChange(appDir, 'admin_operations', 'admin_operations:\n  admin: { select: tenant, insert: tenant }'));

    const routePath = `src/routes/admin/${name}.ts`;
    const testPath = `test/admin/${name}.test.ts`;
    const context = { name, camel: identifier, description };
    for (const [path, template] of [[routePath, 'route.ts.hbs'], [testPath, 'route.test.ts.hbs']] as const) {
      const before = readProjectFile(appDir, path);
      // an existing file is the generator's earlier output, maybe edited since: it is left alone
      changes.push({ path, before, after: before ?? renderTemplate('admin-function', template, context, fork) });
    }

    const before = readProjectFile(appDir, ADMIN_INDEX);
    if (before === undefined) throw new UserError(`${ADMIN_INDEX} not found; admin functions are registered there (in the admin scope).`);
    let after = insertAtMarker(before, ADMIN_INDEX, '// xms:admin-imports', `import { ${identifier}AdminFunction } from './${name}.js';`);
    after = insertAtMarker(after, ADMIN_INDEX, '// xms:admin-routes', `await app.register(${identifier}AdminFunction);`);
    changes.push({ path: ADMIN_INDEX, before, after });
    return { changes: await withCompiledMatrix(appDir, changes) };
  },
};

export default generator;
