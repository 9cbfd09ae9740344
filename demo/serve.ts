// `npm run demo`: bundles the demo page (demo/page.ts) with the browser build's options, serves it
// and the models from a local server, and prints its URL. Open it in a browser with WebGPU.
//   npm run demo -- --port 8080
//   npm run demo -- --screenshot docs/demo.png --steps 3 [--batch 4]   (headless Chromium, then exit)
//   npm run demo -- --check     (headless: the page loads, trains one step, draws samples and
//                                downloads the input generator, with no page error; --keep keeps the download)
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { parseRunFile } from '../src/train/runFile.js';
// @ts-expect-error: a plain ESM script without types
import { browserOptions } from '../scripts/build-browser.mjs';

const ROOT = join(import.meta.dirname, '..');
const MODELS = ['fmnist_biggan32_G.safetensors', 'fmnist_vgg_bn64.safetensors', 'fmnist_vgg_judge32.safetensors'];

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    screenshot: { type: 'string' },
    check: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    steps: { type: 'string', default: '3' },
    batch: { type: 'string', default: '4' },
    pool: { type: 'string', default: '32' },
  },
});
const headless = args.screenshot !== undefined || args.check;

const HTML = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>webgpu-cgan: conditioning a GAN in the browser</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em; color: #222; }
  h1 { font-size: 1.4em; margin-bottom: 0.2em; }
  h2 { font-size: 1.1em; margin: 1em 0 0.4em; }
  section { border-top: 1px solid #ddd; padding-top: 0.3em; }
  .row { display: flex; flex-wrap: wrap; gap: 0.6em 1.2em; align-items: end; }
  label { display: flex; flex-direction: column; font-size: 0.9em; }
  input[type=number] { width: 6em; }
  button, input, select { font: inherit; }
  button { padding: 0.3em 0.9em; }
  :focus-visible { outline: 3px solid #1a73e8; outline-offset: 2px; }
  #error { color: #a00; background: #fee; border: 1px solid #d99; padding: 0.4em 0.6em; white-space: pre-wrap; }
  #drop { border: 2px dashed #aaa; padding: 0.8em; border-radius: 6px; }
  #drop.over { border-color: #1a73e8; background: #eef4fd; }
  .muted { color: #666; font-size: 0.9em; }
  .cols { display: flex; flex-wrap: wrap; gap: 1.5em; }
  canvas { border: 1px solid #ccc; image-rendering: pixelated; max-width: 100%; }
  progress { width: 320px; }
</style>
<h1>Conditioning a GAN without training data, in the browser</h1>
<p class="muted">A frozen unconditional BigGAN, a frozen VGG classifier, and a small input generator that learns, per class, where in the GAN's latent space the classifier sees that class. No training image is used. Everything runs on WebGPU in this page.</p>
<p id="adapter">WebGPU adapter: …</p>
<p id="models" class="muted">Models: loading…</p>
<div id="error" role="alert" hidden></div>

<section>
<h2>Train</h2>
<div class="row">
  <label>Batch <input id="batch" type="number" min="1" max="256" step="1"></label>
  <label>Steps <input id="steps" type="number" min="1" step="1"></label>
  <label>Anchor pool (0 = off) <input id="pool" type="number" min="0" step="16"></label>
  <label>Learning rate <input id="lr" type="number" min="0" step="0.001"></label>
  <label>Seed <input id="seed" type="number" min="0" step="1"></label>
  <label>Refresh samples every <input id="refresh" type="number" min="1" step="1"></label>
  <button id="start" type="button">Start training</button>
  <button id="continue" type="button">Continue</button>
  <button id="stop" type="button">Stop</button>
</div>
<p><progress id="progress" value="0" max="1" aria-label="training progress"></progress> <span id="status" role="status">starting…</span></p>
<p id="defaults" class="muted"></p>
<div class="cols">
  <figure><canvas id="curves" width="460" height="260" aria-label="loss and accuracy curves"></canvas><figcaption class="muted">Loss (red) and the frozen classifier's accuracy on each training batch (blue).</figcaption></figure>
  <figure><canvas id="grid" width="460" height="260" aria-label="samples per class"></canvas><figcaption id="grid-caption" class="muted">Samples per class appear here as it learns.</figcaption></figure>
</div>
</section>

<section>
<h2>Draw samples</h2>
<div class="row">
  <label>Class <select id="class"></select></label>
  <button id="draw" type="button">Draw 16 samples</button>
  <button id="download" type="button">Download the input generator</button>
</div>
<p class="muted">The download (demo-run.safetensors) holds the input generator and its run's settings: <code>npm run sample -- --run demo-run.safetensors --class Trouser --out trousers.png</code>.</p>
<canvas id="samples" width="528" height="132" aria-label="samples of the chosen class"></canvas>
<p id="samples-caption" class="muted"></p>
</section>

<section>
<h2>Your own models</h2>
<div id="drop">
  <p>Drop a generator (BigGAN-PyTorch) or a classifier (torchvision VGG or ResNet) here, as <code>.pth</code> or <code>.safetensors</code>; it is converted in the page and replaces the model of its kind.</p>
  <label>Or choose a file <input id="file" type="file" accept=".pth,.pt,.safetensors"></label>
</div>
</section>
<script type="module" src="/page.js"></script>
</html>`;

async function bundle(): Promise<string> {
  const out = await build({ ...browserOptions, entryPoints: [join(ROOT, 'demo', 'page.ts')], write: false, sourcemap: 'inline' });
  return out.outputFiles![0].text;
}

const page = await bundle();
const server = createServer((req, res) => {
  const url = (req.url ?? '/').split('?')[0];
  if (url === '/') return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HTML);
  if (url === '/favicon.ico') return res.writeHead(204).end();
  if (url === '/page.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(page);
  const model = MODELS.find((m) => url === `/models/${m}`);
  if (model) return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(join(ROOT, 'models', model)));
  res.writeHead(404).end();
});
const port = headless ? 0 : Number(args.port);
await new Promise<void>((listening, failed) => {
  server.once('error', failed);
  server.listen(port, '127.0.0.1', listening);
});
const url = `http://localhost:${(server.address() as { port: number }).port}/`;

if (!headless) {
  console.log(`webgpu-cgan demo: ${url}  (a browser with WebGPU; Ctrl-C stops the server)`);
} else {
  process.exitCode = await drive(url).catch((e) => {
    console.error(`demo: ${(e as Error).message}`);
    return 1;
  });
  server.close();
}

/** Headless Chromium (WebGPU on SwiftShader): a short training, then a screenshot or a check. */
async function drive(url: string): Promise<number> {
  const started = performance.now();
  const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => p && existsSync(p));
  if (!chromium) throw new Error('needs Chromium: on Debian `sudo apt-get install chromium`, or set CHROMIUM_PATH');
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu'] });
  const errors: string[] = [];
  try {
    const tab = await browser.newPage();
    await tab.setViewport({ width: 1100, height: 1000 });
    tab.on('pageerror', (e) => errors.push(`uncaught: ${(e as Error).message ?? e}`));
    tab.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
    });
    const steps = args.check ? '1' : args.steps!;
    const query = new URLSearchParams({ autostart: '1', steps, batch: args.batch!, pool: args.pool!, refresh: steps });
    await tab.goto(`${url}?${query}`);
    await tab.waitForFunction('globalThis.__demo?.done', { timeout: 600_000, polling: 500 });
    const result = (await tab.evaluate('globalThis.__demo')) as { steps: number; error: string | null; history: { loss: number }[] };
    if (result.error) errors.push(`shown on the page: ${result.error}`);
    if (result.steps !== Number(steps)) errors.push(`trained ${result.steps} steps, expected ${steps}`);
    // Draw samples of one class, and download the input generator (the check reads the file back).
    await tab.select('#class', '1');
    await tab.click('#draw');
    await tab.waitForFunction("document.getElementById('samples-caption').textContent || !document.getElementById('error').hidden", { timeout: 120_000 });
    const downloads = mkdtempSync(join(tmpdir(), 'cgan-demo-'));
    const cdp = await tab.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    await tab.click('#download');
    const file = join(downloads, 'demo-run.safetensors');
    for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(file)) errors.push('the download did not arrive');
    else {
      const { config } = parseRunFile(readFileSync(file), file);
      if (config.generator !== MODELS[0] || config.classifier !== MODELS[1]) errors.push(`the download names ${config.generator} and ${config.classifier}`);
      if (args.keep) console.log(`downloaded ${file}`);
    }
    const shown = (await tab.evaluate("document.getElementById('error').hidden ? null : document.getElementById('error').textContent")) as string | null;
    if (shown) errors.push(`shown on the page: ${shown}`);
    if (args.check) {
      // A file that is no model: the page says why, in its error box, and keeps its models.
      const bogus = join(downloads, 'not-a-model.pth');
      mkdirSync(downloads, { recursive: true });
      writeFileSync(bogus, 'not a checkpoint');
      const picker = await tab.$('#file');
      await (picker as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(bogus);
      await tab.waitForFunction("!document.getElementById('error').hidden", { timeout: 30_000 }).catch(() => errors.push('a bad file showed no error'));
      const message = (await tab.evaluate("document.getElementById('error').textContent")) as string;
      if (!message.includes('not-a-model.pth')) errors.push(`the bad file's error does not name it: ${message}`);
      rmSync(bogus, { force: true });
      // A user's own PyTorch checkpoint dropped on the page (a torchvision VGG .pth, the test
      // fixture): converted in the page, it becomes the classifier.
      const pth = readFileSync(join(ROOT, 'test', 'data', 'fixtures', 'vgg_bn_tiny.pth')).toString('base64');
      // (page code as a string: this file compiles without the DOM's types)
      await tab.evaluate(`(() => {
        const bytes = Uint8Array.from(atob('${pth}'), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'vgg_bn_tiny.pth'));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      })()`);
      await tab
        .waitForFunction("document.body.textContent.includes('using vgg_bn_tiny.pth as the classifier')", { timeout: 60_000 })
        .catch(() => errors.push('a dropped .pth was not taken as the classifier'));
      const dropError = (await tab.evaluate("document.getElementById('error').hidden ? null : document.getElementById('error').textContent")) as string | null;
      if (dropError) errors.push(`the dropped .pth gave an error: ${dropError}`);
    }
    if (args.screenshot) {
      await tab.evaluate('document.activeElement?.blur()');
      await tab.screenshot({ path: args.screenshot as `${string}.png`, fullPage: true });
      console.log(`wrote ${args.screenshot}`);
    }
    if (!args.keep) rmSync(downloads, { recursive: true, force: true });
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    const losses = result.history.map((h) => h.loss.toFixed(3)).join(' ');
    if (errors.length) {
      console.error(`demo: ${errors.join('\n')}`);
      return 1;
    }
    console.log(`demo: the page loaded and trained ${result.steps} step(s) with no page error, drew samples, downloaded the input generator${args.check ? ", refused a bad file and took a dropped .pth as the classifier" : ""} (loss ${losses}), ${seconds} s`);
    return 0;
  } finally {
    await browser.close();
  }
}

