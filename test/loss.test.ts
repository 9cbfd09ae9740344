// The losses of a GAN against float64 references, forward and gradient (finite differences):
// binary cross-entropy with logits, mean squared error, and the discriminator's and generator's
// losses of each of the three GAN objectives.
import { beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../src/engine/tensor.js';
import { binaryCrossEntropyWithLogits, mseLoss } from '../src/kernels/loss.js';
import { discriminatorLoss, GAN_LOSSES, generatorLoss, type GanLoss } from '../src/train/ganLoss.js';
import { checkOp, randomValues, setupGpu } from './helpers.js';

beforeAll(setupGpu);

const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;
const softplus = (v: number) => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v)));
const bceRef = (x: Float64Array, t: (i: number) => number) => mean(x.map((v, i) => softplus(v) - v * t(i)));
const mseRef = (x: Float64Array, t: (i: number) => number) => mean(x.map((v, i) => (v - t(i)) ** 2));
const hingeRef = (x: Float64Array, sign: number) => mean(x.map((v) => Math.max(0, 1 - sign * v)));

/** Logits of a discriminator, kept away from hinge's kinks at -1 and 1. */
function logits(n: number, seed: number): Float64Array {
  return randomValues(n, seed, 2).map((v) => (Math.abs(Math.abs(v) - 1) < 1e-2 ? v * 1.05 : v));
}

const discriminatorRef: Record<GanLoss, (real: Float64Array, fake: Float64Array) => number> = {
  bce: (real, fake) => bceRef(real, () => 1) + bceRef(fake, () => 0),
  lsgan: (real, fake) => 0.5 * (mseRef(real, () => 1) + mseRef(fake, () => 0)),
  hinge: (real, fake) => hingeRef(real, 1) + hingeRef(fake, -1),
};
const generatorRef: Record<GanLoss, (fake: Float64Array) => number> = {
  bce: (fake) => bceRef(fake, () => 1),
  lsgan: (fake) => 0.5 * mseRef(fake, () => 1),
  hinge: (fake) => -mean(fake),
};

describe('losses', () => {
  it('binaryCrossEntropyWithLogits against a tensor of targets, and 0 and 1', async () => {
    const n = 37;
    const target = randomValues(n, 5).map((v) => 1 / (1 + Math.exp(-v)));
    await checkOp(
      ([x, t]) => binaryCrossEntropyWithLogits(x, t),
      ([x, t]) => Float64Array.of(bceRef(x, (i) => t[i])),
      [{ shape: [n], values: logits(n, 6) }, { shape: [n], values: target }],
    );
    for (const t of [0, 1]) {
      await checkOp(([x]) => binaryCrossEntropyWithLogits(x, t), ([x]) => Float64Array.of(bceRef(x, () => t)), [{ shape: [5, 7], values: logits(35, 7 + t) }]);
    }
  });

  it('stays finite on logits far past where a sigmoid rounds to 0 or 1', async () => {
    const x = tensor(Float32Array.of(-120, -30, 30, 120), [4]);
    const expected = [-120, -30, 30, 120].map((v) => softplus(-v)).reduce((a, b) => a + b) / 4;
    expect(await binaryCrossEntropyWithLogits(x, 1).item()).toBeCloseTo(expected, 3);
  });

  it('mseLoss against a tensor and a number', async () => {
    await checkOp(([x, t]) => mseLoss(x, t), ([x, t]) => Float64Array.of(mseRef(x, (i) => t[i])), [{ shape: [3, 11] }, { shape: [3, 11] }]);
    await checkOp(([x]) => mseLoss(x, 1), ([x]) => Float64Array.of(mseRef(x, () => 1)), [{ shape: [29] }]);
  });

  for (const kind of GAN_LOSSES) {
    it(`${kind}: the discriminator's and the generator's losses, forward and gradients`, async () => {
      await checkOp(
        ([real, fake]) => discriminatorLoss(kind, real, fake),
        ([real, fake]) => Float64Array.of(discriminatorRef[kind](real, fake)),
        [{ shape: [13, 1], values: logits(13, 21) }, { shape: [13, 1], values: logits(13, 22) }],
      );
      await checkOp(([fake]) => generatorLoss(kind, fake), ([fake]) => Float64Array.of(generatorRef[kind](fake)), [{ shape: [13, 1], values: logits(13, 23) }]);
    });
  }
});
