import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadOnce } from '../../src/load-once.js';

test('loads once: concurrent and later callers share the first load', async () => {
  let loads = 0;
  const load = loadOnce(async () => ++loads);
  const [a, b] = await Promise.all([load(), load()]);
  assert.equal([a, b, await load()], [1, 1, 1]);
  assert.is(loads, 1);
});

test('a failed load is not kept: its callers see the error, the next call loads again', async () => {
  let attempts = 0;
  const load = loadOnce(async () => {
    attempts++;
    if (attempts === 1) throw new Error('dictionary file unreadable');
    return 'estimator';
  });
  const [first, second] = await Promise.allSettled([load(), load()]);
  assert.is(first.status, 'rejected', 'fails closed');
  assert.is(second.status, 'rejected', 'a caller during the failed load shares its failure');
  assert.is(await load(), 'estimator');
  assert.is(await load(), 'estimator');
  assert.is(attempts, 2);
});

test.run();
