#!/usr/bin/env bash
# Rewrites snapshots/ from the COMMITTED templates (HEAD), not from the working tree, so work in
# progress by someone else in this checkout never leaks into the locked output.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
wt=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"' EXIT
git -C "$root" worktree add --detach "$wt" HEAD >/dev/null
ln -s "$root/node_modules" "$wt/node_modules"
(cd "$wt" && npx tsc -p tsconfig.json && npx tsx scripts/update-snapshots.ts)
rm -rf "$root/snapshots"
cp -r "$wt/snapshots" "$root/snapshots"
