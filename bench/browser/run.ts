// `npm run bench -- --browser`: the same rows (bench/browser/rows.ts) in Node and in a page of
// headless Chromium, on the same machine, in one run, side by side. The page is bundled and
// driven as the browser suite does it (test/browser/run.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import puppeteer from 'puppeteer-core';
// @ts-expect-error: a plain ESM script without types
import { browserOptions } from '../../scripts/build-browser.mjs';
import { init } from '../../src/engine/runtime.js';
import { loadClassifier, loadGenerator } from '../../src/models/load.js';
import { chromium } from '../../test/browser/run.js';
import { timeRows, type TimedRow } from './rows.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MODELS = ['fmnist_biggan32_G.safetensors', 'fmnist_vgg_bn64.safetensors'];

async function inPage(): Promise<{ adapter: string; rows: TimedRow[] }> {
  const bundle = await build({
    ...browserOptions,
    stdin: {
      contents: `
        import { init, readModelBytes, buildModel, runtime } from '../../src/browser.ts';
        import { timeRows } from './rows.ts';
        const bytes = async (name) => new Uint8Array(await (await fetch('/models/' + name)).arrayBuffer());
        (async () => {
          await init();
          const G = buildModel(readModelBytes(await bytes('${MODELS[0]}'), '${MODELS[0]}'));
          const V = buildModel(readModelBytes(await bytes('${MODELS[1]}'), '${MODELS[1]}'));
          globalThis.__result = { adapter: runtime().adapterName, rows: await timeRows(G, V) };
        })().catch((e) => { globalThis.__failure = String(e?.stack ?? e); });`,
      resolveDir: import.meta.dirname,
      loader: 'js',
    },
    write: false,
  });
  const script = bundle.outputFiles![0].text;
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><script type="module" src="/bench.js"></script>');
    if (url === '/bench.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    const model = MODELS.find((m) => url === `/models/${m}`);
    if (model) return res.writeHead(200).end(readFileSync(join(ROOT, 'models', model)));
    res.writeHead(url === '/favicon.ico' ? 204 : 404).end();
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const browser = await puppeteer.launch({ executablePath: chromium(), headless: true, args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu'] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://localhost:${(server.address() as { port: number }).port}/`);
    await page.waitForFunction('globalThis.__result || globalThis.__failure', { timeout: 900_000, polling: 500 });
    const failure = (await page.evaluate('globalThis.__failure')) as string | undefined;
    if (failure) throw new Error(`the page stopped: ${failure}`);
    return (await page.evaluate('globalThis.__result')) as { adapter: string; rows: TimedRow[] };
  } finally {
    await browser.close();
    server.close();
  }
}

export async function browserBench(out?: string): Promise<void> {
  const rt = await init();
  console.log(`Node: ${rt.adapterName}; timing the rows...`);
  const node = await timeRows(await loadGenerator(join(ROOT, 'models', MODELS[0])), await loadClassifier(join(ROOT, 'models', MODELS[1])));
  console.log('headless Chromium: bundling the page and timing the same rows...');
  const page = await inPage();
  const lines = [
    `| row | Node, ${rt.adapterName} (ms) | Chromium, ${page.adapter} (ms) | page / Node |`,
    '| --- | ---: | ---: | ---: |',
    ...node.map((r, i) => `| ${r.row} | ${r.ms.toFixed(1)} | ${page.rows[i].ms.toFixed(1)} | ${(page.rows[i].ms / r.ms).toFixed(2)}x |`),
  ];
  console.log(`\n${lines.join('\n')}`);
  if (out) {
    const about =
      'Wall-clock ms per call with the queue drained, median of 5 after a warm-up (2 for the step). Two WebGPU ' +
      "implementations on the same CPU: Node's Dawn over Vulkan on lavapipe, and Chromium's Dawn on SwiftShader. " +
      'SwiftShader has 4-wide subgroups, so the page runs the plain kernels where Node runs the subgroup ones.';
    writeFileSync(out, `# The engine in Node and in a page, same machine, one run\n\n\`npm run bench -- --browser\` (bench/browser/run.ts). ${about}\n\n${lines.join('\n')}\n`);
    console.log(`wrote ${out}`);
  }
}
