// Elementwise family against float64 references: every unary op, scalar forms, and broadcasting
// binary ops, forward and gradient, on sizes that are not multiples of the 256-thread workgroup.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../src/kernels/index.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { elementwiseDifferences } from './checkOp.js';
import { checkOp, expectClose, numelOf, randomValues, setupGpu } from './helpers.js';
import { binaryRef, broadcastBinary, mapUnary, unaryRef } from './reference/elementwise.js';

beforeAll(setupGpu);

// 1, 3, 17, 65 and two sizes just past one and two 256-thread workgroups (335, 258 ... 516);
// multiples of 4 (132, 516, 4112) take the vec4 kernels, 16 elements a thread, the last thread's
// share cut short (4112 = 16 * 257: one thread past a 256-thread workgroup).
const SHAPES: number[][] = [[1], [3], [17], [65], [5, 67], [2, 3, 43], [4, 129], [3, 44], [16, 257]];

/** Move values within `gap` of a kink to kink ± 10 * gap, so finite differences stay on one side. */
function awayFrom(values: Float64Array, kinks: number[], gap = 1e-3): Float64Array {
  return values.map((v) => {
    for (const k of kinks) if (Math.abs(v - k) < gap) return v >= k ? k + 10 * gap : k - 10 * gap;
    return v;
  });
}

const signed = (shape: number[], seed: number, kinks: number[] = []) =>
  awayFrom(randomValues(numelOf(shape), seed, 2), kinks);
const positive = (shape: number[], seed: number) => randomValues(numelOf(shape), seed).map((v) => Math.abs(v) + 0.1);

interface UnaryCase {
  name: string;
  gpu: (x: Tensor) => Tensor;
  ref: (v: number) => number;
  values: (shape: number[], seed: number) => Float64Array;
}

const UNARY: UnaryCase[] = [
  { name: 'neg', gpu: ops.neg, ref: unaryRef.neg, values: (s, k) => signed(s, k) },
  { name: 'relu', gpu: ops.relu, ref: unaryRef.relu, values: (s, k) => signed(s, k, [0]) },
  { name: 'leakyRelu', gpu: (x) => ops.leakyRelu(x, 0.2), ref: unaryRef.leakyRelu, values: (s, k) => signed(s, k, [0]) },
  { name: 'tanh', gpu: ops.tanh, ref: unaryRef.tanh, values: (s, k) => signed(s, k) },
  { name: 'exp', gpu: ops.exp, ref: unaryRef.exp, values: (s, k) => signed(s, k) },
  { name: 'log', gpu: ops.log, ref: unaryRef.log, values: positive },
  { name: 'sqrt', gpu: ops.sqrt, ref: unaryRef.sqrt, values: positive },
  { name: 'square', gpu: ops.square, ref: unaryRef.square, values: (s, k) => signed(s, k) },
  { name: 'sigmoid', gpu: ops.sigmoid, ref: unaryRef.sigmoid, values: (s, k) => signed(s, k) },
  { name: 'softplus', gpu: ops.softplus, ref: unaryRef.softplus, values: (s, k) => signed(s, k) },
  { name: 'abs', gpu: ops.abs, ref: unaryRef.abs, values: (s, k) => signed(s, k, [0]) },
  {
    name: 'clamp(-0.5, 1.5)',
    gpu: (x) => ops.clamp(x, -0.5, 1.5),
    ref: (v) => Math.min(Math.max(v, -0.5), 1.5),
    values: (s, k) => signed(s, k, [-0.5, 1.5]),
  },
  { name: 'powScalar(x, 2.5)', gpu: (x) => ops.powScalar(x, 2.5), ref: (v) => v ** 2.5, values: positive },
  { name: 'powScalar(x, -1)', gpu: (x) => ops.powScalar(x, -1), ref: (v) => 1 / v, values: positive },
  // Integer powers of negative numbers are defined (WGSL's pow alone gives NaN for them).
  { name: 'powScalar(x, 2) signed', gpu: (x) => ops.powScalar(x, 2), ref: (v) => v * v, values: (s, k) => signed(s, k) },
  { name: 'powScalar(x, 3) signed', gpu: (x) => ops.powScalar(x, 3), ref: (v) => v ** 3, values: (s, k) => signed(s, k) },
  { name: 'affine(x, -1.5, 0.25)', gpu: (x) => ops.affine(x, -1.5, 0.25), ref: (v) => v * -1.5 + 0.25, values: (s, k) => signed(s, k) },
  { name: 'clone', gpu: ops.clone, ref: (v) => v, values: (s, k) => signed(s, k) },
  { name: 'addScalar / add(x, 0.75)', gpu: (x) => ops.add(x, 0.75), ref: (v) => v + 0.75, values: (s, k) => signed(s, k) },
  { name: 'sub(x, 0.75)', gpu: (x) => ops.sub(x, 0.75), ref: (v) => v - 0.75, values: (s, k) => signed(s, k) },
  { name: 'mulScalar / mul(x, -3)', gpu: (x) => ops.mul(x, -3), ref: (v) => v * -3, values: (s, k) => signed(s, k) },
  { name: 'div(x, 4)', gpu: (x) => ops.div(x, 4), ref: (v) => v / 4, values: (s, k) => signed(s, k) },
];

describe('unary ops', () => {
  for (const op of UNARY) {
    it(op.name, async () => {
      for (const [i, shape] of SHAPES.entries()) {
        const reference = ([x]: Float64Array[]) => mapUnary(x, op.ref);
        await checkOp(([x]) => op.gpu(x), reference, [{ shape, values: op.values(shape, 10 + i) }], {
          seed: i + 1,
          gradReference: elementwiseDifferences(reference),
        });
      }
    });
  }

  it('powScalar: a zero exponent gives 1 everywhere, a fractional power of a negative number NaN', async () => {
    expect(Array.from(await ops.powScalar(tensor([-2, 0, 3]), 0).data())).toEqual([1, 1, 1]);
    // pow may go through exp2(e * log2(x)): close, not necessarily exact.
    expectClose(await ops.powScalar(tensor([-2, 0, 3]), 2).data(), [4, 0, 9], 1e-6);
    expectClose(await ops.powScalar(tensor([-2, 0, 3]), 3).data(), [-8, 0, 27], 1e-6);
    const frac = await ops.powScalar(tensor([-2, 4]), 0.5).data();
    expect(Number.isNaN(frac[0])).toBe(true);
    expect(frac[1]).toBeCloseTo(2, 6);
  });

  it('saturating ops stay finite far out', async () => {
    const x = tensor([-100, -30, 30, 100]);
    expect(Array.from(await ops.tanh(x).data())).toEqual([-1, -1, 1, 1]);
    expect(Array.from(await ops.sigmoid(x).data()).map((v) => Math.round(v))).toEqual([0, 0, 1, 1]);
    const sp = await ops.softplus(x).data();
    expect(sp[3]).toBe(100);
    expect(sp[0]).toBeGreaterThanOrEqual(0);
  });
});

// [a shape, b shape]: equal shapes, numpy broadcasting both ways, scalar-like (1,), rank-padding.
const BINARY_SHAPES: [number[], number[]][] = [
  [[17], [17]],
  [[5, 67], [5, 67]],
  [[3, 1, 5], [4, 5]],
  [[4, 5], [3, 1, 5]],
  [[1], [17]],
  [[65], [1]],
  [[1], [1]],
  [[2, 65, 3], [65, 1]],
  [[1, 17], [3, 1]],
  [[2, 1, 3, 1], [1, 4, 1, 5]],
  [[2, 1, 3, 1, 2, 1], [1, 2, 1, 3, 1, 2]], // rank 6: the second vec4 of the shape uniform
  [[], [3, 4]], // a 0-d tensor
  [[3, 44], [3, 44]], // equal shapes, a multiple of 4: the vec4 kernel
  [[4, 3, 2, 5], [4, 1, 1, 1]], // per-row operand: collapses to (4, 30) by (4, 1)
  [[2, 3, 4], [1, 3, 4]], // collapses to (2, 12) by (1, 12)
];

describe('binary ops with broadcasting', () => {
  for (const name of ['add', 'sub', 'mul', 'div'] as const) {
    it(name, async () => {
      for (const [i, [sa, sb]] of BINARY_SHAPES.entries()) {
        const a = randomValues(numelOf(sa), 20 + i);
        // Keep divisors away from zero, where the quotient's finite differences blow up.
        const b = randomValues(numelOf(sb), 40 + i).map((v) => (name === 'div' ? Math.sign(v || 1) * (Math.abs(v) + 0.5) : v));
        await checkOp(
          ([x, y]) => ops[name](x, y),
          ([x, y]) => broadcastBinary(x, sa, y, sb, binaryRef[name]),
          [{ shape: sa, values: a }, { shape: sb, values: b }],
          { seed: i + 3 },
        );
      }
    });
  }

  it('an operand that needs no gradient gets none, the other still does', async () => {
    await checkOp(
      ([x, y]) => ops.mul(x, y),
      ([x, y]) => broadcastBinary(x, [3, 1, 5], y, [4, 5], binaryRef.mul),
      [{ shape: [3, 1, 5] }, { shape: [4, 5], grad: false }],
    );
  });

  it('the same tensor on both sides', async () => {
    await checkOp(([x]) => ops.mul(x, x), ([x]) => x.map((v) => v * v), [{ shape: [65] }]);
  });

  it('launches past 65,535 workgroups fold into y (16.8 M elements)', async () => {
    const n = 65535 * 256 + 300;
    const y = ops.add(ops.mul(ops.full([n], 1.5), ops.full([1], 2)), ops.full([n], 0.25));
    const v = await y.data();
    expect(v.length).toBe(n);
    expect([v[0], v[65535 * 256 - 1], v[65535 * 256], v[n - 1]]).toEqual([3.25, 3.25, 3.25, 3.25]);
    expect(v.every((e) => e === 3.25)).toBe(true);
    y.dispose();
  });

  it('equal gives a 0/1 mask with broadcasting', async () => {
    const m = ops.equal(tensor([1, 2, 3, 4, 2, 6], [2, 3]), tensor([1, 2, 6], [3]));
    expect(m.shape).toEqual([2, 3]);
    expect(Array.from(await m.data())).toEqual([1, 1, 0, 0, 1, 1]);
  });
});
