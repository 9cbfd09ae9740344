// The rows `npm run bench -- --browser` times, written once and run twice: in Node (Dawn) and in a
// page (headless Chromium's WebGPU). Wall-clock ms per call with the queue drained (the page has
// no timestamp queries to rely on), the median of `reps` after one warm-up call that compiles.
import { init, ops, optim, Rng, runtime, scope, tensor, InputGenerator, ConditioningPipeline, type Tensor } from '../../src/browser.js';
import type { Classifier, ImageGenerator } from '../../src/models/family.js';
import { TRAINING_DEFAULTS } from '../../src/train/defaults.js';

export interface TimedRow {
  row: string;
  ms: number;
}

async function time(row: string, reps: number, call: () => Tensor): Promise<TimedRow> {
  const rt = runtime();
  const once = async () => {
    const out = scope(call);
    await rt.sync();
    out.dispose();
  };
  await once();
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { row, ms: ms[Math.floor(ms.length / 2)] };
}

/** Kernel rows on the default models' shapes, then one training step of the default pair at `batch`. */
export async function timeRows(G: ImageGenerator, V: Classifier, reps = 5, batch = 16): Promise<TimedRow[]> {
  await init();
  const g = new Rng(1);
  const randn = (shape: number[]) => tensor(g.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))), shape);
  const a = randn([256, 256]);
  const b = randn([256, 256]);
  const x = randn([64, 256]);
  const w = randn([256, 256]);
  const img = randn([64, 32, 16, 16]);
  const k = randn([32, 32, 3, 3]);
  const logits = randn([64, 1000]);
  const rows = [
    await time('matmul 256x256 @ 256x256', reps, () => ops.matmul(a, b)),
    await time('linear 64x256 -> 256 (input generator trunk)', reps, () => ops.linear(x, w)),
    await time('conv2d 3x3 32->32 @16x16 b64 (BigGAN block 1)', reps, () => ops.conv2d(img, k, null, { padding: 1 })),
    await time('softmax 64x1000', reps, () => ops.softmax(logits)),
  ];
  for (const t of [a, b, x, w, img, k, logits]) t.dispose();

  const inputGenerator = new InputGenerator({ numClasses: V.numClasses, dimZ: G.dimZ, hidden: TRAINING_DEFAULTS.hidden, minSigma: TRAINING_DEFAULTS.minSigma }, 0);
  const pipeline = new ConditioningPipeline(G as never, V as never, inputGenerator, TRAINING_DEFAULTS.classifierSize);
  const optimizer = new optim.Adam(inputGenerator.parameters(), { lr: TRAINING_DEFAULTS.lr });
  const classes = Array.from({ length: batch }, (_, i) => i % V.numClasses);
  const rng = new Rng(2);
  rows.push(
    await time(`training step, default pair, batch ${batch} (forward, backward, Adam)`, Math.max(2, Math.floor(reps / 2)), () => {
      // No anchor pool here, so no prior range to measure: the step without the prior-range term.
      const s = pipeline.lossFor(classes, rng, { ...TRAINING_DEFAULTS.weights, priorRange: 0 });
      s.loss.backward();
      optimizer.step();
      optimizer.zeroGrad();
      return s.crossEntropy;
    }),
  );
  optimizer.dispose();
  inputGenerator.dispose();
  return rows;
}
