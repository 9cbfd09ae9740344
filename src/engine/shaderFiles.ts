// The WGSL of shaders/<name>.wgsl, read from the package in Node. The browser build swaps this
// file for shaderFiles.browser.ts (the `.browser.ts` twins: scripts/build-browser.mjs), which has
// the same sources bundled in.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './packageRoot.js';

export function readShader(name: string): string {
  return readFileSync(join(PACKAGE_ROOT, 'shaders', `${name}.wgsl`), 'utf8');
}
