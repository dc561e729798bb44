// Rewrites snapshots/<preset>/ from the current templates. Review the resulting git diff: it is
// exactly what changes for users who scaffold a new app.
import { PRESETS, generatePreset, writeSnapshot } from '../test/helpers/snapshots.js';

for (const preset of PRESETS) {
  const tree = generatePreset(preset);
  writeSnapshot(preset, tree);
  console.log(`snapshots/${preset}: ${tree.size} files`);
}
