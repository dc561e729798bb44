import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PRESETS, generatePreset, readSnapshot } from '../helpers/snapshots.js';

const HOW_TO_UPDATE = 'if the change is intended, run `npm run snapshots:update` and review the diff';

for (const preset of PRESETS) {
  test(`preset "${preset}" generates exactly snapshots/${preset}/`, () => {
    const generated = generatePreset(preset);
    const locked = readSnapshot(preset);
    assert.ok(locked.size > 0, `snapshots/${preset}/ is missing: ${HOW_TO_UPDATE}`);
    const added = [...generated.keys()].filter((path) => !locked.has(path));
    const removed = [...locked.keys()].filter((path) => !generated.has(path));
    assert.equal(added, [], `files generated but not in the snapshot (${HOW_TO_UPDATE})`);
    assert.equal(removed, [], `files in the snapshot but no longer generated (${HOW_TO_UPDATE})`);
    for (const [path, text] of generated) {
      // uvu prints a line diff of the first file that differs.
      assert.fixture(text, locked.get(path)!, `${preset}/${path} differs from its snapshot (${HOW_TO_UPDATE})`);
    }
  });
}

test('snapshots contain no unrendered placeholder and no absolute temp path', () => {
  for (const preset of PRESETS) {
    for (const [path, text] of readSnapshot(preset)) {
      assert.not.ok(text.includes('{{'), `${preset}/${path} contains "{{"`);
      assert.not.ok(/\/tmp\/xms-snap/.test(text), `${preset}/${path} contains a temp path`);
    }
  }
});

test.run();
