// `npm run build`: the library with tsc into dist/src, the browser bundle with esbuild into
// dist/browser, then dist/.built, a stamp whose time is the moment the build began. bin/cgan.js
// runs a checkout's commands from dist/ while no file under src/ is newer than that stamp (Node
// starts compiled JavaScript in about half the time tsx needs), else from the sources.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
// Written first, so its time is the build's start: a source edited while tsc runs is newer.
writeFileSync(join(dist, '.building'), '');

const run = (args) => {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
run([join(root, 'scripts', 'build-browser.mjs')]);
// A rename keeps the start time; a failed build leaves no stamp, so its dist/ is never used.
renameSync(join(dist, '.building'), join(dist, '.built'));
