// A classifier on G's latent z, distilled from the frozen classifier's labels of G's own prior
// samples (no training image; judges never see it). It screens prior draws before G: the
// latent-filter sampler (priorFilter's `screen`) spends a G pass only on draws it already calls the
// requested class, so G's posterior costs about one G pass a sample instead of the prior filter's
// tens (docs/ablation.md, "A classifier on z"). An MLP: z -> hidden -> hidden -> classes, trained on
// the frozen classifier's softmax (soft targets: its doubt on a draw is information too).
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/random.js';
import { scope, tensor, type Tensor } from '../engine/tensor.js';
import { mul, neg, relu } from '../kernels/elementwise.js';
import { mean, sum } from '../kernels/reduce.js';
import { logSoftmax, softmax } from '../kernels/softmax.js';
import { Linear, Module } from '../models/module.js';
import type { LabelledPool } from './anchors.js';
import { argmaxRows } from './metrics.js';
import { Adam } from './optim.js';

export interface LatentClassifierConfig {
  dimZ: number;
  numClasses: number;
  hidden: number;
}

export class LatentClassifier extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly fc3: Linear;

  constructor(readonly config: LatentClassifierConfig, seed = 0) {
    super();
    const generator = new Rng(seed);
    this.fc1 = this.registerModule('fc1', new Linear(config.dimZ, config.hidden, { generator }));
    this.fc2 = this.registerModule('fc2', new Linear(config.hidden, config.hidden, { generator }));
    this.fc3 = this.registerModule('fc3', new Linear(config.hidden, config.numClasses, { generator }));
  }

  /** Logits (B, numClasses) for latents z (B, dimZ). */
  forward(z: Tensor): Tensor {
    return this.fc3.forward(relu(this.fc2.forward(relu(this.fc1.forward(z)))));
  }

  /** Class probabilities for n latents (n * dimZ, row-major), in chunks, without a graph. */
  async probabilities(z: Float32Array, chunk = 4096): Promise<Float32Array> {
    const { dimZ, numClasses } = this.config;
    const n = z.length / dimZ;
    const out = new Float32Array(n * numClasses);
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      const p = noGrad(() => scope(() => softmax(this.forward(tensor(z.subarray(start * dimZ, (start + m) * dimZ), [m, dimZ])))));
      out.set((await p.data()) as Float32Array, start * numClasses);
      p.dispose();
    }
    return out;
  }
}

/** Mean over the batch of -sum_c target_c log softmax(logits)_c: cross-entropy against soft targets. */
export function softCrossEntropy(logits: Tensor, targets: Tensor): Tensor {
  if (logits.shape.join() !== targets.shape.join()) {
    throw new Error(`softCrossEntropy: logits ${logits.describe()} and targets ${targets.describe()} differ in shape`);
  }
  return neg(mean(sum(mul(targets, logSoftmax(logits)), 1)));
}

export interface LatentClassifierTraining {
  hidden: number;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  /** Share of the pool held out to measure agreement with the frozen classifier (not trained on). */
  heldOut: number;
  onEpoch?: (epoch: number, loss: number, agreement: number) => void;
}

export const LATENT_CLASSIFIER_DEFAULTS = { hidden: 256, epochs: 10, batch: 256, lr: 1e-3, heldOut: 0.1 };

/** The latents a pool of `size` leaves to train on once `heldOut` of it is held out for the agreement. */
export function trainingRows(size: number, heldOut: number): number {
  return size - Math.floor(size * heldOut);
}

/** Agreement: the share of held-out pool latents whose argmax is the frozen classifier's. */
export async function trainLatentClassifier(
  pool: LabelledPool,
  numClasses: number,
  options: LatentClassifierTraining,
): Promise<{ classifier: LatentClassifier; agreement: number }> {
  const dimZ = pool.z.length / pool.size;
  const trainRows = trainingRows(pool.size, options.heldOut);
  const held = pool.size - trainRows;
  if (trainRows < options.batch) {
    throw new Error(`latent classifier: a pool of ${pool.size} leaves ${trainRows} latents to train on, fewer than a batch of ${options.batch}`);
  }
  const classifier = new LatentClassifier({ dimZ, numClasses, hidden: options.hidden }, options.seed);
  const optimizer = new Adam(classifier.parameters(), { lr: options.lr });
  const rng = new Rng(options.seed + 1);
  const order = Array.from({ length: trainRows }, (_, i) => i);
  const z = new Float32Array(options.batch * dimZ);
  const targets = new Float32Array(options.batch * numClasses);
  let agreement = 0;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    rng.shuffle(order);
    let lossSum = 0;
    let batches = 0;
    // Whole batches only: every step sees the same batch shape.
    for (let start = 0; start + options.batch <= trainRows; start += options.batch) {
      for (let b = 0; b < options.batch; b++) {
        const row = order[start + b];
        z.set(pool.z.subarray(row * dimZ, (row + 1) * dimZ), b * dimZ);
        targets.set(pool.probs.subarray(row * numClasses, (row + 1) * numClasses), b * numClasses);
      }
      const loss = scope(() => {
        const l = softCrossEntropy(classifier.forward(tensor(z, [options.batch, dimZ])), tensor(targets, [options.batch, numClasses]));
        l.backward();
        optimizer.step();
        optimizer.zeroGrad();
        return l;
      });
      lossSum += ((await loss.data()) as Float32Array)[0];
      loss.dispose();
      batches++;
    }
    agreement = held > 0 ? await agreementOn(classifier, pool, trainRows, numClasses) : NaN;
    options.onEpoch?.(epoch, lossSum / batches, agreement);
  }
  return { classifier, agreement };
}

async function agreementOn(classifier: LatentClassifier, pool: LabelledPool, from: number, K: number): Promise<number> {
  const dimZ = pool.z.length / pool.size;
  const rows = pool.size - from;
  const predicted = argmaxRows(await classifier.probabilities(pool.z.subarray(from * dimZ)), rows, K);
  const labelled = argmaxRows(pool.probs.subarray(from * K), rows, K);
  return predicted.filter((c, i) => c === labelled[i]).length / rows;
}
