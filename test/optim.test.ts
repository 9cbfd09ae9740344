// Adam against a float64 CPU implementation of PyTorch's update rule.
import { beforeAll, expect, it } from 'vitest';
import { tensor } from '../src/engine/tensor.js';
import { Adam } from '../src/train/optim.js';
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
