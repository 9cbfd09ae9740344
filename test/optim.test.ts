// Adam against a float64 CPU implementation of PyTorch's update rule.
import { beforeAll, expect, it } from 'vitest';
import { tensor } from '../src/engine/tensor.js';
import { lerp_ } from '../src/kernels/average.js';
import { BatchNorm2d, Linear, Module } from '../src/models/module.js';
import { Adam, ExponentialAverage, updateBn } from '../src/train/optim.js';
import { expectClose, randomValues, setupGpu } from './helpers.js';
import { FORWARD_REL } from './tolerances.js';

beforeAll(setupGpu);

it('Adam follows PyTorch (bias correction, eps after the sqrt, weight decay)', async () => {
  const n = 37;
  const start = randomValues(n, 1);
  const p = tensor(Float32Array.from(start), [n], { requiresGrad: true });
  const opt = new Adam([p], { lr: 0.01, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.1 });
  const ref = Float64Array.from(Float32Array.from(start));
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  for (let step = 1; step <= 4; step++) {
    const g = Float64Array.from(Float32Array.from(randomValues(n, 10 + step)));
    p.grad = tensor(Float32Array.from(g), [n]);
    opt.step();
    for (let i = 0; i < n; i++) {
      const gi = g[i] + 0.1 * ref[i];
      m[i] = 0.8 * m[i] + 0.2 * gi;
      v[i] = 0.95 * v[i] + 0.05 * gi * gi;
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - 0.95 ** step) + 1e-6;
      ref[i] -= (0.01 / (1 - 0.8 ** step)) * (m[i] / denom);
    }
    opt.zeroGrad();
    expect(p.grad).toBeNull();
  }
  expectClose(await p.data(), ref, FORWARD_REL, 'parameters after 4 Adam steps');
});

it("parameter groups: each group steps at its own learning rate, as Adams of their own would; the state indexes the groups' parameters in order", async () => {
  const n = 9;
  const make = (seed: number) => tensor(Float32Array.from(randomValues(n, seed)), [n], { requiresGrad: true });
  const [a, b, a1, b1] = [make(1), make(2), make(1), make(2)];
  const grouped = new Adam([{ params: [a], lr: 0.05 }, { params: [b] }], { lr: 0.002, betas: [0.5, 0.999] });
  const alone = [new Adam([a1], { lr: 0.05, betas: [0.5, 0.999] }), new Adam([b1], { lr: 0.002, betas: [0.5, 0.999] })];
  for (let step = 1; step <= 3; step++) {
    for (const [p, seed] of [[a, 20], [b, 30], [a1, 20], [b1, 30]] as const) p.grad = tensor(Float32Array.from(randomValues(n, seed + step)), [n]);
    grouped.step();
    for (const opt of alone) opt.step();
  }
  expect(Array.from(await a.data())).toEqual(Array.from(await a1.data()));
  expect(Array.from(await b.data())).toEqual(Array.from(await b1.data()));
  const state = grouped.stateTensors();
  expect([...state.keys()]).toEqual(['state.0.exp_avg', 'state.0.exp_avg_sq', 'state.1.exp_avg', 'state.1.exp_avg_sq']);
  expect(Array.from(await state.get('state.1.exp_avg')!.data())).toEqual(Array.from(await alone[1].stateTensors().get('state.0.exp_avg')!.data()));
});

it('lerp_ moves a tensor toward another in place, as float64 math does', async () => {
  const n = 1000;
  const a = Float32Array.from(randomValues(n, 3));
  const b = Float32Array.from(randomValues(n, 4));
  const t = tensor(a, [10, 100]);
  const same = lerp_(t, tensor(b, [10, 100]), 0.3);
  expect(same).toBe(t);
  expectClose(await t.data(), Float64Array.from(a, (x, i) => x + 0.3 * (b[i] - x)), FORWARD_REL, 'lerp_');
  expect(() => lerp_(t, tensor(b, [100, 10]), 0.5)).toThrow(/lerp_: shapes \[10, 100\] and \[100, 10\] must be equal/);
});

/** A layer with parameters and one with buffers (batchnorm's running statistics). */
class Tiny extends Module {
  readonly fc = this.registerModule('fc', new Linear(5, 3));
  readonly bn = this.registerModule('bn', new BatchNorm2d(4));
}

it("ExponentialAverage follows torch's EMA of parameters and buffers, with TensorFlow's warm-up of the decay", async () => {
  const model = new Tiny();
  const average = new Tiny();
  average.loadStateDict(new Map(await Promise.all([...model.stateDict()].map(async ([k, t]) => [k, { shape: t.shape, data: (await t.data()) as Float32Array }] as const))));
  const ema = new ExponentialAverage(model, average, 0.9);
  const keys = [...model.stateDict().keys()];
  const ref = new Map(await Promise.all(keys.map(async (k) => [k, Float64Array.from((await model.stateDict().get(k)!.data()) as Float32Array)] as const)));
  for (let step = 0; step < 6; step++) {
    // The model "trains": new weights every step.
    for (const [i, k] of keys.entries()) model.stateDict().get(k)!.copy_(Float32Array.from(randomValues(model.stateDict().get(k)!.size, 100 * step + i)));
    const d = Math.min(0.9, (1 + step) / (10 + step));
    expect(ema.currentDecay).toBeCloseTo(d, 12);
    ema.update();
    for (const k of keys) {
      const w = (await model.stateDict().get(k)!.data()) as Float32Array;
      const r = ref.get(k)!;
      for (let i = 0; i < r.length; i++) r[i] = d * r[i] + (1 - d) * w[i];
    }
  }
  expect(ema.updates).toBe(6);
  for (const k of keys) expectClose(await average.stateDict().get(k)!.data(), ref.get(k)!, FORWARD_REL, `average ${k}`);
  expect(() => new ExponentialAverage(model, average, 1)).toThrow(/decay must be in \[0, 1\)/);
});

it("updateBn measures each batchnorm's statistics afresh, the plain average over its batches (torch's update_bn), and restores momentum and mode", async () => {
  const model = new Tiny().eval();
  const bn = model.bn;
  const [N, C, H, W] = [3, 4, 2, 5];
  // Statistics from elsewhere, which updateBn must replace, not blend with.
  bn.runningMean.copy_(Float32Array.from(randomValues(C, 1)));
  bn.runningVar.copy_(new Float32Array(C).fill(7));
  const batches = [0, 1, 2].map((k) => Float32Array.from(randomValues(N * C * H * W, 50 + k), (x) => 2 * x + k));
  expect(updateBn(model, batches.length, (k) => bn.forward(tensor(batches[k], [N, C, H, W])))).toBe(1);
  const n = N * H * W;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (const x of batches) {
    for (let c = 0; c < C; c++) {
      const values: number[] = [];
      for (let b = 0; b < N; b++) for (let i = 0; i < H * W; i++) values.push(x[(b * C + c) * H * W + i]);
      const m = values.reduce((a, v) => a + v, 0) / n;
      mean[c] += m / batches.length;
      // The running variance is the unbiased one, as torch keeps it.
      variance[c] += values.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1) / batches.length;
    }
  }
  expectClose(await bn.runningMean.data(), mean, FORWARD_REL, 'running mean');
  expectClose(await bn.runningVar.data(), variance, FORWARD_REL, 'running variance');
  expect([bn.momentum, model.training, bn.training]).toEqual([0.1, false, false]);
  expect(updateBn(new Module(), 2, () => {})).toBe(0);
  expect(() => updateBn(model, 0, () => {})).toThrow(/batches must be a whole number of at least 1, got 0/);
});
