import { beforeAll, describe, expect, it } from 'vitest';
import { conv2dUnfold, convTranspose2d, fold, unfold } from '../src/kernels/unfold.js';
import { tensor } from '../src/engine/tensor.js';
import { checkOp, expectClose, randomValues, setupGpu } from './helpers.js';
import { FORWARD_REL } from './tolerances.js';

beforeAll(setupGpu);

interface Case {
  B: number;
  C: number; // input channels
  H: number;
  W: number;
  O: number; // output channels
  k: number;
  stride: number;
  padding: number;
  outputPadding: number;
  bias: boolean;
}

function outSize(c: Case): [number, number] {
  const side = (n: number) => (n - 1) * c.stride - 2 * c.padding + c.k + c.outputPadding;
  return [side(c.H), side(c.W)];
}

/**
 * float64 reference, PyTorch's conv_transpose2d written as a scatter: input pixel (iy, ix) adds
 * x * w[c, o, ky, kx] to output (iy stride - padding + ky, ix stride - padding + kx) where that is
 * inside the output. Weight (C, O, k, k). With `dy`, the gradients of sum(y * dy) as well.
 */
function convTransposeRef(c: Case, x: Float64Array, w: Float64Array, b?: Float64Array, dy?: Float64Array) {
  const [Ho, Wo] = outSize(c);
  const y = new Float64Array(c.B * c.O * Ho * Wo);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(c.O);
  for (let n = 0; n < c.B; n++)
    for (let o = 0; o < c.O; o++)
      for (let i = 0; i < Ho * Wo; i++) {
        const yi = (n * c.O + o) * Ho * Wo + i;
        y[yi] = b ? b[o] : 0;
        if (dy) db[o] += dy[yi];
      }
  for (let n = 0; n < c.B; n++)
    for (let ch = 0; ch < c.C; ch++)
      for (let iy = 0; iy < c.H; iy++)
        for (let ix = 0; ix < c.W; ix++) {
          const xi = ((n * c.C + ch) * c.H + iy) * c.W + ix;
          for (let o = 0; o < c.O; o++)
            for (let ky = 0; ky < c.k; ky++) {
              const oy = iy * c.stride - c.padding + ky;
              if (oy < 0 || oy >= Ho) continue;
              for (let kx = 0; kx < c.k; kx++) {
                const ox = ix * c.stride - c.padding + kx;
                if (ox < 0 || ox >= Wo) continue;
                const wi = ((ch * c.O + o) * c.k + ky) * c.k + kx;
                const yi = ((n * c.O + o) * Ho + oy) * Wo + ox;
                y[yi] += x[xi] * w[wi];
                if (dy) {
                  dx[xi] += dy[yi] * w[wi];
                  dw[wi] += dy[yi] * x[xi];
                }
              }
            }
        }
  return { y, dx, dw, db };
}

function label(c: Case): string {
  return `B${c.B} C${c.C} ${c.H}x${c.W} -> O${c.O} k${c.k} s${c.stride} p${c.padding} op${c.outputPadding}${c.bias ? ' +bias' : ''}`;
}

const options = (c: Case) => ({ stride: c.stride, padding: c.padding, outputPadding: c.outputPadding });

const base: Case = { B: 1, C: 2, H: 3, W: 3, O: 3, k: 3, stride: 1, padding: 0, outputPadding: 0, bias: false };
const cases: Case[] = [
  base,
  // DCGAN's first layer: a 1x1 latent to 4x4
  { ...base, B: 2, C: 3, H: 1, W: 1, O: 2, k: 4, bias: true },
  // DCGAN's upsampling layers: 4x4, stride 2, padding 1 doubles the side
  { ...base, B: 2, C: 3, H: 3, W: 4, O: 2, k: 4, stride: 2, padding: 1, bias: true },
  { ...base, B: 2, C: 2, H: 3, W: 2, O: 3, k: 3, stride: 2, padding: 1, outputPadding: 1, bias: true },
  { ...base, C: 3, H: 2, W: 3, O: 2, k: 2, stride: 3, outputPadding: 2 },
];

/** float64 F.unfold of x (B, C, H, W), patches as rows: (B, Ho Wo, C k k). */
function unfoldRef(x: Float64Array, [B, C, H, W]: number[], k: number, S: number, P: number): Float64Array {
  const Ho = Math.floor((H + 2 * P - k) / S) + 1;
  const Wo = Math.floor((W + 2 * P - k) / S) + 1;
  const cols = new Float64Array(B * C * k * k * Ho * Wo);
  const patchIndex = (b: number, l: number, r: number) => (b * Ho * Wo + l) * C * k * k + r;
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let ky = 0; ky < k; ky++)
        for (let kx = 0; kx < k; kx++)
          for (let oy = 0; oy < Ho; oy++)
            for (let ox = 0; ox < Wo; ox++) {
              const iy = oy * S - P + ky;
              const ix = ox * S - P + kx;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) cols[patchIndex(b, oy * Wo + ox, (c * k + ky) * k + kx)] = x[((b * C + c) * H + iy) * W + ix];
            }
  return cols;
}

/** float64 F.fold: the adjoint of unfold, each column entry added back where unfold read it. */
function foldRef(cols: Float64Array, [B, C, H, W]: number[], k: number, S: number, P: number): Float64Array {
  const Ho = Math.floor((H + 2 * P - k) / S) + 1;
  const Wo = Math.floor((W + 2 * P - k) / S) + 1;
  const x = new Float64Array(B * C * H * W);
  const patchIndex = (b: number, l: number, r: number) => (b * Ho * Wo + l) * C * k * k + r;
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let ky = 0; ky < k; ky++)
        for (let kx = 0; kx < k; kx++)
          for (let oy = 0; oy < Ho; oy++)
            for (let ox = 0; ox < Wo; ox++) {
              const iy = oy * S - P + ky;
              const ix = ox * S - P + kx;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) x[((b * C + c) * H + iy) * W + ix] += cols[patchIndex(b, oy * Wo + ox, (c * k + ky) * k + kx)];
            }
  return x;
}

/** float64 conv2d (PyTorch's cross-correlation, zero padding), square kernel. */
function conv2dRef(x: Float64Array, w: Float64Array, b: Float64Array | undefined, [B, C, H, W]: number[], O: number, k: number, S: number, P: number): Float64Array {
  const cols = unfoldRef(x, [B, C, H, W], k, S, P);
  const L = cols.length / (B * C * k * k);
  const y = new Float64Array(B * O * L);
  for (let n = 0; n < B; n++)
    for (let o = 0; o < O; o++)
      for (let l = 0; l < L; l++) {
        let s = b ? b[o] : 0;
        for (let r = 0; r < C * k * k; r++) s += w[o * C * k * k + r] * cols[(n * L + l) * C * k * k + r];
        y[(n * O + o) * L + l] = s;
      }
  return y;
}

describe('unfold and fold', () => {
  const shapes: [number[], number, number, number][] = [
    [[2, 3, 5, 4], 3, 1, 1],
    [[1, 2, 6, 6], 4, 2, 1],
    [[2, 1, 7, 5], 2, 3, 0],
    // rows of 37 pixels: fold sums runs of 16 pixels a thread, the last one part-filled
    [[1, 1, 4, 37], 4, 2, 1],
  ];
  shapes.forEach(([shape, k, S, P], i) => {
    const Ho = Math.floor((shape[2] + 2 * P - k) / S) + 1;
    const Wo = Math.floor((shape[3] + 2 * P - k) / S) + 1;
    it(`unfold and fold, forward and gradients: [${shape}] k${k} s${S} p${P}`, async () => {
      await checkOp(([x]) => unfold(x, k, { stride: S, padding: P }), ([x]) => unfoldRef(x, shape, k, S, P), [{ shape }], { seed: 320 + i });
      const colsShape = [shape[0], Ho * Wo, shape[1] * k * k];
      await checkOp(
        ([c]) => fold(c, [shape[2], shape[3]], k, { stride: S, padding: P }),
        ([c]) => foldRef(c, shape, k, S, P),
        [{ shape: colsShape }],
        { seed: 330 + i },
      );
    });
  });

  it('conv2dUnfold: a DCGAN discriminator layer, forward and gradients (4x4, stride 2, padding 1, bias)', () =>
    checkOp(
      ([x, w, b]) => conv2dUnfold(x, w, b, { stride: 2, padding: 1 }),
      ([x, w, b]) => conv2dRef(x, w, b, [2, 3, 6, 6], 4, 4, 2, 1),
      [{ shape: [2, 3, 6, 6] }, { shape: [4, 3, 4, 4] }, { shape: [4] }],
      { seed: 340 },
    ));

  it('refuses a column count that does not fit the image', () => {
    const cols = tensor(new Float32Array(2 * 5 * 12), [2, 5, 12]);
    expect(() => fold(cols, [4, 4], 2, { stride: 2 })).toThrow(/fold: 5 patches, but a 4x4 image has 2x2/);
    expect(() => fold(tensor(new Float32Array(10), [1, 10, 1]), [2, 2], 2)).toThrow(/\(B, L, C \* 2 \* 2\)/);
  });
});

describe('convTranspose2d', () => {
  cases.forEach((c, i) =>
    it(`forward and gradients by finite differences: ${label(c)}`, () =>
      checkOp(
        ([x, w, b]) => convTranspose2d(x, w, b, options(c)),
        ([x, w, b]) => convTransposeRef(c, x, w, b).y,
        [{ shape: [c.B, c.C, c.H, c.W] }, { shape: [c.C, c.O, c.k, c.k] }, ...(c.bias ? [{ shape: [c.O] }] : [])],
        { seed: 300 + i },
      )),
  );

  it('a DCGAN layer matches the float64 reference, forward and all three gradients: B4 C16 8x8 -> O8 k4 s2 p1', async () => {
    const c: Case = { B: 4, C: 16, H: 8, W: 8, O: 8, k: 4, stride: 2, padding: 1, outputPadding: 0, bias: true };
    const [Ho, Wo] = outSize(c);
    const r = (v: Float64Array) => Float64Array.from(Float32Array.from(v));
    const xv = r(randomValues(c.B * c.C * c.H * c.W, 311));
    const wv = r(randomValues(c.C * c.O * c.k * c.k, 312, 0.2));
    const bv = r(randomValues(c.O, 313));
    const dyv = r(randomValues(c.B * c.O * Ho * Wo, 314));
    const x = tensor(Float32Array.from(xv), [c.B, c.C, c.H, c.W], { requiresGrad: true });
    const w = tensor(Float32Array.from(wv), [c.C, c.O, c.k, c.k], { requiresGrad: true });
    const b = tensor(Float32Array.from(bv), [c.O], { requiresGrad: true });
    const y = convTranspose2d(x, w, b, options(c));
    expect(y.shape).toEqual([c.B, c.O, Ho, Wo]);
    const ref = convTransposeRef(c, xv, wv, bv, dyv);
    expectClose(await y.data(), ref.y, FORWARD_REL, 'forward');
    y.backward(tensor(Float32Array.from(dyv), y.shape));
    expectClose(await x.grad!.data(), ref.dx, FORWARD_REL, 'input gradient');
    expectClose(await w.grad!.data(), ref.dw, FORWARD_REL, 'weight gradient');
    expectClose(await b.grad!.data(), ref.db, FORWARD_REL, 'bias gradient');
  });

  it('refuses what PyTorch refuses, naming the shapes', () => {
    const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
    const w = tensor(new Float32Array(3 * 5 * 4 * 4), [3, 5, 4, 4]);
    expect(() => convTranspose2d(x, w, null, { stride: 2, outputPadding: 2 })).toThrow(/outputPadding must be .* smaller than the stride 2/);
    expect(() => convTranspose2d(x, tensor(new Float32Array(2 * 5 * 16), [2, 5, 4, 4]))).toThrow(/\[2, 3, 4, 4\] has 3 channels but weight \[2, 5, 4, 4\]/);
    expect(() => convTranspose2d(x, w, tensor(new Float32Array(3), [3]))).toThrow(/bias \[3\] must have shape \[5\]/);
    expect(convTranspose2d(x, w, null, { stride: 2, padding: 1 }).shape).toEqual([2, 5, 8, 8]);
  });
});
