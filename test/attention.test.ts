// BigGAN's self-attention against a float64 reference written the way BigGAN-PyTorch computes it,
// with gradients for the input, all four 1x1 conv weights and gamma by finite differences.
import { beforeAll, describe, expect, it } from 'vitest';
import { selfAttention } from '../src/kernels/attention.js';
import { tensor } from '../src/engine/tensor.js';
import { checkOp, expectClose, numelOf, randomValues, setupGpu } from './helpers.js';
import { FORWARD_REL } from './tolerances.js';
import { selfAttentionRef } from './reference/attention.js';

beforeAll(setupGpu);

describe('selfAttention', () => {
  // [B, C, H, W]: C/8 = 2 query/key channels; batch 1 with one query/key channel; a non-square
  // image; C = 24 (not a multiple of 16, C/8 = 3, C/2 = 12).
  const shapes = [[2, 16, 4, 6], [1, 8, 4, 4], [2, 8, 2, 6], [1, 24, 6, 4]];
  for (const shape of shapes) {
    const [, C] = shape;
    const [C8, C2] = [C / 8, C / 2];
    it(`${JSON.stringify(shape)}: gradients for x, theta, phi, g, o and gamma`, async () => {
      await checkOp(
        ([x, theta, phi, g, o, gamma]) => selfAttention(x, { theta, phi, g, o, gamma }),
        ([x, theta, phi, g, o, gamma]) => selfAttentionRef(x, shape, { theta, phi, g, o, gamma: gamma[0] }),
        [
          { shape, values: randomValues(numelOf(shape), 3) },
          // Weights of std 0.5 keep the softmax away from saturation, where gradients are tiny.
          { shape: [C8, C, 1, 1], values: randomValues(C8 * C, 4, 0.5) },
          { shape: [C8, C, 1, 1], values: randomValues(C8 * C, 5, 0.5) },
          { shape: [C2, C, 1, 1], values: randomValues(C2 * C, 6, 0.5) },
          { shape: [C, C2, 1, 1], values: randomValues(C * C2, 7, 0.5) },
          { shape: [1], values: Float64Array.of(0.7) },
        ],
      );
    });
  }

  it('takes gamma as a plain number', async () => {
    const shape = [2, 8, 4, 2];
    const [C, C8, C2] = [8, 1, 4];
    const v = (n: number, seed: number) => Float64Array.from(Float32Array.from(randomValues(n, seed)));
    const x = v(numelOf(shape), 1);
    const w = { theta: v(C8 * C, 2), phi: v(C8 * C, 3), g: v(C2 * C, 4), o: v(C * C2, 5), gamma: -0.3 };
    const t = (a: Float64Array, s: number[]) => tensor(Float32Array.from(a), s);
    const y = selfAttention(t(x, shape), {
      theta: t(w.theta, [C8, C, 1, 1]), phi: t(w.phi, [C8, C, 1, 1]), g: t(w.g, [C2, C, 1, 1]), o: t(w.o, [C, C2, 1, 1]),
      gamma: w.gamma,
    });
    expectClose(await y.data(), selfAttentionRef(x, shape, w), FORWARD_REL);
  });

  it('refuses odd image sizes and mismatched weights', () => {
    const w = (o: number, c: number) => tensor(new Float32Array(o * c), [o, c, 1, 1]);
    const weights = { theta: w(1, 8), phi: w(1, 8), g: w(4, 8), o: w(8, 4), gamma: 1 };
    expect(() => selfAttention(tensor(new Float32Array(8 * 9), [1, 8, 3, 3]), weights)).toThrow(/even H and W/);
    expect(() => selfAttention(tensor(new Float32Array(8 * 4), [1, 8, 2, 2]), { ...weights, o: w(8, 3) })).toThrow(/o weight/);
  });
});
