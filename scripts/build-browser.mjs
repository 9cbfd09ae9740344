// The browser build: src/browser.ts bundled with esbuild into dist/browser/webgpu-cgan.js (ESM).
// A module with a `.browser.ts` twin beside it (src/engine/shaderFiles.ts, gpu.ts) is swapped for
// the twin; shaders are bundled as text. Anything else that reaches for Node (`node:fs`, Dawn) is
// an error here, so the browser core stays free of it.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const browserTwins = {
  name: 'browser-twins',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
      const twin = join(args.resolveDir, args.path.replace(/\.js$/, '.browser.ts'));
      return existsSync(twin) ? { path: twin } : undefined;
    });
  },
};

/** esbuild's options for code that runs in a page: twins swapped, shaders as text, no Node. */
export const browserOptions = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  loader: { '.wgsl': 'text' },
  plugins: [browserTwins],
  logLevel: 'warning',
};

export async function buildBrowser({ outfile = join(root, 'dist', 'browser', 'webgpu-cgan.js'), minify = false } = {}) {
  await build({
    ...browserOptions,
    entryPoints: [join(root, 'src', 'browser.ts')],
    outfile,
    minify,
  });
  return outfile;
}

// Quiet on success: `npm pack --json` runs this through `prepare` and its stdout must stay JSON.
if (import.meta.url === `file://${process.argv[1]}`) await buildBrowser();
