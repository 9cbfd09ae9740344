// The package's root folder (where shaders/ and models/ live), found from this file whether it
// runs from src/ through tsx or from the compiled dist/src/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'shaders'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the package root (a folder with package.json and shaders/)');
    dir = up;
  }
  return dir;
}

export const PACKAGE_ROOT = findRoot();
