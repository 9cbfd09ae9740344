// The full-size networks people hold, built with random weights (never stored): torchvision's
// VGG-16 at 224x224 (138M parameters; classifier.0's weight, 411 MB, is over lavapipe's 128 MiB
// binding limit and is held as row blocks) and BigGAN-deep-256 (channel width 128: 2048-channel
// blocks at 4x4 and 8x8). Each runs forward and backward to its input at batch 1 (or --batch);
// the bench reports the wall time of both and what the graph holds for backward. From VGG-16's
// batch 11 its first activations are over lavapipe's binding-size limit, and the ops run in
// parts of the batch (src/engine/split.ts).
//
//   npx tsx bench/fullSize.ts [--only=vgg16|biggan-deep-256] [--reps=2] [--batch=1]
import { heldForBackward, type HeldTensor } from '../src/engine/autograd.js';
import { formatBytes } from '../src/engine/bufferPool.js';
import { Rng } from '../src/engine/random.js';
import { init, runtime } from '../src/engine/runtime.js';
import { scope, type Tensor } from '../src/engine/tensor.js';
import { clone, mean, randn } from '../src/kernels/index.js';
import { BigGANDeepGenerator, type BigGANDeepConfig } from '../src/models/bigganDeep.js';
import type { Module } from '../src/models/module.js';
import { VGG, type VGGConfig } from '../src/models/vgg.js';

/** torchvision's vgg16 (configuration D, no batchnorm), ImageNet-shaped. */
export const VGG16: VGGConfig = {
  inChannels: 3,
  cfg: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  batchNorm: false,
  avgPool: 7,
  hidden: [4096, 4096],
  numClasses: 1000,
  inputSize: 224,
  normalize: true,
  eps: 1e-5,
};

/** pytorch-pretrained-BigGAN's biggan-deep-256 config.json. */
export const BIGGAN_DEEP_256: BigGANDeepConfig = {
  resolution: 256,
  channelWidth: 128,
  dimZ: 128,
  nClasses: 1000,
  layers: [
    [false, 16, 16], [true, 16, 16], [false, 16, 16], [true, 16, 8], [false, 8, 8], [true, 8, 8],
    [false, 8, 8], [true, 8, 4], [false, 4, 4], [true, 4, 2], [false, 2, 2], [true, 2, 1],
  ],
  attentionPosition: 8,
  nStats: 51,
  eps: 1e-4,
  truncation: 0.4,
};

/** Random weights: normal with std 1/sqrt(fan-in) for weights, small for biases, variances in [0.5, 1.5]. */
export function randomize(module: Module, seed = 0): void {
  const g = new Rng(seed);
  for (const [key, t] of module.stateDict()) {
    const fanIn = t.ndim > 1 ? t.size / t.shape[0] : 1;
    const std = /var/.test(key) ? 0 : t.ndim > 1 ? 1 / Math.sqrt(fanIn) : 0.05;
    t.copy_(g.fillNormal(new Float32Array(t.size), /var/.test(key) ? 1 : 0, Math.max(std, 1e-3)));
  }
}

export interface FullSizeResult {
  name: string;
  parameters: number;
  /** Wall ms of forward + backward to the input, per repetition (the first holds the compiles). */
  ms: number[];
  held: HeldTensor[];
  /** Live bytes after the forward pass less those before: everything kept for backward. */
  liveForBackward: number;
  /** The input gradient came back finite. */
  finite: boolean;
}

async function timeForwardBackward(
  name: string, module: Module, input: () => Tensor, forward: (x: Tensor) => Tensor, reps: number,
): Promise<FullSizeResult> {
  const rt = runtime();
  const ms: number[] = [];
  let held: HeldTensor[] = [];
  let liveForBackward = 0;
  let finite = true;
  for (let r = 0; r < reps; r++) {
    const started = performance.now();
    const grad = scope(() => {
      const x = input().requiresGrad_(true);
      const before = rt.pool.liveBytes;
      const loss = mean(forward(x));
      if (r === 0) {
        held = heldForBackward(loss);
        liveForBackward = rt.pool.liveBytes - before;
      }
      loss.backward();
      return clone(x.grad!); // x, and with it its grad, ends with the scope
    });
    finite &&= (await grad.data()).every(Number.isFinite);
    grad.dispose();
    ms.push(performance.now() - started);
  }
  const parameters = module.parameters().reduce((n, p) => n + p.size, 0);
  return { name, parameters, ms, held, liveForBackward, finite };
}

export async function runVgg16(reps = 2, batch = 1): Promise<FullSizeResult> {
  const vgg = new VGG(VGG16);
  randomize(vgg, 1);
  vgg.requiresGrad_(false); // frozen, as the method uses it
  const g = new Rng(2);
  return timeForwardBackward(`VGG-16 @224, batch ${batch}`, vgg, () => randn([batch, 3, 224, 224], { generator: g }), (x) => vgg.forward(x), reps);
}

export async function runBigGANDeep256(reps = 2, batch = 1): Promise<FullSizeResult> {
  const G = new BigGANDeepGenerator(BIGGAN_DEEP_256);
  randomize(G, 3);
  G.requiresGrad_(false);
  const g = new Rng(4);
  const classes = new Array<number>(batch).fill(207);
  return timeForwardBackward(`BigGAN-deep-256, batch ${batch}`, G, () => randn([batch, 128], { generator: g, std: 0.4 }), (z) => G.forward(z, classes), reps);
}

export function describeHeld(r: FullSizeResult, top = 6): string[] {
  const sum = (kind: string) => r.held.filter((t) => t.kind === kind).reduce((n, t) => n + t.bytes, 0);
  const lines = [
    `${r.name}: ${(r.parameters / 1e6).toFixed(1)}M parameters; forward + backward to the input ${r.ms.map((m) => (m / 1000).toFixed(2)).join(' s, ')} s` +
      ` (first with compiles); input gradient ${r.finite ? 'finite' : 'NOT finite'}`,
    `  held for backward: ${formatBytes(r.liveForBackward)} of live buffers made by the forward pass; the graph's inputs: ` +
      `${formatBytes(sum('activation'))} of activations, ${formatBytes(sum('parameter'))} of parameters`,
  ];
  for (const t of r.held.filter((h) => h.kind === 'activation').slice(0, top)) {
    lines.push(`    ${formatBytes(t.bytes).padStart(10)}  [${t.shape.join(', ')}] made by ${t.madeBy}, saved for ${t.usedBy.join(', ')}`);
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
  const only = arg('only', 'vgg16,biggan-deep-256').split(',');
  const reps = Number(arg('reps', '2'));
  const batch = Number(arg('batch', '1'));
  const rt = await init();
  console.log(`adapter: ${rt.adapterName}`);
  if (only.includes('vgg16')) for (const l of describeHeld(await runVgg16(reps, batch))) console.log(l);
  if (only.includes('biggan-deep-256')) for (const l of describeHeld(await runBigGANDeep256(reps, batch))) console.log(l);
}
