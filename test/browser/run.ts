// `npm run test:browser`: the browser suite (test/browser/suite.ts) in headless Chromium, with
// WebGPU on SwiftShader. It bundles the suite as the browser build does (scripts/build-browser.mjs),
// serves it and the default pair from a local server, drives the page with puppeteer-core (the
// system Chromium; nothing is downloaded), and compares the page's seeded numbers with Node's.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import puppeteer from 'puppeteer-core';
// @ts-expect-error: a plain ESM script without types
import { browserOptions } from '../../scripts/build-browser.mjs';
import { init } from '../../src/engine/runtime.js';
import { loadGenerator } from '../../src/models/load.js';
import { relativeError } from '../checkOp.js';
import { FORWARD_REL } from '../tolerances.js';
import { seededNumbers, type BrowserResult } from './suite.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromium(): string {
  const found = CANDIDATES.find((p) => p && existsSync(p));
  if (!found) {
    throw new Error(
      'test:browser needs Chromium: on Debian `sudo apt-get install chromium` (scripts/setup-browser.sh does it); ' +
        'elsewhere install Chromium or Chrome and set CHROMIUM_PATH to its executable',
    );
  }
  return found;
}

/** A page script bundled as the browser build bundles the library: `contents` imports relative to `resolveDir`. */
export async function bundlePage(contents: string, resolveDir: string): Promise<string> {
  const out = await build({ ...browserOptions, stdin: { contents, resolveDir, loader: 'ts' }, write: false });
  return out.outputFiles![0].text;
}

/**
 * Serves `script` as a page's module, and the files `fileFor(url)` names (null: 404), opens the
 * page in headless Chromium, and waits until the script sets globalThis.__result (returned) or
 * globalThis.__failure (thrown). Uncaught errors and console errors of the page are collected.
 */
export async function runPage<T>(script: string, fileFor: (url: string) => string | null, log = (_: string) => {}): Promise<{ result: T; pageErrors: string[] }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (url === '/favicon.ico') return res.writeHead(204).end();
    if (url === '/page.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    const file = fileFor(url);
    if (file && existsSync(file)) return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file));
    res.writeHead(404).end();
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const port = (server.address() as { port: number }).port;
  const browser = await puppeteer.launch({ executablePath: chromium(), headless: true, args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu'] });
  const pageErrors: string[] = [];
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(`uncaught: ${(e as Error).message ?? e}`));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console error: ${m.text()}`);
    });
    await page.goto(`http://localhost:${port}/`);
    log('page loaded; running (SwiftShader: minutes)');
    await page.waitForFunction('globalThis.__result || globalThis.__failure', { timeout: 900_000, polling: 500 });
    const failure = (await page.evaluate('globalThis.__failure')) as string | undefined;
    if (failure) throw new Error(`the page stopped: ${failure}`);
    return { result: (await page.evaluate('globalThis.__result')) as T, pageErrors };
  } finally {
    await browser.close();
    server.close();
  }
}

const PAGE = '<!doctype html><meta charset="utf-8"><title>webgpu-cgan in a page</title><script type="module" src="/page.js"></script>';
const MODELS = ['fmnist_biggan32_G.safetensors', 'fmnist_vgg_bn64.safetensors', 'fmnist_pair.io.pth'];

/** /models/<one of MODELS> and /fixtures/<a file of test/data/fixtures>. */
export function repoFile(url: string): string | null {
  const model = MODELS.find((m) => url === `/models/${m}`);
  if (model) return join(ROOT, 'models', model);
  const fixture = /^\/fixtures\/([\w.]+)$/.exec(url)?.[1];
  return fixture ? join(ROOT, 'test', 'data', 'fixtures', fixture) : null;
}

async function main(): Promise<number> {
  const started = performance.now();
  const suite = await bundlePage(
    "import { runSuite } from './suite.ts'; runSuite().then((r) => { globalThis.__result = r; }, (e) => { globalThis.__failure = String(e?.stack ?? e); });",
    import.meta.dirname,
  );
  console.log(`bundled the suite (${(suite.length / 1024).toFixed(0)} KiB); starting Chromium`);
  const { result, pageErrors } = await runPage<{ adapter: string; results: BrowserResult[]; seeded: number[] }>(suite, repoFile, console.log);
  const { adapter, results, seeded } = result;

  // The same seeded forward pass in Node (another adapter, possibly other kernel variants).
  await init();
  const G = await loadGenerator(join(ROOT, 'models', 'fmnist_biggan32_G.safetensors'));
  const node = await seededNumbers(G);
  const err = relativeError(seeded, node);
  results.push({
    name: 'the same seed gives the numbers Node gives (G on 2 seeded latents, first 256 values)',
    ok: err <= FORWARD_REL,
    detail: `relative error ${err.toExponential(2)} (tolerance ${FORWARD_REL}, float32 on two adapters)`,
  });
  results.push({ name: 'no uncaught error or console error in the page', ok: pageErrors.length === 0, detail: pageErrors.join('\n') });

  console.log(`browser adapter: ${adapter}`);
  for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.detail ? `: ${r.ok ? r.detail : `\n${r.detail}`}` : ''}`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(`\nbrowser suite: ${results.length - failed} passed, ${failed} failed, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return failed ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main().catch((e) => {
    console.error(`test:browser: ${(e as Error).message}`);
    return 1;
  });
}
