// Layout ops (concat, split, narrow, permute/transpose, expand, views) and index lookups
// (embedding, oneHot) against float64 references, with gradients where they have one.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../src/kernels/index.js';
import { tensor } from '../src/engine/tensor.js';
import { checkOp, numelOf, randomValues, setupGpu } from './helpers.js';
import { concatRef, expandRef, narrowRef, permuteRef } from './reference/shape.js';
import { embeddingRef, oneHotRef } from './reference/gather.js';

beforeAll(setupGpu);

describe('concat', () => {
  const CASES: { shapes: number[][]; axis: number }[] = [
    { shapes: [[3], [17], [1]], axis: 0 },
    { shapes: [[2, 3], [5, 3]], axis: 0 },
    { shapes: [[3, 2], [3, 17], [3, 65]], axis: 1 },
    { shapes: [[2, 3, 5], [2, 1, 5]], axis: 1 },
    { shapes: [[2, 3, 5], [2, 3, 4]], axis: -1 },
    { shapes: [[1, 4]], axis: 0 }, // a single tensor
  ];
  it('along first, middle and last (negative) axes', async () => {
    for (const [i, { shapes, axis }] of CASES.entries()) {
      const ax = axis < 0 ? axis + shapes[0].length : axis;
      await checkOp(
        (xs) => ops.concat(xs, axis),
        (xs) => concatRef(xs, shapes, ax),
        shapes.map((shape) => ({ shape })),
        { seed: i + 1 },
      );
    }
  });

  it('copies int32 values bit for bit', async () => {
    const a = tensor(Int32Array.from([1, 2, 3, -1, 2147483647, -2147483648]), [2, 3]);
    const b = tensor(Int32Array.from([0, -5, 7]), [1, 3]);
    const c = ops.concat([a, b], 0);
    expect(c.dtype).toBe('int32');
    expect(Array.from(await c.data())).toEqual([1, 2, 3, -1, 2147483647, -2147483648, 0, -5, 7]);
    const t = ops.transpose(c);
    expect(Array.from(await t.data())).toEqual([1, -1, 0, 2, 2147483647, -5, 3, -2147483648, 7]);
  });
});

describe('split and narrow', () => {
  it('split: every part gets its slice of the gradient', async () => {
    // Recombine the parts in reverse order so each one lands somewhere else.
    const shape = [3, 17];
    const sizes = [2, 5, 10];
    await checkOp(
      ([x]) => {
        const parts = ops.split(x, sizes, 1);
        expect(parts.map((p) => p.shape)).toEqual(sizes.map((s) => [3, s]));
        return ops.concat(parts.reverse(), 1);
      },
      ([x]) => {
        let at = 0;
        const parts = sizes.map((s) => {
          const p = narrowRef(x, shape, 1, at, s);
          at += s;
          return p;
        });
        return concatRef(parts.reverse(), sizes.map((s) => [3, s]).reverse(), 1);
      },
      [{ shape }],
    );
  });

  it('split: only some parts used', async () => {
    await checkOp(
      ([x]) => ops.split(x, [1, 64], 0)[1],
      ([x]) => narrowRef(x, [65, 2], 0, 1, 64),
      [{ shape: [65, 2] }],
    );
  });

  const NARROW: [number[], number, number, number][] = [
    [[17], 0, 3, 9],
    [[65], 0, 64, 1],
    [[4, 17], 1, 0, 1],
    [[4, 17], 0, 1, 3],
    [[2, 5, 3], 1, 2, 3],
    [[2, 5, 3], -1, 1, 2],
  ];
  it('narrow along every kind of axis', async () => {
    for (const [i, [shape, axis, start, length]] of NARROW.entries()) {
      const ax = axis < 0 ? axis + shape.length : axis;
      await checkOp(
        ([x]) => ops.narrow(x, axis, start, length),
        ([x]) => narrowRef(x, shape, ax, start, length),
        [{ shape }],
        { seed: i + 1 },
      );
    }
  });
});

describe('permute, transpose, expand and views', () => {
  const PERMUTE: [number[], number[]][] = [
    [[3, 17], [1, 0]],
    [[2, 3, 5], [2, 0, 1]],
    [[2, 3, 5], [0, 2, 1]],
    [[2, 1, 3, 5], [3, 1, 0, 2]],
    [[17], [0]],
    [[2, 1, 3, 2, 1, 3], [5, 3, 0, 4, 2, 1]], // rank 6: strides past the first vec4
    // the two trailing axes copied as one of 74 (a thread copies runs of 16, the last part-filled)
    [[2, 3, 2, 37], [1, 0, 2, 3]],
  ];
  it('permute', async () => {
    for (const [i, [shape, dims]] of PERMUTE.entries()) {
      await checkOp(
        ([x]) => ops.permute(x, dims),
        ([x]) => permuteRef(x, shape, dims),
        [{ shape }],
        { seed: i + 1 },
      );
    }
  });

  it('transpose of the last two and of chosen axes', async () => {
    await checkOp(([x]) => ops.transpose(x), ([x]) => permuteRef(x, [2, 3, 5], [0, 2, 1]), [{ shape: [2, 3, 5] }]);
    await checkOp(([x]) => ops.transpose(x, 0, 2), ([x]) => permuteRef(x, [2, 3, 5], [2, 1, 0]), [{ shape: [2, 3, 5] }]);
  });

  const EXPAND: [number[], number[]][] = [
    [[1], [17]],
    [[3, 1, 5], [3, 4, 5]],
    [[3, 1, 5], [2, 3, 4, 5]],
    [[1, 65], [3, 65]],
    [[4, 1], [4, 65]],
    [[2, 3], [2, 3]],
  ];
  it('expandTo, with the gradient summed over the broadcast dims', async () => {
    for (const [i, [from, to]] of EXPAND.entries()) {
      await checkOp(([x]) => ops.expandTo(x, to), ([x]) => expandRef(x, from, to), [{ shape: from }], { seed: i + 1 });
    }
  });

  it('reshape, squeeze, unsqueeze and flatten are views that pass gradients through', async () => {
    await checkOp(
      ([x]) => ops.mul(ops.flatten(ops.unsqueeze(ops.squeeze(x, 1), 0), 1).reshape(5, -1), 2),
      ([x]) => x.map((v) => 2 * v),
      [{ shape: [3, 1, 5, 1] }],
    );
  });
});

describe('embedding and oneHot', () => {
  const table = [17, 5]; // rows, width
  const indices = [3, 0, 16, 3, 3, 9, 0]; // repeats: their gradient rows add up
  for (const form of ['int32 tensor', 'plain array'] as const) {
    it(`embedding with indices as ${form}`, async () => {
      await checkOp(
        ([w]) => {
          const out = ops.embedding(w, form === 'plain array' ? indices : tensor(Int32Array.from(indices)));
          expect(out.shape).toEqual([indices.length, table[1]]);
          return out;
        },
        ([w]) => embeddingRef(w, table[1], indices),
        [{ shape: table }],
      );
    });
  }

  it('embedding with 2-D indices and batch 1', async () => {
    const idx = tensor(Int32Array.from([1, 4, 2, 4, 0, 1]), [2, 3]);
    await checkOp(
      ([w]) => ops.embedding(w, idx),
      ([w]) => embeddingRef(w, 65, [1, 4, 2, 4, 0, 1]),
      [{ shape: [5, 65] }],
    );
    await checkOp(([w]) => ops.embedding(w, [2]), ([w]) => embeddingRef(w, 3, [2]), [{ shape: [3, 3] }]);
  });

  it('oneHot', async () => {
    for (const [idx, classes] of [
      [[0], 1],
      [[2, 0, 16, 5], 17],
      [[64, 1, 1], 65],
      [Array.from({ length: 300 }, (_, i) => (i * 7) % 3), 3],
    ] as [number[], number][]) {
      const hot = ops.oneHot(idx, classes);
      expect(hot.shape).toEqual([idx.length, classes]);
      expect(Array.from(await hot.data())).toEqual(Array.from(oneHotRef(idx, classes)));
      const fromTensor = ops.oneHot(tensor(Int32Array.from(idx)), classes);
      expect(Array.from(await fromTensor.data())).toEqual(Array.from(oneHotRef(idx, classes)));
    }
  });

  it('rejects indices out of range and non-int32 index tensors', () => {
    const w = tensor(randomValues(numelOf([4, 2]), 1), [4, 2]);
    expect(() => ops.embedding(w, [0, 4])).toThrow(/index 4 at position 1 is outside \[0, 4\)/);
    expect(() => ops.embedding(w, [-1])).toThrow(/outside/);
    expect(() => ops.embedding(w, tensor([1, 2]))).toThrow(/indices must be int32, got \[2\] float32/);
    expect(() => ops.oneHot([3], 3)).toThrow(/outside \[0, 3\)/);
  });
});
