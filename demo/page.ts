// The demo page (npm run demo, demo/serve.ts bundles it with the browser build's options): train
// the input generator on the default pair in the browser, watch it learn, draw samples, download
// it for `npm run sample`, or drop in your own generator or classifier. Node-free.
import { init, runtime, scope, noGrad, tensor, Rng, readModelBytes, buildModel, InputGenerator, ConditioningPipeline, optim, ops } from '../src/browser.js';
import type { FrozenClassifier, FrozenGenerator } from '../src/models/family.js';
import { chooseAnchors } from '../src/train/anchors.js';
import { measurePriorRange, priorRangeTensors } from '../src/train/priorRange.js';
import { FASHION_MNIST_CLASSES } from '../src/train/classNames.js';
import { TRAINING_DEFAULTS } from '../src/train/defaults.js';
import { encodeRunFile } from '../src/train/runFile.js';
import { generateImages, trainingStep } from '../src/train/step.js';
import type { TrainConfig } from '../src/train/trainer.js';

const DEFAULT_G = 'fmnist_biggan32_G.safetensors';
const DEFAULT_C = 'fmnist_vgg_bn64.safetensors';
const JUDGE = 'fmnist_vgg_judge32.safetensors';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const params = new URLSearchParams(location.search);

interface Loaded<T> {
  model: T;
  name: string;
}
let G: Loaded<FrozenGenerator> | null = null;
let C: Loaded<FrozenClassifier> | null = null;
let judge: FrozenClassifier | null = null;
let pipeline: ConditioningPipeline | null = null;
let optimizer: InstanceType<typeof optim.Adam> | null = null;
let runConfig: TrainConfig | null = null;
let rng: Rng | null = null;
let stepsDone = 0;
let running = false;
let stopRequested = false;
const history: { step: number; loss: number; accuracy: number }[] = [];

function status(text: string): void {
  $('status').textContent = text;
}
function showError(e: unknown): void {
  const box = $('error');
  box.textContent = e instanceof Error ? e.message : String(e);
  box.hidden = false;
  console.warn(e);
}
function clearError(): void {
  $('error').hidden = true;
}
function classNames(): string[] {
  const K = C?.model.numClasses ?? 10;
  return K === FASHION_MNIST_CLASSES.length ? FASHION_MNIST_CLASSES : Array.from({ length: K }, (_, k) => `class ${k}`);
}

async function fetchBytes(name: string): Promise<Uint8Array> {
  const response = await fetch(`/models/${name}`);
  if (!response.ok) throw new Error(`/models/${name}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Any generator or classifier file (.pth, .safetensors), through the same converter as Node's. */
function build(bytes: Uint8Array, name: string): FrozenGenerator | FrozenClassifier {
  return buildModel(readModelBytes(bytes, name), name) as FrozenGenerator | FrozenClassifier;
}
const isGenerator = (m: FrozenGenerator | FrozenClassifier): m is FrozenGenerator => 'dimZ' in m;

function describeModels(): void {
  const g = G ? `${G.name} (${G.model.resolution}×${G.model.resolution}, z of ${G.model.dimZ})` : 'none';
  const c = C ? `${C.name} (${C.model.numClasses} classes)` : 'none';
  const j = judge && C?.name === DEFAULT_C ? JUDGE : 'off (it judges the default classifier\'s classes only)';
  $('models').textContent = `Generator: ${g}. Classifier: ${c}. Judge: ${j}.`;
  const select = $<HTMLSelectElement>('class');
  select.replaceChildren(...classNames().map((n, k) => new Option(n, String(k))));
}

function resetRun(): void {
  optimizer?.dispose();
  pipeline?.inputGenerator.dispose();
  pipeline = null;
  optimizer = null;
  runConfig = null;
  stepsDone = 0;
  history.length = 0;
  drawCurves();
  updateButtons();
}

function updateButtons(): void {
  const ready = G !== null && C !== null;
  $<HTMLButtonElement>('start').disabled = !ready || running;
  $<HTMLButtonElement>('continue').disabled = !pipeline || running;
  $<HTMLButtonElement>('stop').disabled = !running;
  $<HTMLButtonElement>('draw').disabled = !pipeline || running;
  $<HTMLButtonElement>('download').disabled = !pipeline || running;
  input('file').disabled = running;
}

function settings() {
  const num = (id: string) => Number(input(id).value);
  return { batch: num('batch'), steps: num('steps'), anchorPool: num('pool'), lr: num('lr'), seed: num('seed'), refresh: num('refresh') };
}

async function newRun(): Promise<void> {
  resetRun();
  const s = settings();
  const d = TRAINING_DEFAULTS;
  const classifierSize = C!.model.inputSize ?? d.classifierSize;
  runConfig = {
    generator: G!.name,
    classifier: C!.name,
    classNames: classNames(),
    epochs: 1,
    stepsPerEpoch: s.steps,
    batch: s.batch,
    lr: s.lr,
    seed: s.seed,
    classifierSize: C!.name === DEFAULT_C ? d.classifierSize : classifierSize,
    generatorClass: d.generatorClass,
    hidden: d.hidden,
    components: d.components,
    anchorPool: s.anchorPool,
    anchorCandidates: Math.min(d.anchorCandidates, s.anchorPool),
    minSigma: d.minSigma,
    // The prior range is measured on the anchor pool: without one, no prior-range term.
    weights: { ...d.weights, priorRange: s.anchorPool > 0 ? d.weights.priorRange : 0 },
    logEvery: 1,
    gridPerClass: d.gridPerClass,
    out: '',
  };
  const inputGenerator = new InputGenerator(
    { numClasses: C!.model.numClasses, dimZ: G!.model.dimZ, hidden: d.hidden, minSigma: d.minSigma, components: d.components, generatorClasses: 0, startClass: 0 },
    s.seed,
  );
  pipeline = new ConditioningPipeline(G!.model, C!.model, inputGenerator, runConfig.classifierSize, runConfig.generatorClass);
  optimizer = new optim.Adam(inputGenerator.parameters(), { lr: s.lr });
  rng = new Rng(s.seed);
  if (d.components > 1 && s.anchorPool > 0) {
    if (s.anchorPool < d.components) throw new Error(`the anchor pool must be at least ${d.components} (the components per class), or 0 for none`);
    status(`placing the anchors: the classifier labels ${s.anchorPool} samples of G's prior…`);
    const { values, pool } = await chooseAnchors(pipeline, d.components, {
      pool: s.anchorPool,
      candidates: runConfig.anchorCandidates!,
      seed: s.seed + 2,
      batch: Math.min(64, s.batch * 4),
      onProgress: (done, total) => status(`placing the anchors: labelled ${done}/${total} samples of G's prior`),
    });
    inputGenerator.setAnchors(values);
    if (runConfig.weights.priorRange) pipeline.priorRange = priorRangeTensors(measurePriorRange(pool.probs, pool.features, pipeline.numClasses));
  }
}

async function train(fresh: boolean): Promise<void> {
  clearError();
  running = true;
  stopRequested = false;
  updateButtons();
  const progress = $<HTMLProgressElement>('progress');
  try {
    if (fresh || !pipeline) await newRun();
    const s = settings();
    const target = stepsDone + s.steps;
    progress.max = s.steps;
    progress.value = 0;
    const t0 = performance.now();
    for (let i = 1; stepsDone < target && !stopRequested; i++) {
      const [loss, , correct] = await trainingStep(pipeline!, optimizer!, s.batch, rng!, runConfig!.weights);
      if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss} at step ${stepsDone + 1}; try a lower learning rate`);
      stepsDone++;
      history.push({ step: stepsDone, loss, accuracy: correct / s.batch });
      progress.value = i;
      const perStep = (performance.now() - t0) / 1000 / i;
      status(`step ${stepsDone} (${i}/${s.steps}): loss ${loss.toFixed(3)}, accuracy ${((100 * correct) / s.batch).toFixed(0)}%, ${perStep.toFixed(2)} s/step`);
      drawCurves();
      if (i % s.refresh === 0 || stepsDone === target) await drawGrid();
    }
    if (stopRequested) {
      status(`stopped after step ${stepsDone}`);
      await drawGrid();
    }
    runConfig!.stepsPerEpoch = stepsDone;
    runConfig!.batch = s.batch;
  } catch (e) {
    showError(e);
  } finally {
    running = false;
    updateButtons();
    const error = $('error').hidden ? null : $('error').textContent;
    (globalThis as { __demo?: unknown }).__demo = { ready: true, done: true, steps: stepsDone, history, error };
  }
}

// --- Drawing -------------------------------------------------------------------------------

function drawCurves(): void {
  const canvas = $<HTMLCanvasElement>('curves');
  const g = canvas.getContext('2d')!;
  const { width: W, height: H } = canvas;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, W, H);
  const pad = { l: 44, r: 44, t: 22, b: 26 };
  g.strokeStyle = '#999';
  g.strokeRect(pad.l, pad.t, W - pad.l - pad.r, H - pad.t - pad.b);
  g.font = '12px sans-serif';
  g.fillStyle = '#333';
  if (history.length === 0) {
    g.fillText('Loss and accuracy appear here as it trains.', pad.l + 10, H / 2);
    return;
  }
  const n = history.length;
  const maxLoss = Math.max(...history.map((h) => h.loss), 1e-6);
  const x = (i: number) => pad.l + ((W - pad.l - pad.r) * (n === 1 ? 0.5 : i / (n - 1)));
  const y = (v: number, max: number) => H - pad.b - ((H - pad.t - pad.b) * v) / max;
  const line = (color: string, values: number[], max: number) => {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    values.forEach((v, i) => (i ? g.lineTo(x(i), y(v, max)) : g.moveTo(x(i), y(v, max))));
    g.stroke();
    values.forEach((v, i) => g.fillRect(x(i) - 1.5, y(v, max) - 1.5, 3, 3));
  };
  g.fillStyle = '#c0392b';
  line('#c0392b', history.map((h) => h.loss), maxLoss);
  g.fillStyle = '#2471a3';
  line('#2471a3', history.map((h) => h.accuracy), 1);
  g.fillStyle = '#c0392b';
  g.fillText(`loss (max ${maxLoss.toFixed(2)})`, pad.l, 14);
  g.fillText(maxLoss.toFixed(2), 4, pad.t + 10);
  g.fillStyle = '#2471a3';
  g.fillText('accuracy on the batch', W - pad.r - 130, 14);
  g.fillText('100%', W - pad.r + 4, pad.t + 10);
  g.fillText('0%', W - pad.r + 4, H - pad.b);
  g.fillStyle = '#333';
  g.fillText(`step ${history[0].step}`, pad.l, H - 8);
  g.fillText(`step ${history[n - 1].step}`, W - pad.r - 50, H - 8);
}

/** Images (n, 3, r, r) in [-1, 1] as an ImageData row-major grid, `cols` wide, scaled by `s`. */
function paint(g: CanvasRenderingContext2D, images: Float32Array, index: number, r: number, x0: number, y0: number, s: number): void {
  const img = g.createImageData(r * s, r * s);
  const plane = r * r;
  const base = index * 3 * plane;
  for (let y = 0; y < r * s; y++) {
    for (let x = 0; x < r * s; x++) {
      const p = Math.floor(y / s) * r + Math.floor(x / s);
      const o = (y * r * s + x) * 4;
      for (let c = 0; c < 3; c++) img.data[o + c] = Math.max(0, Math.min(255, ((images[base + c * plane + p] + 1) / 2) * 255));
      img.data[o + 3] = 255;
    }
  }
  g.putImageData(img, x0, y0);
}

/** The judge's labels for images at G's resolution (resized to its input size if it differs). */
async function judgeLabels(images: Float32Array, n: number, r: number): Promise<number[] | null> {
  if (!judge || C?.name !== DEFAULT_C) return null;
  const K = judge.numClasses;
  const logits = noGrad(() =>
    scope(() => {
      let x = tensor(images, [n, 3, r, r]);
      const size = judge!.inputSize ?? r;
      if (size !== r) x = Number.isInteger(size / r) ? ops.upsampleNearest(x, size / r) : ops.resizeBilinear(x, size, size);
      return judge!.forward(x);
    }),
  );
  const values = (await logits.data()) as Float32Array;
  logits.dispose();
  return Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let k = 1; k < K; k++) if (values[i * K + k] > values[i * K + best]) best = k;
    return best;
  });
}

/** One row per class, fixed noise (so successive grids compare), the judge's agreement per row. */
async function drawGrid(): Promise<void> {
  if (!pipeline) return;
  const perClass = TRAINING_DEFAULTS.gridPerClass;
  const K = pipeline.numClasses;
  const n = K * perClass;
  const classes = Array.from({ length: n }, (_, i) => Math.floor(i / perClass));
  const gridRng = new Rng(runConfig!.seed + 1);
  const eps = gridRng.fillNormal(new Float32Array(n * pipeline.inputGenerator.config.dimZ));
  const images = await generateImages(pipeline, classes, eps, pipeline.inputGenerator.drawComponents(classes, gridRng));
  const r = pipeline.generator.resolution;
  const labels = await judgeLabels(images, n, r);
  const s = Math.max(1, Math.round(64 / r));
  const label = 110;
  const judgeCol = labels ? 90 : 0;
  const canvas = $<HTMLCanvasElement>('grid');
  canvas.width = label + perClass * (r * s + 2) + judgeCol;
  canvas.height = K * (r * s + 2) + 20;
  const g = canvas.getContext('2d')!;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = '#222';
  g.font = '13px sans-serif';
  g.fillText(`step ${stepsDone}`, 4, 14);
  if (labels) g.fillText('judge agrees', canvas.width - judgeCol + 6, 14);
  const names = classNames();
  for (let c = 0; c < K; c++) {
    const y = 20 + c * (r * s + 2);
    g.fillStyle = '#222';
    g.fillText(names[c], 4, y + (r * s) / 2 + 4);
    for (let j = 0; j < perClass; j++) paint(g, images, c * perClass + j, r, label + j * (r * s + 2), y, s);
    if (labels) {
      const agree = labels.slice(c * perClass, (c + 1) * perClass).filter((l) => l === c).length;
      g.fillStyle = '#222';
      g.fillText(`${agree}/${perClass}`, canvas.width - judgeCol + 20, y + (r * s) / 2 + 4);
    }
  }
  $('grid-caption').textContent = `Samples after step ${stepsDone}: one row per class, the same noise each time.${labels ? ` The judge (${JUDGE}, never trained on) agrees with ${labels.filter((l, i) => l === classes[i]).length}/${n}.` : ''}`;
}

let drawSeed = 100;
async function drawSamples(): Promise<void> {
  if (!pipeline) return;
  clearError();
  try {
    const cls = Number($<HTMLSelectElement>('class').value);
    const n = 16;
    const sampleRng = new Rng(drawSeed++);
    const eps = sampleRng.fillNormal(new Float32Array(n * pipeline.inputGenerator.config.dimZ));
    const classes = new Array<number>(n).fill(cls);
    const images = await generateImages(pipeline, classes, eps, pipeline.inputGenerator.drawComponents(classes, sampleRng));
    const r = pipeline.generator.resolution;
    const s = Math.max(1, Math.round(64 / r));
    const canvas = $<HTMLCanvasElement>('samples');
    canvas.width = 8 * (r * s + 2);
    canvas.height = 2 * (r * s + 2);
    const g = canvas.getContext('2d')!;
    for (let i = 0; i < n; i++) paint(g, images, i, r, (i % 8) * (r * s + 2), Math.floor(i / 8) * (r * s + 2), s);
    $('samples-caption').textContent = `${n} new samples of ${classNames()[cls]} (noise seed ${drawSeed - 1}).`;
  } catch (e) {
    showError(e);
  }
}

async function download(): Promise<void> {
  if (!pipeline || !runConfig) return;
  const bytes = await encodeRunFile(pipeline.inputGenerator, { ...runConfig, stepsPerEpoch: stepsDone });
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'demo-run.safetensors';
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A user's own generator or classifier: converted in the page, replacing the one of its kind. */
async function useFile(file: File): Promise<void> {
  clearError();
  if (running) return showError('stop the training before changing a model');
  try {
    status(`reading ${file.name}…`);
    const model = build(new Uint8Array(await file.arrayBuffer()), file.name);
    resetRun();
    if (isGenerator(model)) {
      (G?.model as unknown as { dispose(): void } | undefined)?.dispose();
      G = { model, name: file.name };
    } else {
      (C?.model as unknown as { dispose(): void } | undefined)?.dispose();
      C = { model, name: file.name };
    }
    describeModels();
    status(`using ${file.name} as the ${isGenerator(model) ? 'generator' : 'classifier'}; press Start training`);
  } catch (e) {
    status('the file was not used');
    showError(e);
  }
  updateButtons();
}

async function main(): Promise<void> {
  const d = TRAINING_DEFAULTS;
  for (const [id, fallback] of [['batch', 8], ['steps', 20], ['pool', 256], ['lr', d.lr], ['seed', d.seed], ['refresh', 5]] as const) {
    input(id).value = params.get(id) ?? String(fallback);
  }
  $('defaults').textContent =
    `Training defaults (npm run train): batch ${d.batch}, ${d.epochs}×${d.stepsPerEpoch} steps, ${d.components} components per class, ` +
    `anchor pool ${d.anchorPool}, KL ${d.weights.kl}, shift ${d.weights.shift}, confidence ${d.weights.confidence}, lr ${d.lr}. ` +
    'The page keeps the components, weights and learning rate, and starts with a smaller batch, fewer steps and a smaller anchor pool.';
  $('start').addEventListener('click', () => void train(true));
  $('continue').addEventListener('click', () => void train(false));
  $('stop').addEventListener('click', () => (stopRequested = true));
  $('draw').addEventListener('click', () => void drawSamples());
  $('download').addEventListener('click', () => void download());
  input('file').addEventListener('change', () => {
    const f = input('file').files?.[0];
    if (f) void useFile(f);
    input('file').value = '';
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files?.[0];
    if (f) void useFile(f);
  });
  updateButtons();
  drawCurves();

  try {
    status('opening WebGPU…');
    await init();
    $('adapter').textContent = `WebGPU adapter: ${runtime().adapterName}`;
  } catch (e) {
    $('adapter').textContent = 'WebGPU: not available';
    status('this page needs WebGPU (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu)');
    (globalThis as { __demo?: unknown }).__demo = { ready: true, done: true, steps: 0, history, error: String(e) };
    return showError(e);
  }
  try {
    status('loading the default pair and the judge…');
    const [g, c, j] = await Promise.all([DEFAULT_G, DEFAULT_C, JUDGE].map(fetchBytes));
    G = { model: build(g, DEFAULT_G) as FrozenGenerator, name: DEFAULT_G };
    C = { model: build(c, DEFAULT_C) as FrozenClassifier, name: DEFAULT_C };
    judge = build(j, JUDGE) as FrozenClassifier;
    describeModels();
    status('ready: press Start training');
  } catch (e) {
    status('the default models did not load');
    showError(e);
    (globalThis as { __demo?: unknown }).__demo = { ready: true, done: true, steps: 0, history, error: String(e) };
    return;
  }
  updateButtons();
  (globalThis as { __demo?: unknown }).__demo = { ready: true, steps: 0, history };
  if (params.has('autostart')) await train(true);
}

void main();
