// `npm run bench -- --browser`: the same rows (bench/browser/rows.ts) in Node and in a page of
// headless Chromium, on the same machine, in one run, side by side. The page is bundled and
// driven as the browser suite does it (test/browser/run.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { init } from '../../src/engine/runtime.js';
import { loadClassifier, loadGenerator } from '../../src/models/load.js';
import { bundlePage, repoFile, runPage } from '../../test/browser/run.js';
import { timeRows, type TimedRow } from './rows.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MODELS = ['fmnist_biggan32_G.safetensors', 'fmnist_vgg_bn64.safetensors'];

async function inPage(): Promise<{ adapter: string; rows: TimedRow[] }> {
  const script = await bundlePage(
    `
    import { init, readModelBytes, buildModel, runtime } from '../../src/browser.ts';
    import { timeRows } from './rows.ts';
    const bytes = async (name) => new Uint8Array(await (await fetch('/models/' + name)).arrayBuffer());
    (async () => {
      await init();
      const G = buildModel(readModelBytes(await bytes('${MODELS[0]}'), '${MODELS[0]}'));
      const V = buildModel(readModelBytes(await bytes('${MODELS[1]}'), '${MODELS[1]}'));
      globalThis.__result = { adapter: runtime().adapterName, rows: await timeRows(G, V) };
    })().catch((e) => { globalThis.__failure = String(e?.stack ?? e); });`,
    import.meta.dirname,
  );
  return (await runPage<{ adapter: string; rows: TimedRow[] }>(script, repoFile)).result;
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
