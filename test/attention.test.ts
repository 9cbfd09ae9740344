// BigGAN's self-attention against a float64 reference written the way BigGAN-PyTorch computes it:
// the fused attention core alone, the whole block with the fused core, and the block composed
// from matmul and softmax; gradients for the input, all four 1x1 conv weights and gamma by finite
// differences, and the fused block against the composed one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attend, attentionSettings, selfAttention, selfAttentionComposed, type AttentionWeights } from '../src/kernels/attention.js';
import { runtime } from '../src/engine/runtime.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { checkOp, expectClose, numelOf, randomValues, setupGpu } from './helpers.js';
import { FORWARD_REL, GRAD_REL } from './tolerances.js';
import { attendRef, selfAttentionRef } from './reference/attention.js';

beforeAll(setupGpu);

describe('attend (the fused core)', () => {
  // [B, K, P, M, V]: one key channel; channel counts that straddle the 8-channel chunks
  // (K = 9, V = 12, V = 3); batch 1; a single key. Query counts that are multiples of 8 with
  // K <= 8 take the subgroup kernels where the device has subgroups (two value chunks, the second
  // part-filled; K = 8; 64 keys; key counts that are multiples of 4 in backward too).
  const cases = [[2, 1, 24, 6, 12], [1, 9, 16, 4, 3], [2, 4, 12, 3, 17], [1, 2, 4, 1, 8], [2, 4, 16, 5, 17], [1, 8, 24, 7, 3], [3, 3, 8, 64, 16], [1, 8, 16, 8, 5]];
  const check = ([B, K, P, M, V]: number[]) =>
    checkOp(
      ([theta, phi, g]) => attend(theta, phi, g),
      ([theta, phi, g]) => attendRef(theta, phi, g, B, K, P, M),
      [
        { shape: [B, K, P] },
        { shape: [B, K, M] },
        { shape: [B, V, M] },
      ],
    );
  for (const c of cases) {
    const [B, K, P, M, V] = c;
    it(`B ${B}, K ${K}, P ${P}, M ${M}, V ${V}`, () => check(c));
  }

  it('runs the subgroup kernels where the device has subgroups', () => {
    const rt = runtime();
    const entries: string[] = [];
    const stop = rt.onLaunch((k) => entries.push(k.entry));
    const t = (...shape: number[]) => tensor(new Float32Array(numelOf(shape)), shape);
    try {
      const theta = tensor(new Float32Array(64), [1, 4, 16], { requiresGrad: true });
      const y = attend(theta, t(1, 4, 4), t(1, 8, 4));
      y.backward(tensor(new Float32Array(y.size), y.shape));
    } finally {
      stop();
    }
    expect(entries.filter((e) => e.startsWith('attend'))).toEqual(rt.ctx.hasSubgroups
      ? ['attendShared', 'attendProbabilitiesShared', 'attendScoreGrad']
      : ['attend', 'attendProbabilities', 'attendScoreGrad']);
  });

  describe('the plain kernel (no subgroups)', () => {
    beforeAll(() => {
      attentionSettings.subgroups = false;
    });
    afterAll(() => {
      attentionSettings.subgroups = true;
    });
    for (const c of [cases[0], cases[4]]) it(`B ${c[0]}, K ${c[1]}, P ${c[2]}, M ${c[3]}, V ${c[4]}`, () => check(c));
  });

  it('checks shapes', () => {
    const t = (...shape: number[]) => tensor(new Float32Array(numelOf(shape)), shape);
    expect(() => attend(t(1, 2, 8), t(1, 3, 2), t(1, 4, 2))).toThrow(/expected theta/);
  });
});

// [B, C, H, W]: C/8 = 2 query/key channels; batch 1 with one query/key channel; a non-square
// image; C = 24 (not a multiple of 16, C/8 = 3, C/2 = 12).
const SHAPES = [[2, 16, 4, 6], [1, 8, 4, 4], [2, 8, 2, 6], [1, 24, 6, 4]];

function blockInputs(shape: number[]) {
  const C = shape[1];
  const [C8, C2] = [C / 8, C / 2];
  return [
    { shape, values: randomValues(numelOf(shape), 3) },
    // Weights of std 0.5 keep the softmax away from saturation, where gradients are tiny.
    { shape: [C8, C, 1, 1], values: randomValues(C8 * C, 4, 0.5) },
    { shape: [C8, C, 1, 1], values: randomValues(C8 * C, 5, 0.5) },
    { shape: [C2, C, 1, 1], values: randomValues(C2 * C, 6, 0.5) },
    { shape: [C, C2, 1, 1], values: randomValues(C * C2, 7, 0.5) },
    { shape: [1], values: Float64Array.of(0.7) },
  ];
}

const VARIANTS = { fused: selfAttention, composed: selfAttentionComposed };

for (const [variant, fn] of Object.entries(VARIANTS)) {
  describe(`selfAttention (${variant})`, () => {
    for (const shape of SHAPES) {
      it(`${JSON.stringify(shape)}: gradients for x, theta, phi, g, o and gamma`, async () => {
        await checkOp(
          ([x, theta, phi, g, o, gamma]) => fn(x, { theta, phi, g, o, gamma }),
          ([x, theta, phi, g, o, gamma]) => selfAttentionRef(x, shape, { theta, phi, g, o, gamma: gamma[0] }),
          blockInputs(shape),
        );
      });
    }
  });
}

describe('selfAttention', () => {
  it('fused and composed agree on the output and every gradient', async () => {
    const shape = [2, 32, 8, 6];
    const inputs = blockInputs(shape);
    const run = async (f: typeof selfAttention) => {
      const ts = inputs.map((inp) => tensor(Float32Array.from(inp.values), inp.shape, { requiresGrad: true }));
      const [x, theta, phi, g, o, gamma] = ts;
      const y = f(x, { theta, phi, g, o, gamma });
      y.backward(tensor(Float32Array.from(randomValues(y.size, 9)), y.shape));
      return { y: await y.data(), grads: await Promise.all(ts.map((t) => t.grad!.data())) };
    };
    const fused = await run(selfAttention);
    const composed = await run(selfAttentionComposed);
    expectClose(fused.y, composed.y, FORWARD_REL, 'output');
    fused.grads.forEach((gr, i) => expectClose(gr, composed.grads[i], GRAD_REL, `gradient of input ${i}`));
  });

  it('takes gamma as a plain number or a 0-d tensor', async () => {
    const shape = [2, 8, 4, 2];
    const [C, C8, C2] = [8, 1, 4];
    const v = (n: number, seed: number) => Float64Array.from(Float32Array.from(randomValues(n, seed)));
    const x = v(numelOf(shape), 1);
    const w = { theta: v(C8 * C, 2), phi: v(C8 * C, 3), g: v(C2 * C, 4), o: v(C * C2, 5), gamma: -0.3 };
    const t = (a: Float64Array, s: number[]) => tensor(Float32Array.from(a), s);
    const weights = (gamma: Tensor | number): AttentionWeights => ({
      theta: t(w.theta, [C8, C, 1, 1]), phi: t(w.phi, [C8, C, 1, 1]), g: t(w.g, [C2, C, 1, 1]), o: t(w.o, [C, C2, 1, 1]), gamma,
    });
    const expected = selfAttentionRef(x, shape, w);
    expectClose(await selfAttention(t(x, shape), weights(w.gamma)).data(), expected, FORWARD_REL);
    const gamma = tensor(Float32Array.of(w.gamma), [], { requiresGrad: true });
    const y = selfAttention(t(x, shape), weights(gamma));
    expectClose(await y.data(), expected, FORWARD_REL);
    y.backward(tensor(new Float32Array(y.size).fill(1), y.shape));
    expect(gamma.grad!.shape).toEqual([]);
  });

  it('refuses odd image sizes and mismatched weights', () => {
    const w = (o: number, c: number) => tensor(new Float32Array(o * c), [o, c, 1, 1]);
    const weights = { theta: w(1, 8), phi: w(1, 8), g: w(4, 8), o: w(8, 4), gamma: 1 };
    expect(() => selfAttention(tensor(new Float32Array(8 * 9), [1, 8, 3, 3]), weights)).toThrow(/even H and W/);
    expect(() => selfAttention(tensor(new Float32Array(8 * 4), [1, 8, 2, 2]), { ...weights, o: w(8, 3) })).toThrow(/o weight/);
  });
});
