// Softmax, log-softmax and mean cross-entropy against float64 references, on rows of 1, 17, 65
// and 300 columns (the shader's workgroup has 64 threads, so these are short, ragged and
// multi-pass rows), with batch 1 and with leading dims.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../src/kernels/index.js';
import { tensor } from '../src/engine/tensor.js';
import { checkOp, randomValues, setupGpu } from './helpers.js';
import { crossEntropyRef, softmaxRef } from './reference/softmax.js';

beforeAll(setupGpu);

const SHAPES: number[][] = [
  [3, 1],
  [1, 17], // batch 1
  [3, 17],
  [4, 65],
  [2, 300],
  [300], // a single row, 1-D
  [2, 3, 17], // leading dims are rows too
];

describe.each([
  ['softmax', false],
  ['logSoftmax', true],
] as const)('%s over the last axis', (name, log) => {
  it('rows of 1, 17, 65 and 300 columns', async () => {
    for (const [i, shape] of SHAPES.entries()) {
      const cols = shape[shape.length - 1];
      await checkOp(
        ([x]) => ops[name](x),
        ([x]) => softmaxRef(x, cols, log),
        [{ shape, values: randomValues(shape.reduce((a, b) => a * b), 60 + i, 3) }],
        { seed: i + 1 },
      );
    }
  });

  it('more than 65,535 rows (the grid folds into y)', async () => {
    const rows = 65600;
    const x = tensor(Float32Array.from({ length: rows * 2 }, (_, i) => (i % 7) * 0.5), [rows, 2]);
    const expected = softmaxRef(Float64Array.from({ length: rows * 2 }, (_, i) => (i % 7) * 0.5), 2, log);
    const actual = await ops[name](x).data();
    let worst = 0;
    actual.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - expected[j]))));
    expect(worst).toBeLessThan(1e-5);
  });

  it('is shift invariant: large logits do not overflow', async () => {
    const x = tensor([1000, 1001, 1002, -1000, -1001, -1002], [2, 3]);
    const expected = softmaxRef(Float64Array.from([0, 1, 2, 0, -1, -2]), 3, log);
    const actual = await ops[name](x).data();
    actual.forEach((v, j) => expect(v).toBeCloseTo(expected[j], 5));
  });
});

describe('crossEntropy (mean over the batch)', () => {
  const CASES: { rows: number; cols: number }[] = [
    { rows: 1, cols: 1 },
    { rows: 1, cols: 300 }, // batch 1
    { rows: 4, cols: 17 },
    { rows: 5, cols: 65 },
    { rows: 3, cols: 300 },
  ];

  function targetsFor(rows: number, cols: number, seed: number): number[] {
    return Array.from(randomValues(rows, seed), (v, r) => Math.floor(Math.abs(v) * 1e4 + r) % cols);
  }

  for (const form of ['int32 tensor', 'plain array'] as const) {
    it(`targets as ${form}`, async () => {
      for (const [i, { rows, cols }] of CASES.entries()) {
        const targets = targetsFor(rows, cols, 70 + i);
        await checkOp(
          ([x]) => {
            const loss = ops.crossEntropy(x, form === 'plain array' ? targets : tensor(Int32Array.from(targets)));
            expect(loss.shape).toEqual([]);
            return loss;
          },
          ([x]) => crossEntropyRef(x, cols, targets),
          [{ shape: [rows, cols], values: randomValues(rows * cols, 80 + i, 2) }],
          { seed: i + 1 },
        );
      }
    });
  }

  it('matches -mean(logSoftmax[target]) and puts its gradient on the logits only', async () => {
    const logits = tensor(randomValues(4 * 5, 90), [4, 5], { requiresGrad: true });
    const targets = [4, 0, 2, 2];
    const loss = ops.crossEntropy(logits, targets);
    const viaLogSoftmax = ops.mean(ops.mul(ops.logSoftmax(logits), ops.oneHot(targets, 5)), undefined);
    expect(await loss.item()).toBeCloseTo(-(await viaLogSoftmax.item()) * 5, 5);
    loss.backward();
    const grad = await logits.grad!.data();
    // each row's gradient sums to zero: softmax minus one-hot, over the batch size
    for (let r = 0; r < 4; r++) expect(Array.from(grad.slice(r * 5, r * 5 + 5)).reduce((a, b) => a + b, 0)).toBeCloseTo(0, 6);
  });
});
