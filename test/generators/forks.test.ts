// A team's template fork reaches every template: scaffolding renders the built-in records routes with
// the fork's table template (or keeps the fork's own file), and `xms add` in the app uses the fork
// it was made from (remembered in xms.json) for the table and admin-function templates.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, runCli, tempDir, REPO_ROOT, XMS_BIN } from '../helpers/cli.js';

const { dir: work, cleanup } = tempDir('xms-forks-');
test.after(cleanup);

const env = { CREATE_XMS_APP_SPEC: '' };
const TABLE_MARK = '// forked table routes template';
const ADMIN_MARK = '// forked admin function template';

/** A fork folder holding `<generator>/<file>`: the built-in template with a first line of its own. */
function fork(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  for (const [path, contents] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), contents);
  }
  return dir;
}
const builtin = (path: string) => readFileSync(join(REPO_ROOT, 'templates', path), 'utf8');

function scaffold(name: string, template: string): string {
  const app = join(work, name);
  const made = create([app, '--preset', 'default', '--db', 'pglite', '--yes', '--no-install', '--no-git', '--template', template], { env });
  assert.is(made.status, 0, made.stderr);
  return app;
}

function xmsAdd(app: string, args: string[]): void {
  const r = runCli(XMS_BIN, ['add', ...args, '--cwd', app], { env });
  assert.is(r.status, 0, r.stderr || r.stdout);
}

test('a fork\'s table template reaches scaffolding (records) and xms add table', () => {
  const template = fork('table-fork', { 'table/routes.ts.hbs': `${TABLE_MARK}\n${builtin('table/routes.ts.hbs')}` });
  const app = scaffold('table-app', template);
  assert.ok(readFileSync(join(app, 'src/routes/api/records.ts'), 'utf8').startsWith(TABLE_MARK), 'scaffolding used the fork for app.records');
  const record = JSON.parse(readFileSync(join(app, 'xms.json'), 'utf8'));
  assert.is(record.template.path, '../table-fork', 'the app remembers its fork');
  xmsAdd(app, ['table', 'products', '--columns', 'sku:text']);
  assert.ok(readFileSync(join(app, 'src/routes/api/products.ts'), 'utf8').startsWith(TABLE_MARK), 'xms add table used the fork');
  // the templates the fork does not have are the built-in ones
  assert.not.match(readFileSync(join(app, 'test/tables/products.test.ts'), 'utf8'), /forked/);
});

test('a fork\'s admin-function template reaches xms add admin-function', () => {
  const template = fork('admin-fork', { 'admin-function/route.ts.hbs': `${ADMIN_MARK}\n${builtin('admin-function/route.ts.hbs')}` });
  const app = scaffold('admin-app', template);
  xmsAdd(app, ['admin-function', 'archive-old-records']);
  assert.ok(readFileSync(join(app, 'src/routes/admin/archive-old-records.ts'), 'utf8').startsWith(ADMIN_MARK));
});

test('a records route the fork supplies itself is kept by scaffolding', () => {
  const own = `${TABLE_MARK}: the team's own records routes\nimport type { FastifyPluginAsync } from 'fastify';\nexport const recordsRoutes: FastifyPluginAsync = async () => {};\n`;
  const template = fork('own-fork', { 'base/src/routes/api/records.ts': own });
  const app = scaffold('own-app', template);
  assert.is(readFileSync(join(app, 'src/routes/api/records.ts'), 'utf8'), own);
});

test('a fork named in xms.json that is gone is a one-line error, nothing written', () => {
  const template = fork('gone-fork', { 'table/routes.ts.hbs': builtin('table/routes.ts.hbs') });
  const app = scaffold('gone-app', template);
  const record = JSON.parse(readFileSync(join(app, 'xms.json'), 'utf8'));
  record.template.path = '../no-such-fork';
  writeFileSync(join(app, 'xms.json'), `${JSON.stringify(record, null, 2)}\n`);
  const r = runCli(XMS_BIN, ['add', 'table', 'products', '--columns', 'sku:text', '--cwd', app], { env });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /template fork \.\.\/no-such-fork, which is missing/);
  assert.not.match(r.stderr.trim(), /\n/);
});

test.run();
