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
