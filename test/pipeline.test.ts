// The trainer's loss pieces against float64 references: the within-class spread term and the
// hinged cross-entropy (values and gradients by finite differences), and the count of correct
// predictions.
import { beforeAll, expect, it } from 'vitest';
import { tensor } from '../src/engine/tensor.js';
import { countCorrect, hingedCrossEntropy, withinClassSpread } from '../src/train/pipeline.js';
import { measurePriorRange, priorRangePenalty, priorRangeTensors } from '../src/train/priorRange.js';
import { checkOp, setupGpu } from './helpers.js';

beforeAll(setupGpu);

const targets = [0, 2, 0, 1, 2, 0, 1];

function spreadReference([f]: Float64Array[]): Float64Array {
  const n = targets.length;
  const d = f.length / n;
  const dist = (i: number, j: number) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += (f[i * d + k] - f[j * d + k]) ** 2;
    return Math.sqrt(s + 1e-6);
  };
  let within = 0;
  let pairs = 0;
  let all = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      all += dist(i, j);
      if (targets[i] === targets[j]) {
        within += dist(i, j);
        pairs++;
      }
    }
  }
  return Float64Array.of(within / (pairs + 1e-6) / (all / (n * (n - 1))));
}

it('withinClassSpread matches its definition, value and gradient', async () => {
  const t = tensor(Int32Array.from(targets));
  await checkOp(([f]) => withinClassSpread(f, t, 3), spreadReference, [{ shape: [targets.length, 5] }]);
});

it('countCorrect counts rows whose maximum is on the target', async () => {
  const logits = tensor([0.1, 0.9, 0.0, 2.0, 1.0, 0.5, 0.2, 0.3, 0.1, 0.0, 0.0, 1.0], [4, 3]);
  expect(await countCorrect(logits, tensor(Int32Array.from([1, 0, 0, 2])), 3).item()).toBe(3);
  expect(await countCorrect(logits, tensor(Int32Array.from([0, 1, 2, 0])), 3).item()).toBe(0);
});

it('hingedCrossEntropy matches mean(max(0, -log p_target + log p)), value and gradient', async () => {
  const rows = targets.length;
  const t = tensor(Int32Array.from(targets));
  const perRow = (x: Float64Array) =>
    targets.map((target, i) => {
      const row = x.subarray(i * 3, i * 3 + 3);
      const m = Math.max(...row);
      const logZ = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      return Math.max(0, logZ - row[target] + Math.log(0.6));
    });
  const reference = ([x]: Float64Array[]) => Float64Array.of(perRow(x).reduce((s, v) => s + v, 0) / rows);
  // Logits spread so that some rows are past the hinge (no gradient) and some are not.
  const values = Float64Array.from({ length: rows * 3 }, (_, i) => ((i * 7) % 11) * 0.45 - 2);
  const hinged = perRow(values);
  expect(hinged.some((v) => v === 0) && hinged.some((v) => v > 0)).toBe(true);
  await checkOp(([x]) => hingedCrossEntropy(x, t, 3, 0.6), reference, [{ shape: [rows, 3], values }]);
  expect(() => hingedCrossEntropy(tensor(Array.from(values), [rows, 3]), t, 3, 1)).toThrow(/confidence must be in \(0, 1\)/);
});

it('measurePriorRange takes each class mean from its confident pool samples, a shared variance, and a quantile radius', () => {
  // 6 pool samples, 2 classes, 2 features; class 0 is sure of rows 0-2, class 1 of rows 3-5.
  const probs = Float32Array.from([0.95, 0.05, 0.99, 0.01, 0.92, 0.08, 0.2, 0.8, 0.05, 0.95, 0.01, 0.99]);
  const features = Float32Array.from([1, 0, 3, 0, 2, 0, 0, 5, 0, 7, 0, 9]);
  const r = measurePriorRange(probs, features, 2, { confidence: 0.9, quantile: 1, minSupport: 2 });
  expect(r.support).toEqual([3, 2]); // row 3 gives class 1 only 0.8
  expect(r.mean[0]).toEqual([2, 0]);
  expect(r.mean[1]).toEqual([0, 8]);
  // One variance per feature, the within-class variances averaged over the classes: class 0 has
  // (2/3, 0), class 1 (0, 1); the floor is 1e-2 of their mean. The farthest sample is the radius.
  const within = [1 / 3, 1 / 2];
  const floor = (1e-2 * (within[0] + within[1])) / 2 + 1e-12;
  const iv = within.map((v) => 1 / (v + floor));
  expect(r.invVar).toHaveLength(2);
  r.invVar.forEach((v, j) => expect(v).toBeCloseTo(iv[j], 9));
  expect(r.radius[0]).toBeCloseTo(iv[0] / 2, 9);
  expect(r.radius[1]).toBeCloseTo(iv[1] / 2, 9);
  // Too few sure samples: the surest minSupport instead.
  expect(measurePriorRange(probs, features, 2, { confidence: 0.999, minSupport: 2 }).support).toEqual([2, 2]);
});

it('priorRangePenalty is the mean excess of the normalised distance over the class radius, value and gradient', async () => {
  const range = { mean: [[0.5, -1, 0], [1, 1, 2]], invVar: [1, 2, 0.5], radius: [0.8, 1.5], support: [9, 9], confidence: 0.9, quantile: 0.95 };
  const rangeTensors = priorRangeTensors(range);
  const reference = ([f]: Float64Array[]) => {
    let s = 0;
    targets.slice(0, 6).forEach((c, i) => {
      const cls = c % 2;
      let d2 = 0;
      for (let j = 0; j < 3; j++) d2 += (f[i * 3 + j] - range.mean[cls][j]) ** 2 * range.invVar[j];
      s += Math.max(0, d2 / 3 - range.radius[cls]);
    });
    return Float64Array.of(s / 6);
  };
  const t = tensor(Int32Array.from(targets.slice(0, 6).map((c) => c % 2)));
  // Rows inside (no gradient) and outside the range.
  const values = Float64Array.from([0.5, -1, 0, 1, 1, 2, 3, 2, -2, 1.1, 0.9, 2, -1, 2, 4, 2, -1, 0]);
  const excess = reference([values]);
  expect(excess[0]).toBeGreaterThan(0);
  await checkOp(([f]) => priorRangePenalty(f, t, rangeTensors), reference, [{ shape: [6, 3], values }]);
  expect(() => priorRangePenalty(tensor(new Float32Array(8), [4, 2]), t, rangeTensors)).toThrow(/gives 2 features, the range was measured on 3/);
});
