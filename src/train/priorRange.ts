// Beyond the paper (issue 15): keep the samples where G's own natural samples of a class lie, as
// the frozen classifier sees them. Samples that fool the classifier (a near-black "Bag", a faint
// "Shirt") still get their class, but their penultimate features sit outside the range that G's
// prior samples of that class span. The range is measured on G's prior only (the same pool the
// anchors are chosen from; no training image), per class: the mean of each feature over the pool
// samples the classifier gives the class with high probability, a per-feature variance shared by
// the classes, and a radius, a quantile of those samples' normalised squared distance to the mean.
// The loss term is the mean excess of a sample's distance over its class's radius: zero inside the
// range, so it only acts on outliers.
import { tensor, type Tensor } from '../engine/tensor.js';
import { mul, relu, square, sub } from '../kernels/elementwise.js';
import { oneHot } from '../kernels/gather.js';
import { matmul } from '../kernels/matmul.js';
import { mean } from '../kernels/reduce.js';

export interface PriorRange {
  /** (numClasses, features): each class's feature means. */
  mean: number[][];
  /** (features): 1 / (variance + floor), the within-class variance shared by the classes. */
  invVar: number[];
  /** Per class: the `quantile` of the pool samples' distances (mean over features of the normalised squares). */
  radius: number[];
  /** Per class: how many pool samples the statistics came from. */
  support: number[];
  confidence: number;
  quantile: number;
}

export interface PriorRangeOptions {
  /** Pool samples count for a class when the classifier gives it at least this probability. */
  confidence?: number;
  quantile?: number;
  /** A class with fewer confident samples takes its this many surest ones instead. */
  minSupport?: number;
}

/** The range of each class from a labelled pool: probs (pool, K) and features (pool, F), row-major. */
export function measurePriorRange(probs: Float32Array, features: Float32Array, numClasses: number, options: PriorRangeOptions = {}): PriorRange {
  const { confidence = 0.9, quantile = 0.95, minSupport = 16 } = options;
  const pool = probs.length / numClasses;
  const F = features.length / pool;
  if (!Number.isInteger(F) || F < 1) throw new Error(`prior range: ${features.length} feature values do not split into ${pool} pool samples`);
  const range: PriorRange = { mean: [], invVar: [], radius: [], support: [], confidence, quantile };
  const members: number[][] = [];
  const within = new Float64Array(F);
  for (let c = 0; c < numClasses; c++) {
    let rows = Array.from({ length: pool }, (_, i) => i).filter((i) => probs[i * numClasses + c] >= confidence);
    if (rows.length < minSupport) {
      rows = Array.from({ length: pool }, (_, i) => i)
        .sort((a, b) => probs[b * numClasses + c] - probs[a * numClasses + c])
        .slice(0, Math.min(minSupport, pool));
    }
    const m = new Float64Array(F);
    for (const i of rows) for (let j = 0; j < F; j++) m[j] += features[i * F + j] / rows.length;
    for (const i of rows) for (let j = 0; j < F; j++) within[j] += (features[i * F + j] - m[j]) ** 2 / rows.length / numClasses;
    members.push(rows);
    range.mean.push(Array.from(m));
    range.support.push(rows.length);
  }
  // One variance per feature, shared by the classes (the within-class variance averaged over them,
  // as Mahalanobis out-of-distribution scores do): a feature that is near-constant within one class
  // would otherwise turn any activity into an enormous distance. The floor covers dead features.
  const floor = (1e-2 * within.reduce((s, x) => s + x, 0)) / F + 1e-12;
  const iv = Array.from(within, (x) => 1 / (x + floor));
  range.invVar = iv;
  members.forEach((rows, c) => {
    const m = range.mean[c];
    const d2 = rows.map((i) => {
      let s = 0;
      for (let j = 0; j < F; j++) s += (features[i * F + j] - m[j]) ** 2 * iv[j];
      return s / F;
    });
    d2.sort((a, b) => a - b);
    range.radius.push(d2[Math.min(d2.length - 1, Math.floor(quantile * d2.length))]);
  });
  return range;
}

/** The range as device tensors, made once per run (they never need a gradient). */
export interface PriorRangeTensors {
  mean: Tensor;
  /** (1, features) */
  invVar: Tensor;
  radius: Tensor;
}

export function priorRangeTensors(range: PriorRange): PriorRangeTensors {
  const K = range.mean.length;
  const F = range.mean[0].length;
  return {
    mean: tensor(Float32Array.from(range.mean.flat()), [K, F]),
    invVar: tensor(Float32Array.from(range.invVar), [1, F]),
    radius: tensor(Float32Array.from(range.radius), [K, 1]),
  };
}

/** mean over the batch of max(0, d2 - radius[class]), d2 the sample's normalised squared distance. */
export function priorRangePenalty(features: Tensor, target: Tensor, range: PriorRangeTensors): Tensor {
  const [K, F] = range.mean.shape;
  if (features.shape[1] !== F) throw new Error(`prior range: the classifier gives ${features.shape[1]} features, the range was measured on ${F}`);
  const hot = oneHot(target, K);
  const d2 = mean(mul(square(sub(features, matmul(hot, range.mean))), range.invVar), 1, true);
  return mean(relu(sub(d2, matmul(hot, range.radius))));
}
