// Nearest upsampling, max pooling and adaptive average pooling against float64 references, with
// gradients by finite differences; max-pool ties checked exactly (the first maximum takes it all).
import { beforeAll, describe, expect, it } from 'vitest';
import { adaptiveAvgPool2d, maxPool2d } from '../src/kernels/pool.js';
import { resizeBilinear, upsampleNearest } from '../src/kernels/upsample.js';
import { tensor } from '../src/engine/tensor.js';
import { checkOp, expectClose, setupGpu } from './helpers.js';
import { adaptiveAvgPool2dRef, maxPool2dRef, resizeBilinearRef, upsampleNearestRef } from './reference/pool.js';

beforeAll(setupGpu);

describe('upsampleNearest', () => {
  const cases: [number[], number][] = [
    [[2, 3, 3, 5], 2],
    [[1, 1, 4, 3], 3],
    [[1, 2, 2, 3], 7],
    [[3, 5, 1, 1], 2],
    [[2, 3, 3, 5], 1],
    // x2 with widths that are multiples of 4: 4 input pixels a thread
    [[2, 3, 3, 8], 2],
    [[1, 2, 2, 4], 2],
  ];
  for (const [shape, factor] of cases) {
    it(`${JSON.stringify(shape)} x${factor}`, async () => {
      await checkOp(([x]) => upsampleNearest(x, factor), ([x]) => upsampleNearestRef(x, shape, factor), [{ shape }]);
    });
  }

  it('refuses a non-integer factor', () => {
    expect(() => upsampleNearest(tensor(new Float32Array(4), [1, 1, 2, 2]), 1.5)).toThrow(/positive integer/);
  });
});

describe('resizeBilinear (align_corners=False)', () => {
  const cases: [number[], number, number][] = [
    [[2, 3, 5, 7], 8, 11], // up by non-integer factors
    [[1, 2, 9, 6], 4, 5], // down
    [[1, 1, 4, 4], 7, 4], // up along y only
  ];
  for (const [shape, outH, outW] of cases) {
    it(`forward and gradient: [${shape}] -> ${outH}x${outW}`, async () => {
      await checkOp(([x]) => resizeBilinear(x, outH, outW), ([x]) => resizeBilinearRef(x, shape, outH, outW), [{ shape }]);
    });
  }

  it('refuses a size that is not a whole number', () => {
    expect(() => resizeBilinear(tensor(new Float32Array(4), [1, 1, 2, 2]), 3.5, 3)).toThrow(/whole numbers of at least 1, got 3.5x3/);
  });
});

describe('maxPool2d', () => {
  const cases: [number[], number, number][] = [
    [[2, 3, 4, 6], 2, 2],
    [[1, 1, 5, 7], 2, 2], // odd sizes: the last row and column are dropped (floor mode)
    [[2, 5, 7, 6], 3, 2], // overlapping windows
    [[1, 2, 6, 5], 3, 1],
    [[3, 1, 3, 3], 3, 3],
    // 2x2, stride 2 on widths that are multiples of 4: a thread per 2 outputs
    [[2, 3, 4, 8], 2, 2],
    [[1, 2, 6, 4], 2, 2],
  ];
  for (const [shape, kernel, stride] of cases) {
    it(`${JSON.stringify(shape)} kernel ${kernel} stride ${stride}`, async () => {
      await checkOp(
        ([x]) => maxPool2d(x, kernel, stride),
        ([x]) => maxPool2dRef(x, shape, kernel, stride),
        [{ shape }],
      );
    });
  }

  // Padding counts as -inf: ResNet's stem pool (3x3, stride 2, padding 1), on even and odd sides.
  const padded: [number[], number, number, number][] = [
    [[2, 3, 8, 8], 3, 2, 1],
    [[1, 2, 7, 5], 3, 2, 1],
    [[1, 1, 1, 1], 3, 2, 1], // a single pixel: every window is mostly padding
    [[2, 2, 6, 9], 2, 2, 1],
    [[1, 3, 5, 6], 5, 1, 2],
  ];
  for (const [shape, kernel, stride, padding] of padded) {
    it(`${JSON.stringify(shape)} kernel ${kernel} stride ${stride} padding ${padding}`, async () => {
      await checkOp(
        ([x]) => maxPool2d(x, kernel, stride, padding),
        ([x]) => maxPool2dRef(x, shape, kernel, stride, padding),
        [{ shape }],
      );
    });
  }

  it('padding: negative values still win over the -inf border, and the gradient reaches them', async () => {
    const x = tensor(Float32Array.from([-5, -3, -4, -1]), [1, 1, 2, 2], { requiresGrad: true });
    const y = maxPool2d(x, 3, 2, 1);
    expect(Array.from(await y.data())).toEqual([-1]);
    y.backward(tensor(Float32Array.from([2]), [1, 1, 1, 1]));
    expect(Array.from(await x.grad!.data())).toEqual([0, 0, 0, 2]);
  });

  it('refuses padding over half the kernel', () => {
    expect(() => maxPool2d(tensor(new Float32Array(16), [1, 1, 4, 4]), 3, 2, 2)).toThrow(/padding 2 must be .* half the kernel 3/);
  });

  it('routes the gradient to the first maximum on ties', async () => {
    // One plane, 4x4: window (0,0) ties at all four, (0,1) ties at its last two, (1,0) and (1,1)
    // tie on their bottom row.
    const x = tensor(Float32Array.from([
      5, 5, 1, 2,
      5, 5, 7, 7,
      0, 1, 3, 4,
      9, 9, 8, 8,
    ]), [1, 1, 4, 4], { requiresGrad: true });
    const y = maxPool2d(x);
    expect(Array.from(await y.data())).toEqual([5, 7, 9, 8]);
    y.backward(tensor(Float32Array.from([1, 2, 3, 4]), [1, 1, 2, 2]));
    expect(Array.from(await x.grad!.data())).toEqual([
      1, 0, 0, 0,
      0, 0, 2, 0,
      0, 0, 0, 0,
      3, 0, 4, 0,
    ]);
  });

  it('routes the gradient to the first maximum on ties, width not a multiple of 4', async () => {
    const x = tensor(Float32Array.from([
      5, 5, 1, 2, 3, 3,
      5, 5, 7, 7, 0, 3,
    ]), [1, 1, 2, 6], { requiresGrad: true });
    const y = maxPool2d(x);
    expect(Array.from(await y.data())).toEqual([5, 7, 3]);
    y.backward(tensor(Float32Array.from([1, 2, 3]), [1, 1, 1, 3]));
    expect(Array.from(await x.grad!.data())).toEqual([1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0]);
  });

  it('overlapping windows that share one tied maximum add their gradients there', async () => {
    // 3x3 windows, stride 1 over a 3x4 plane of equal values: each window picks its top-left corner.
    const x = tensor(new Float32Array(12).fill(2), [1, 1, 3, 4], { requiresGrad: true });
    const y = maxPool2d(x, 3, 1);
    y.backward(tensor(Float32Array.from([10, 20]), [1, 1, 1, 2]));
    expect(Array.from(await x.grad!.data())).toEqual([10, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // A shared maximum at column 2 receives both windows' gradients.
    const z = tensor(Float32Array.from([0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]), [1, 1, 3, 4], { requiresGrad: true });
    maxPool2d(z, 3, 1).backward(tensor(Float32Array.from([10, 20]), [1, 1, 1, 2]));
    expect(Array.from(await z.grad!.data())).toEqual([0, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('adaptiveAvgPool2d', () => {
  const cases: [number[], [number, number]][] = [
    [[2, 3, 5, 7], [2, 3]], // windows of unequal size that overlap
    [[1, 2, 4, 4], [1, 1]], // global average
    [[2, 1, 6, 6], [3, 2]], // divisible
    [[1, 3, 3, 2], [5, 4]], // more outputs than inputs
    [[1, 2, 7, 7], [7, 7]], // identity
    [[3, 5, 9, 4], [4, 3]],
  ];
  for (const [shape, out] of cases) {
    it(`${JSON.stringify(shape)} -> ${JSON.stringify(out)}`, async () => {
      await checkOp(
        ([x]) => adaptiveAvgPool2d(x, out),
        ([x]) => adaptiveAvgPool2dRef(x, shape, out),
        [{ shape }],
      );
    });
  }

  it('global pooling spreads the gradient evenly', async () => {
    const x = tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [1, 1, 2, 3], { requiresGrad: true });
    const y = adaptiveAvgPool2d(x, [1, 1]);
    expectClose(await y.data(), [3.5], 1e-7);
    y.backward(tensor(Float32Array.from([6]), [1, 1, 1, 1]));
    expect(Array.from(await x.grad!.data())).toEqual([1, 1, 1, 1, 1, 1]);
  });
});
