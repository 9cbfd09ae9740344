// Reductions (sum, mean, max) against float64 references: one, several (adjacent or not) and all
// axes, negative axes, keepDim on and off, short reductions (a thread per output) and long ones
// (>= 256 elements: a workgroup per output), on sizes that are not multiples of 64.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../src/kernels/index.js';
import { tensor } from '../src/engine/tensor.js';
import { checkOp, numelOf, randomValues, setupGpu } from './helpers.js';
import { reducedShape, reduceRef, type ReduceKind } from './reference/reduce.js';

beforeAll(setupGpu);

interface Case {
  shape: number[];
  axes?: number | number[];
}

const CASES: Case[] = [
  { shape: [1] },
  { shape: [17] },
  { shape: [300] },
  { shape: [1, 65], axes: 1 },
  { shape: [3, 17], axes: 0 },
  { shape: [3, 17], axes: 1 },
  { shape: [3, 17], axes: -1 },
  { shape: [3, 300], axes: 1 }, // long rows: one workgroup per output
  { shape: [300, 2], axes: 0 }, // long, strided columns
  { shape: [2, 17, 5], axes: 1 }, // middle axis: outer and inner both > 1
  { shape: [2, 17, 5], axes: [0, 2] }, // non-adjacent axes: two passes
  { shape: [2, 17, 5], axes: [1, 2] }, // adjacent axes, merged into one pass
  { shape: [2, 17, 5], axes: [-3, -2] },
  { shape: [3, 4, 5, 7], axes: [0, 1, 3] },
  { shape: [2, 17, 5] }, // all axes
  { shape: [65, 5], axes: [0, 1] }, // all axes, listed
];

const KINDS: ReduceKind[] = ['sum', 'mean', 'max'];

describe.each(KINDS)('%s', (kind) => {
  for (const keepDim of [false, true]) {
    it(`over single, multiple and all axes, keepDim ${keepDim}`, async () => {
      for (const [i, c] of CASES.entries()) {
        const expectedShape = reducedShape(
          c.shape,
          (c.axes === undefined ? c.shape.map((_, d) => d) : [c.axes].flat()).map((a) => (a < 0 ? a + c.shape.length : a)),
          keepDim,
        );
        await checkOp(
          ([x]) => {
            const y = ops[kind](x, c.axes, keepDim);
            expect(y.shape, `${kind} of ${c.shape} over ${c.axes}`).toEqual(expectedShape);
            return y;
          },
          ([x]) => reduceRef(kind, x, c.shape, c.axes, keepDim),
          [{ shape: c.shape, values: randomValues(numelOf(c.shape), 50 + i) }],
          { seed: i + 1 },
        );
      }
    });
  }
});

describe('max', () => {
  it('handles all-negative rows and large magnitudes', async () => {
    const x = tensor([-5, -3e30, -7, -1e-3, -2, -9], [2, 3]);
    expect(Array.from(await ops.max(x, 1).data())).toEqual([-5, -1e-3].map(Math.fround));
  });

  it('shares the gradient equally among tied maxima', async () => {
    const x = tensor([1, 3, 3, 2, 0, 0], [2, 3], { requiresGrad: true });
    ops.sum(ops.max(x, 1)).backward();
    expect(Array.from(await x.grad!.data())).toEqual([0, 0.5, 0.5, 1, 0, 0]);
  });
});

describe('large launches', () => {
  it('more than 65,535 outputs fold the workgroup grid into y, for short and long reductions', async () => {
    const short = await ops.sum(ops.full([65535 * 64 + 7, 2], 1), 1).data(); // a thread per output
    expect(short.length).toBe(65535 * 64 + 7);
    expect(short.every((v) => v === 2)).toBe(true);
    const long = await ops.max(ops.full([65600, 256], -3), 1).data(); // a workgroup per output
    expect(long.length).toBe(65600);
    expect(long.every((v) => v === -3)).toBe(true);
  });
});

describe('errors', () => {
  it('rejects an axis out of range', () => {
    expect(() => ops.sum(tensor([1, 2, 3], [3]), 1)).toThrow(/axis 1 is out of range for rank 1/);
  });
});
