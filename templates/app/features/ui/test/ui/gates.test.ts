// The SPA's gates (web/src/gates.ts) read the compiled matrix the server's guards read: every cell
// agrees, and a row-level change follows the scope ('own': the caller's rows only). UX only; the
// server refusing on its own is tested in test/http and test/db.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { actions, roles, scopeOf, tables } from '../../src/generated/permissions.js';
import { may, mayChangeRow } from '../../web/src/gates.js';

test('may() is the matrix, cell by cell (and nothing for an unknown role)', () => {
  for (const role of roles) {
    for (const table of tables) {
      for (const action of actions) assert.is(may(role, table, action), scopeOf(role, table, action) !== 'none', `${role} ${table} ${action}`);
    }
  }
  for (const table of tables) for (const action of actions) assert.is(may('intruder', table, action), false);
  assert.is(may(undefined, tables[0], 'select'), false);
});

test('mayChangeRow(): own scope is the caller\'s rows only; tenant scope any row; none nothing', () => {
  for (const role of roles) {
    for (const table of tables) {
      for (const action of actions) {
        const scope = scopeOf(role, table, action);
        const mine = mayChangeRow(role, table, action, 'me', 'me');
        const theirs = mayChangeRow(role, table, action, 'someone-else', 'me');
        assert.is(mine, scope !== 'none', `${role} ${table} ${action} own row`);
        assert.is(theirs, scope === 'tenant' || scope === 'all', `${role} ${table} ${action} another's row`);
      }
    }
  }
});

test.run();
