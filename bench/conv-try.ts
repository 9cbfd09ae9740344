// Quick timing of the conv2d kernels (not a test): forward and input gradient for the VGG
// 64x64 layer shapes at batch 16 (3x3, stride 1, padding 1), queue drained after each batch
// of launches. Prints milliseconds per call and GFLOP/s (2 * B * O * C * kh * kw * Ho * Wo per
// call, for the input gradient too). --set=biggan times the BigGAN generator's convs instead.
//
//   npx tsx bench/conv-try.ts [--batch=16] [--reps=5] [--only=fwd,dx,dw] [--set=vgg|biggan]
import { init, runtime } from '../src/engine/runtime.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { conv2d, conv2dInputGrad, conv2dWeightGrad } from '../src/kernels/conv2d.js';

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const B = Number(arg('batch', '16'));
const REPS = Number(arg('reps', '5'));
const only = arg('only', 'fwd,dx');

type Layer = [C: number, O: number, HW: number, k: number];
const sets: Record<string, Layer[]> = {
  vgg: [
    [3, 16, 64, 3],
    [16, 32, 32, 3],
    [32, 64, 16, 3],
    [64, 64, 16, 3],
    [64, 128, 8, 3],
    [128, 128, 8, 3],
    [128, 128, 4, 3],
  ],
  biggan: [
    [32, 32, 8, 3],
    [32, 32, 16, 3],
    [32, 32, 32, 3],
    [32, 3, 32, 3],
    [32, 32, 32, 1],
    [32, 16, 32, 1],
    [32, 4, 32, 1],
  ],
};
const set = arg('set', 'vgg');
const layers = sets[set];
if (!layers) throw new Error(`--set must be one of ${Object.keys(sets).join(', ')}`);

function random(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.random() - 0.5;
  return tensor(v, shape);
}

/** Best of REPS timings of `calls` back-to-back launches followed by a full sync; ms per call. */
async function time(run: () => Tensor): Promise<number> {
  const rt = runtime();
  run().dispose();
  await rt.sync();
  // Enough calls per timing that the submit/sync overhead is small (~20 ms of work at least).
  let calls = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) run().dispose();
    await rt.sync();
    const ms = performance.now() - t0;
    if (ms > 20 || calls >= 64) break;
    calls *= 2;
  }
  let best = Infinity;
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) run().dispose();
    await rt.sync();
    best = Math.min(best, (performance.now() - t0) / calls);
  }
  return best;
}

await init();
console.log(`adapter: ${runtime().adapterName}; ${set} layers, batch ${B}, stride 1, 'same' padding; best of ${REPS}`);
console.log('layer                 pass   ms/call   GFLOP/s');
const total: Record<string, number> = {};
for (const [C, O, HW, k] of layers) {
  const padding = (k - 1) / 2;
  const x = random([B, C, HW, HW]);
  const w = random([O, C, k, k]);
  const b = random([O]);
  const dy = random([B, O, HW, HW]);
  const flop = 2 * B * O * C * k * k * HW * HW;
  const passes: [string, () => Tensor][] = [
    ['fwd', () => conv2d(x, w, b, { padding })],
    ['dx', () => conv2dInputGrad(dy, w, x.shape, { padding })],
    ['dw', () => conv2dWeightGrad(x, dy, w.shape, { padding })],
  ];
  for (const [name, run] of passes) {
    if (!only.split(',').includes(name)) continue;
    const ms = await time(run);
    total[name] = (total[name] ?? 0) + ms;
    const label = `${k}x${k} ${C}->${O} @${HW}x${HW}`.padEnd(21);
    console.log(`${label} ${name.padEnd(5)} ${ms.toFixed(3).padStart(8)}  ${(flop / ms / 1e6).toFixed(1).padStart(8)}`);
  }
  for (const t of [x, w, b, dy]) t.dispose();
}
for (const [name, ms] of Object.entries(total)) console.log(`total ${name}: ${ms.toFixed(2)} ms`);
