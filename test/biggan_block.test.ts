// One BigGAN generator block (cond. BN -> relu -> upsample x2 -> conv3x3 -> cond. BN -> relu ->
// conv3x3, plus a 1x1 shortcut conv of the upsampled input, then self-attention) built from the
// engine's ops, against a float64 composition of the references: the output, and the gradients
// for the block input and the batchnorm gains and biases by finite differences. Also: a forward
// pass records work only (no submit, no read-back).
import { beforeAll, describe, expect, it } from 'vitest';
import { conditionalBatchNorm } from '../src/kernels/batchnorm.js';
import { conv2d } from '../src/kernels/conv2d.js';
import { add, relu } from '../src/kernels/elementwise.js';
import { selfAttention } from '../src/kernels/attention.js';
import { upsampleNearest } from '../src/kernels/upsample.js';
import { runtime } from '../src/engine/runtime.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { checkOp, numelOf, randomValues, setupGpu } from './helpers.js';
import { bigGanBlockRef, type BlockRefParams } from './reference/biggan_block.js';

beforeAll(setupGpu);

const [B, Cin, Cout, H, W] = [2, 8, 8, 4, 4];
const X_SHAPE = [B, Cin, H, W];

/** Seeded values rounded to float32, as the GPU will see them. */
const values = (n: number, seed: number, scale = 1) => Float64Array.from(Float32Array.from(randomValues(n, seed, scale)));
const positive = (n: number, seed: number) => values(n, seed).map((v) => Math.abs(v) + 0.5);

/** Fixed weights (the gains and biases are inputs of the checked op). */
function makeWeights(training: boolean): Omit<BlockRefParams, 'gain1' | 'bias1' | 'gain2' | 'bias2'> {
  const stats = (C: number, seed: number) =>
    training ? { training: true } : { training: false, runningMean: values(C, seed), runningVar: positive(C, seed + 1) };
  return {
    Cin,
    Cout,
    conv1: { w: values(Cout * Cin * 9, 11, 0.3), b: values(Cout, 12, 0.1) },
    conv2: { w: values(Cout * Cout * 9, 13, 0.3), b: values(Cout, 14, 0.1) },
    convSc: { w: values(Cout * Cin, 15, 0.5), b: values(Cout, 16, 0.1) },
    attention: {
      theta: values((Cout / 8) * Cout, 17, 0.5),
      phi: values((Cout / 8) * Cout, 18, 0.5),
      g: values((Cout / 2) * Cout, 19, 0.5),
      o: values(Cout * (Cout / 2), 20, 0.5),
      gamma: 0.7,
    },
    bn1: stats(Cin, 21),
    bn2: stats(Cout, 23),
  };
}

const upload = (v: Float64Array, shape: number[]) => tensor(Float32Array.from(v), shape);

/** The block from engine ops; gains and biases (B, C) per batchnorm. */
function bigGanBlock(
  x: Tensor, [gain1, bias1, gain2, bias2]: Tensor[], w: ReturnType<typeof makeWeights>, training: boolean,
): Tensor {
  const stats = (o: BlockRefParams['bn1'], C: number): [Tensor | null, Tensor | null] =>
    o.training ? [null, null] : [upload(o.runningMean!, [C]), upload(o.runningVar!, [C])];
  const bn1 = stats(w.bn1, Cin);
  const bn2 = stats(w.bn2, Cout);
  let h = relu(conditionalBatchNorm(x, gain1, bias1, bn1[0], bn1[1], { training }));
  h = upsampleNearest(h, 2);
  h = conv2d(h, upload(w.conv1.w, [Cout, Cin, 3, 3]), upload(w.conv1.b, [Cout]), { padding: 1 });
  h = relu(conditionalBatchNorm(h, gain2, bias2, bn2[0], bn2[1], { training }));
  h = conv2d(h, upload(w.conv2.w, [Cout, Cout, 3, 3]), upload(w.conv2.b, [Cout]), { padding: 1 });
  const shortcut = conv2d(upsampleNearest(x, 2), upload(w.convSc.w, [Cout, Cin, 1, 1]), upload(w.convSc.b, [Cout]));
  const a = w.attention;
  return selfAttention(add(h, shortcut), {
    theta: upload(a.theta, [Cout / 8, Cout, 1, 1]),
    phi: upload(a.phi, [Cout / 8, Cout, 1, 1]),
    g: upload(a.g, [Cout / 2, Cout, 1, 1]),
    o: upload(a.o, [Cout, Cout / 2, 1, 1]),
    gamma: a.gamma,
  });
}

describe('BigGAN generator block with self-attention', () => {
  for (const training of [false, true]) {
    it(`${training ? 'training' : 'eval'} batchnorm: output and gradients for the input, gains and biases`, async () => {
      const w = makeWeights(training);
      await checkOp(
        ([x, ...gains]) => bigGanBlock(x, gains, w, training),
        ([x, gain1, bias1, gain2, bias2]) => bigGanBlockRef(x, X_SHAPE, { ...w, gain1, bias1, gain2, bias2 }),
        [
          { shape: X_SHAPE },
          { shape: [B, Cin], values: randomValues(B * Cin, 31, 0.3) },
          { shape: [B, Cin], values: randomValues(B * Cin, 32, 0.3) },
          { shape: [B, Cout], values: randomValues(B * Cout, 33, 0.3) },
          { shape: [B, Cout], values: randomValues(B * Cout, 34, 0.3) },
        ],
        { seed: training ? 2 : 1 },
      );
    });
  }

  it('a forward pass only records work: no queue submission, no read-back', async () => {
    const rt = runtime();
    for (const training of [false, true]) {
      const w = makeWeights(training);
      const x = upload(values(numelOf(X_SHAPE), 41), X_SHAPE);
      const gains = [Cin, Cin, Cout, Cout].map((C, i) => upload(values(B * C, 42 + i, 0.3), [B, C]));
      await rt.sync();
      const before = { ...rt.stats };
      const y = bigGanBlock(x, gains, w, training);
      expect(rt.stats.submits - before.submits).toBe(0);
      expect(rt.stats.readbacks - before.readbacks).toBe(0);
      expect(rt.stats.dispatches - before.dispatches).toBeGreaterThan(10);
      expect(y.shape).toEqual([B, Cout, 2 * H, 2 * W]);
    }
  });
});
