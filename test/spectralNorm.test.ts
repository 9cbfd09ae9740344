// Spectral norm (src/models/spectralNorm.ts): weight / sigma and its gradient against float64 and
// finite differences, the power iteration against float64, and two GAN steps of spectral-normed
// networks against PyTorch's torch.nn.utils.spectral_norm (tools/reference/make_cgan_fixture.py).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { noGrad } from '../src/engine/autograd.js';
import { Rng } from '../src/engine/random.js';
import { tensor } from '../src/engine/tensor.js';
import { mul } from '../src/kernels/elementwise.js';
import { DCGANDiscriminator, DCGANGenerator } from '../src/models/dcgan.js';
import { Conv2d, ConvTranspose2d, Linear } from '../src/models/module.js';
import { divideBySigma, spectralNorm } from '../src/models/spectralNorm.js';
import { expectGanStepsMatch } from './ganFixture.js';
import { checkOp, expectClose, FIXTURES, useFixture } from './helpers.js';
import { FIXTURE_OUTPUT_REL, FORWARD_REL, GRAD_REL } from './tolerances.js';

/** The weight as a (shape[dim], rest) float64 matrix, axis dim moved first. */
function matrixOf(weight: Float64Array, shape: number[], dim: number): Float64Array[] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const rows = shape[dim];
  const cols = weight.length / rows;
  const others = shape.map((_, i) => i).filter((i) => i !== dim);
  const W = Array.from({ length: rows }, () => new Float64Array(cols));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // c indexes the other axes in order, row-major
      let rest = c;
      let offset = r * strides[dim];
      for (let k = others.length - 1; k >= 0; k--) {
        const axis = others[k];
        offset += (rest % shape[axis]) * strides[axis];
        rest = Math.floor(rest / shape[axis]);
      }
      W[r][c] = weight[offset];
    }
  }
  return W;
}

const matVec = (W: Float64Array[], x: ArrayLike<number>) => Float64Array.from(W, (row) => row.reduce((s, w, j) => s + w * x[j], 0));
const matTVec = (W: Float64Array[], y: ArrayLike<number>) => {
  const out = new Float64Array(W[0].length);
  W.forEach((row, i) => row.forEach((w, j) => (out[j] += w * y[i])));
  return out;
};
/** u . (W v) */
const sigmaOf = (W: Float64Array[], u: ArrayLike<number>, v: ArrayLike<number>) => matVec(W, v).reduce((s, wv, i) => s + u[i] * wv, 0);
const normalized = (x: Float64Array) => {
  const n = Math.max(Math.hypot(...x), 1e-12);
  return x.map((v) => v / n);
};

describe('spectral norm', () => {
  const fixture = useFixture(join(FIXTURES, 'cgan_spectral_norm_step.pth'));

  for (const [what, shape, dim] of [
    ['a conv weight (dim 0)', [4, 3, 2, 2], 0],
    ['a transposed conv weight (dim 1)', [3, 4, 2, 2], 1],
    ['a linear weight', [5, 7], 0],
  ] as const) {
    it(`weight / (u . W v) for ${what}: forward against float64, the gradient by finite differences (u and v held)`, async () => {
      const rows = shape[dim];
      const cols = shape.reduce((a, b) => a * b, 1) / rows;
      await checkOp(
        ([w, u, v]) => divideBySigma(w, u, v, dim),
        ([w, u, v]) => {
          const sigma = sigmaOf(matrixOf(w, [...shape], dim), u, v);
          return w.map((x) => x / sigma);
        },
        [{ shape: [...shape] }, { shape: [rows], grad: false }, { shape: [cols], grad: false }],
      );
    });
  }

  it('a training forward pass runs one power-iteration step and stores u and v; eval mode uses them as stored', async () => {
    const shape = [6, 3, 2, 2];
    const conv = spectralNorm(new Conv2d(3, 6, 2, { generator: new Rng(3) }), { generator: new Rng(4) });
    const state = conv.stateDict();
    expect([...state.keys()]).toEqual(['bias', 'weight_orig', 'weight_u', 'weight_v']);
    const w = Float64Array.from(await state.get('weight_orig')!.data());
    const W = matrixOf(w, shape, 0);
    const u0 = Float64Array.from(await state.get('weight_u')!.data());
    const v1 = normalized(matTVec(W, u0));
    const u1 = normalized(matVec(W, v1));
    const sigma1 = sigmaOf(W, u1, v1);

    const trained = await noGrad(() => conv.weight).data();
    expectClose(await state.get('weight_u')!.data(), u1, FORWARD_REL, 'u after one step');
    expectClose(await state.get('weight_v')!.data(), v1, FORWARD_REL, 'v after one step');
    expectClose(trained, w.map((x) => x / sigma1), FORWARD_REL, 'weight / sigma');

    conv.eval();
    const evaluated = await noGrad(() => conv.weight).data();
    expect(Array.from(evaluated)).toEqual(Array.from(trained));
    expectClose(await state.get('weight_u')!.data(), u1, FORWARD_REL, 'u unchanged in eval mode');
  });

  it("a pass's gradient uses its own u and v, though a later pass has moved the stored ones (D sees real, then fake, then backward)", async () => {
    const shape = [4, 6];
    const layer = spectralNorm(new Linear(6, 4, { generator: new Rng(7) }), { generator: new Rng(8) });
    const state = layer.stateDict();
    const w = Float64Array.from(await state.get('weight_orig')!.data());
    const W = matrixOf(w, shape, 0);
    const v1 = normalized(matTVec(W, Float64Array.from(await state.get('weight_u')!.data())));
    const u1 = normalized(matVec(W, v1));
    const sigma1 = sigmaOf(W, u1, v1);
    const c = Float64Array.from({ length: w.length }, (_, i) => Math.sin(i + 1));

    const first = layer.weight;
    layer.weight.dispose(); // the second pass: u and v move on
    const moved = Float64Array.from(await state.get('weight_u')!.data());
    expect(Math.max(...moved.map((x, i) => Math.abs(x - u1[i])))).toBeGreaterThan(1e-3);
    mul(first, tensor(Float32Array.from(c), shape)).backward(tensor(new Float32Array(w.length).fill(1), shape));

    // d/dW sum(c * W / sigma) with sigma = u1 . W v1: c / sigma - (c . W) / sigma^2 * u1 v1^T
    const cw = c.reduce((s, ci, i) => s + ci * w[i], 0);
    const expected = c.map((ci, i) => ci / sigma1 - (cw / sigma1 ** 2) * u1[Math.floor(i / 6)] * v1[i % 6]);
    expectClose(await layer.originalWeight.grad!.data(), expected, GRAD_REL, "weight_orig's gradient");
  });

  it('repeated training passes find the largest singular value: the normalised weight has spectral norm 1', async () => {
    const layer = spectralNorm(new Linear(8, 5, { generator: new Rng(5) }), { generator: new Rng(6) });
    for (let i = 0; i < 30; i++) noGrad(() => layer.weight).dispose();
    const normalizedWeight = Float64Array.from(await noGrad(() => layer.weight).data());
    // sigma_max of the result by float64 power iteration on W^T W from a fixed start
    const W = matrixOf(normalizedWeight, [5, 8], 0);
    let v = normalized(Float64Array.from({ length: 8 }, (_, i) => 1 + i));
    for (let i = 0; i < 500; i++) v = normalized(matTVec(W, matVec(W, v)));
    expect(Math.hypot(...matVec(W, v))).toBeCloseTo(1, 4);
  });

  it('refuses a weight parametrized twice and a power-iteration count under 1', () => {
    const layer = spectralNorm(new ConvTranspose2d(2, 3, 4));
    expect(() => spectralNorm(layer)).toThrow(/already parametrized/);
    expect(() => spectralNorm(new Linear(2, 2), { powerIterations: 0 })).toThrow(/powerIterations must be a whole number of at least 1, got 0/);
  });

  it("two hinge-loss steps of a conditional DCGAN spectral-normed throughout (G's transposed convs at dim 1) match PyTorch's: losses, weights, u, v, running statistics, and D in eval mode", async () => {
    const G = new DCGANGenerator({ dimZ: 8, numClasses: 3, embedDim: 4, channels: [8, 4], outChannels: 3, resolution: 16, eps: 1e-5 });
    const D = new DCGANDiscriminator({ numClasses: 3, inChannels: 3, channels: [4, 8], resolution: 16, slope: 0.2, eps: 1e-5 });
    for (const model of [G, D]) {
      for (const [, m] of model.namedModules()) if (m instanceof Conv2d || m instanceof ConvTranspose2d) spectralNorm(m);
    }
    await expectGanStepsMatch(fixture, G, D, 'hinge');
    D.eval();
    const logits = await noGrad(() => D.forward(fixture.tensor('real'), Array.from(fixture.values('labels')))).data();
    expectClose(logits, fixture.values('hinge.evalLogits'), FIXTURE_OUTPUT_REL, 'eval logits');
  });
});
