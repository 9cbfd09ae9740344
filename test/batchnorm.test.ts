// Batch normalisation against float64 references: training (batch statistics, both row-reduction
// paths), eval (running statistics), the running-statistics update, BigGAN's conditional form,
// and gradients for x, weight/bias and gain/bias by finite differences, on awkward shapes.
import { beforeAll, describe, expect, it } from 'vitest';
import { batchNorm, batchNormRelu, conditionalBatchNorm, conditionalBatchNormRelu } from '../src/kernels/batchnorm.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { runtime } from '../src/engine/runtime.js';
import { checkOp, expectClose, numelOf, randomValues, setupGpu } from './helpers.js';
import { FORWARD_REL } from './tolerances.js';
import { batchNormRef, channelStats, conditionalBatchNormRef } from './reference/batchnorm.js';

beforeAll(setupGpu);

// (N, C, ...): odd sizes, 1 channel, batch 1, channels not multiples of 4 or 16, a 2-D input,
// and rows of 272 and 300 elements (>= 256: a workgroup per row).
const SHAPES: number[][] = [[3, 5, 3, 3], [4, 1, 5, 3], [1, 3, 7, 5], [6, 7], [2, 3, 16, 17], [3, 2, 300]];

const positive = (n: number, seed: number) => randomValues(n, seed).map((v) => Math.abs(v) + 0.5);
const f64 = (v: ArrayLike<number>) => Float64Array.from(v);

describe('batchNorm, training mode', () => {
  for (const shape of SHAPES) {
    const [N, C] = shape;
    it(`weight and bias, ${JSON.stringify(shape)}`, async () => {
      await checkOp(
        ([x, w, b]) => batchNorm(x, null, null, w, b, { training: true }),
        ([x, w, b]) => batchNormRef(x, N, C, { training: true }, w, b),
        [{ shape }, { shape: [C] }, { shape: [C] }],
      );
    });
  }

  it('without affine parameters', async () => {
    await checkOp(
      ([x]) => batchNorm(x, null, null, null, null, { training: true }),
      ([x]) => batchNormRef(x, 2, 3, { training: true }),
      [{ shape: [2, 3, 5, 3] }],
    );
  });

  it('weight only, then bias only, with eps 1e-3', async () => {
    await checkOp(
      ([x, w]) => batchNorm(x, null, null, w, null, { training: true, eps: 1e-3 }),
      ([x, w]) => batchNormRef(x, 3, 4, { training: true, eps: 1e-3 }, w, null),
      [{ shape: [3, 4, 5] }, { shape: [4] }],
    );
    await checkOp(
      ([x, b]) => batchNorm(x, null, null, null, b, { training: true, eps: 1e-3 }),
      ([x, b]) => batchNormRef(x, 3, 4, { training: true, eps: 1e-3 }, null, b),
      [{ shape: [3, 4, 5] }, { shape: [4] }],
    );
  });

  it('stays accurate when the mean is far larger than the spread', async () => {
    // mean / std = 100 per channel: E[x^2] - E[x]^2 in float32 would lose about 4 digits.
    for (const shape of [[2, 3, 4, 5], [2, 3, 300]]) {
      const [N, C] = shape;
      const S = numelOf(shape) / (N * C);
      const values = randomValues(numelOf(shape), 5).map((v, i) => 100 * (1 + (Math.floor(i / S) % C)) + v);
      const x = tensor(Float32Array.from(values), shape);
      const y = await batchNorm(x, null, null, null, null, { training: true }).data();
      expectClose(y, batchNormRef(f64(Float32Array.from(values)), N, C, { training: true }), FORWARD_REL, 'normalised values');
    }
  });

  it('updates the running statistics in place, PyTorch-style', async () => {
    for (const [shape, momentum] of [[[3, 5, 2, 3], undefined], [[2, 3, 300], 0.3], [[5, 4], 1]] as const) {
      const [N, C] = shape;
      const xValues = f64(Float32Array.from(randomValues(numelOf(shape), 11)));
      const mean0 = f64(Float32Array.from(randomValues(C, 12)));
      const var0 = f64(Float32Array.from(positive(C, 13)));
      const runningMean = tensor(Float32Array.from(mean0), [C]);
      const runningVar = tensor(Float32Array.from(var0), [C]);
      const x = tensor(Float32Array.from(xValues), [...shape]);
      const y = batchNorm(x, runningMean, runningVar, null, null, { training: true, momentum });
      expectClose(await y.data(), batchNormRef(xValues, N, C, { training: true }), FORWARD_REL, 'output');
      const m = momentum ?? 0.1;
      const stats = channelStats(xValues, N, C);
      expectClose(await runningMean.data(), mean0.map((r, c) => (1 - m) * r + m * stats.mean[c]), FORWARD_REL, 'running mean');
      expectClose(await runningVar.data(), var0.map((r, c) => (1 - m) * r + m * stats.unbiased[c]), FORWARD_REL, 'running var');
    }
  });

  it('refuses a batch with one value per channel, as PyTorch does', () => {
    const x = tensor(new Float32Array(3), [1, 3]);
    expect(() => batchNorm(x, null, null, null, null, { training: true })).toThrow(/more than 1 value per channel/);
  });

  it('checks shapes', () => {
    const x = tensor(new Float32Array(12), [2, 3, 2]);
    const bad = tensor(new Float32Array(2), [2]);
    expect(() => batchNorm(x, null, null, bad, null, { training: true })).toThrow(/weight must have shape \[3\]/);
    expect(() => batchNorm(x, null, null)).toThrow(/needs running statistics/);
  });
});

describe('batchNorm, eval mode', () => {
  for (const shape of [[3, 5, 3, 3], [1, 1, 4, 3], [2, 3, 300], [5, 17]]) {
    const [N, C] = shape;
    it(`uses the running statistics, ${JSON.stringify(shape)}`, async () => {
      const runningMean = f64(Float32Array.from(randomValues(C, 21)));
      const runningVar = f64(Float32Array.from(positive(C, 22)));
      const ref = { training: false, runningMean, runningVar };
      let mean: Tensor | null = null;
      await checkOp(
        ([x, w, b]) => {
          mean = tensor(Float32Array.from(runningMean), [C]);
          return batchNorm(x, mean, tensor(Float32Array.from(runningVar), [C]), w, b);
        },
        ([x, w, b]) => batchNormRef(x, N, C, ref, w, b),
        [{ shape }, { shape: [C] }, { shape: [C] }],
      );
      // Eval mode leaves the running statistics alone.
      expectClose(await mean!.data(), runningMean, 0, 'running mean');
    });
  }

  it('gradient of x alone (a per-channel scale)', async () => {
    const C = 3;
    const runningMean = f64(Float32Array.from(randomValues(C, 31)));
    const runningVar = f64(Float32Array.from(positive(C, 32)));
    const w = f64(Float32Array.from(randomValues(C, 33)));
    await checkOp(
      ([x]) => batchNorm(x, tensor(Float32Array.from(runningMean), [C]), tensor(Float32Array.from(runningVar), [C]), tensor(Float32Array.from(w), [C])),
      ([x]) => batchNormRef(x, 2, C, { training: false, runningMean, runningVar }, w),
      [{ shape: [2, C, 3, 5] }],
    );
  });
});

describe('conditionalBatchNorm', () => {
  for (const shape of [[2, 5, 3, 3], [1, 3, 4, 5], [3, 1, 2, 3], [2, 3, 16, 17]]) {
    const [N, C] = shape;
    it(`training, gradients for x, gain and bias, ${JSON.stringify(shape)}`, async () => {
      await checkOp(
        ([x, gain, bias]) => conditionalBatchNorm(x, gain, bias, null, null, { training: true }),
        ([x, gain, bias]) => conditionalBatchNormRef(x, N, C, gain, bias, { training: true }),
        [{ shape }, { shape: [N, C] }, { shape: [N, C] }],
      );
    });
  }

  it('training with running statistics updates them', async () => {
    const [N, C] = [2, 3];
    const xValues = f64(Float32Array.from(randomValues(N * C * 6, 41)));
    const runningMean = tensor(new Float32Array(C), [C]);
    const runningVar = tensor(new Float32Array(C).fill(1), [C]);
    const gain = tensor(new Float32Array(N * C), [N, C]);
    const bias = tensor(new Float32Array(N * C), [N, C]);
    conditionalBatchNorm(tensor(Float32Array.from(xValues), [N, C, 2, 3]), gain, bias, runningMean, runningVar, { training: true });
    const stats = channelStats(xValues, N, C);
    expectClose(await runningMean.data(), stats.mean.map((m) => 0.1 * m), FORWARD_REL, 'running mean');
    expectClose(await runningVar.data(), stats.unbiased.map((v) => 0.9 + 0.1 * v), FORWARD_REL, 'running var');
  });

  for (const shape of [[2, 5, 3, 3], [1, 7, 2, 2]]) {
    const [N, C] = shape;
    it(`eval, gradients for x, gain and bias, ${JSON.stringify(shape)}`, async () => {
      const runningMean = f64(Float32Array.from(randomValues(C, 51)));
      const runningVar = f64(Float32Array.from(positive(C, 52)));
      await checkOp(
        ([x, gain, bias]) =>
          conditionalBatchNorm(x, gain, bias, tensor(Float32Array.from(runningMean), [C]), tensor(Float32Array.from(runningVar), [C])),
        ([x, gain, bias]) => conditionalBatchNormRef(x, N, C, gain, bias, { training: false, runningMean, runningVar }),
        [{ shape }, { shape: [N, C] }, { shape: [N, C] }],
      );
    });
  }

  it('gradients for gain and bias only (x frozen), training', async () => {
    const [N, C] = [3, 4];
    await checkOp(
      ([x, gain, bias]) => conditionalBatchNorm(x, gain, bias, null, null, { training: true }),
      ([x, gain, bias]) => conditionalBatchNormRef(x, N, C, gain, bias, { training: true }),
      [{ shape: [N, C, 3, 2], grad: false }, { shape: [N, C] }, { shape: [N, C] }],
    );
  });

  it('makes no read-back or submit of its own', () => {
    const rt = runtime();
    const x = tensor(new Float32Array(2 * 3 * 4), [2, 3, 4], { requiresGrad: true });
    const gain = tensor(new Float32Array(6), [2, 3]);
    const before = { ...rt.stats };
    const y = conditionalBatchNorm(x, gain, gain, null, null, { training: true });
    y.backward(tensor(new Float32Array(24).fill(1), y.shape));
    expect(rt.stats.submits).toBe(before.submits);
    expect(rt.stats.readbacks).toBe(before.readbacks);
  });
});

// relu fused into the batchnorm: forward and every gradient against relu of the float64
// reference; rows of 9 (a thread per element), 12 (a vec4 a thread), 32 (4 vec4s a thread) and
// 272 (a workgroup per row in the row sums) elements.
describe('batchnorm with a fused relu', () => {
  const relu = (v: Float64Array) => v.map((a) => Math.max(a, 0));
  for (const shape of [[2, 5, 3, 3], [1, 3, 2, 6], [2, 3, 4, 8], [2, 3, 16, 17]]) {
    const [N, C] = shape;
    it(`conditionalBatchNormRelu, eval and training, ${JSON.stringify(shape)}`, async () => {
      const runningMean = f64(Float32Array.from(randomValues(C, 61)));
      const runningVar = f64(Float32Array.from(positive(C, 62)));
      await checkOp(
        ([x, gain, bias]) =>
          conditionalBatchNormRelu(x, gain, bias, tensor(Float32Array.from(runningMean), [C]), tensor(Float32Array.from(runningVar), [C])),
        ([x, gain, bias]) => relu(conditionalBatchNormRef(x, N, C, gain, bias, { training: false, runningMean, runningVar })),
        [{ shape }, { shape: [N, C] }, { shape: [N, C] }],
        { seed: 3 },
      );
      await checkOp(
        ([x, gain, bias]) => conditionalBatchNormRelu(x, gain, bias, null, null, { training: true }),
        ([x, gain, bias]) => relu(conditionalBatchNormRef(x, N, C, gain, bias, { training: true })),
        [{ shape }, { shape: [N, C] }, { shape: [N, C] }],
        { seed: 4 },
      );
    });

    it(`batchNormRelu, eval and training, ${JSON.stringify(shape)}`, async () => {
      const runningMean = f64(Float32Array.from(randomValues(C, 71)));
      const runningVar = f64(Float32Array.from(positive(C, 72)));
      await checkOp(
        ([x, w, b]) => batchNormRelu(x, tensor(Float32Array.from(runningMean), [C]), tensor(Float32Array.from(runningVar), [C]), w, b),
        ([x, w, b]) => relu(batchNormRef(x, N, C, { training: false, runningMean, runningVar }, w, b)),
        [{ shape }, { shape: [C] }, { shape: [C] }],
        { seed: 5 },
      );
      await checkOp(
        ([x, w, b]) => batchNormRelu(x, null, null, w, b, { training: true }),
        ([x, w, b]) => relu(batchNormRef(x, N, C, { training: true }, w, b)),
        [{ shape }, { shape: [C] }, { shape: [C] }],
        { seed: 6 },
      );
    });
  }
});

describe('batchnorm over many long rows (a thread per row in the row reductions)', () => {
  it('training forward, gain and bias gradients of conditionalBatchNormRelu, 1056 rows of 256', async () => {
    const [N, C, S] = [32, 33, 256];
    const xv = f64(Float32Array.from(randomValues(N * C * S, 81)));
    const gv = f64(Float32Array.from(randomValues(N * C, 82, 0.3)));
    const bv = f64(Float32Array.from(randomValues(N * C, 83, 0.3)));
    const cot = f64(Float32Array.from(randomValues(N * C * S, 84)));
    const x = tensor(Float32Array.from(xv), [N, C, S]);
    const gain = tensor(Float32Array.from(gv), [N, C], { requiresGrad: true });
    const bias = tensor(Float32Array.from(bv), [N, C], { requiresGrad: true });
    const y = conditionalBatchNormRelu(x, gain, bias, null, null, { training: true });
    const ref = conditionalBatchNormRef(xv, N, C, gv, bv, { training: true });
    const yv = await y.data();
    expectClose(yv, ref.map((v) => Math.max(v, 0)), FORWARD_REL, 'forward');
    y.backward(tensor(Float32Array.from(cot), y.shape));
    // d/d bias[n, c] = sum over the row of cot where y > 0; d/d gain[n, c] the same of cot * x_hat
    // (the mask from the GPU's y: an output within rounding of 0 may go either way).
    const { mean, biased } = channelStats(xv, N, C);
    const dGain = new Float64Array(N * C);
    const dBias = new Float64Array(N * C);
    for (let r = 0; r < N * C; r++) {
      const c = r % C;
      for (let i = r * S; i < (r + 1) * S; i++) {
        if (yv[i] <= 0) continue;
        dBias[r] += cot[i];
        dGain[r] += (cot[i] * (xv[i] - mean[c])) / Math.sqrt(biased[c] + 1e-5);
      }
    }
    expectClose(await bias.grad!.data(), dBias, FORWARD_REL, 'bias gradient');
    expectClose(await gain.grad!.data(), dGain, FORWARD_REL, 'gain gradient');
  });
});
