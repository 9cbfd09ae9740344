// The trainer's loss pieces against float64 references: the within-class spread term and the
// hinged cross-entropy (values and gradients by finite differences), and the count of correct
// predictions.
import { beforeAll, expect, it } from 'vitest';
import { tensor } from '../src/engine/tensor.js';
import { countCorrect, hingedCrossEntropy, withinClassSpread } from '../src/train/pipeline.js';
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
