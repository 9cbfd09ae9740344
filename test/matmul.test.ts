// Matrix products against float64 references: all four transpose combinations, batched operands,
// a shared 2-D operand on either side, sizes that are not multiples of the 32x32 output tile,
// and linear with and without bias on 1-D, 2-D and 3-D inputs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../src/kernels/index.js';
import { chooseMatmulVariant, matmulSettings, vec4Layout } from '../src/kernels/matmul.js';
import { tensor } from '../src/engine/tensor.js';
import { launchSettings, runtime } from '../src/engine/runtime.js';
import { checkOp, setupGpu } from './helpers.js';
import { linearRef, matmulRef } from './reference/matmul.js';

beforeAll(setupGpu);

/** Operand shape that gives op(X) = (rows, cols) when stored transposed or not. */
const stored = (lead: number[], rows: number, cols: number, trans: boolean) => [...lead, ...(trans ? [cols, rows] : [rows, cols])];

const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [1, 17, 3], // batch-1 row vector
  [3, 17, 5],
  [17, 3, 65],
  [33, 9, 35], // just past one 32x32 output tile in both directions
  [70, 13, 99], // several 32x32 blocks each way, the last ones partial
];

const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

/** Every transpose pair over `sizes` in 2-D; with `batched`, the batched and shared-operand cases too. */
function matmulSuite(sizes: [number, number, number][] = SIZES, batched = true): void {
  for (const [transA, transB] of TRANSPOSES) {
    const label = `${transA ? 'A^T' : 'A'} ${transB ? 'B^T' : 'B'}`;

    it(`${label}, 2-D`, async () => {
      for (const [i, [M, K, N]] of sizes.entries()) {
        const sa = stored([], M, K, transA);
        const sb = stored([], K, N, transB);
        // Finite differences on every size but the largest, whose 2,200 inputs would take seconds
        // of float64 JavaScript: there the exact gradients, G op(B)^T and op(A)^T G in float64.
        const exact = M * K * N > 50_000;
        const gradReference = ([a, b]: Float64Array[], g: Float64Array) => {
          const gA = transA ? matmulRef(b, sb, g, [M, N], transB, true) : matmulRef(g, [M, N], b, sb, false, !transB);
          const gB = transB ? matmulRef(g, [M, N], a, sa, true, transA) : matmulRef(a, sa, g, [M, N], !transA, false);
          return [gA, gB];
        };
        await checkOp(
          ([a, b]) => ops.matmul(a, b, { transA, transB }),
          ([a, b]) => matmulRef(a, sa, b, sb, transA, transB),
          [{ shape: sa }, { shape: sb }],
          { seed: i + 1, gradReference: exact ? gradReference : undefined },
        );
      }
    });

    if (!batched) continue;

    it(`${label}, batched (both operands, one or two leading dims)`, async () => {
      const cases: [number[], number, number, number][] = [
        [[1], 3, 5, 4],
        [[3], 5, 17, 3],
        [[2, 3], 4, 3, 5],
      ];
      for (const [i, [lead, M, K, N]] of cases.entries()) {
        const sa = stored(lead, M, K, transA);
        const sb = stored(lead, K, N, transB);
        await checkOp(
          ([a, b]) => ops.matmul(a, b, { transA, transB }),
          ([a, b]) => matmulRef(a, sa, b, sb, transA, transB),
          [{ shape: sa }, { shape: sb }],
          { seed: i + 11 },
        );
      }
    });

    it(`${label}, a shared 2-D operand (its gradient summed over the batch)`, async () => {
      // batched A with shared B, then shared A with batched B
      const cases: [number[], number[]][] = [
        [stored([3], 5, 7, transA), stored([], 7, 4, transB)],
        [stored([2, 2], 5, 7, transA), stored([], 7, 4, transB)],
        [stored([], 5, 7, transA), stored([3], 7, 4, transB)],
        [stored([1], 5, 7, transA), stored([], 7, 4, transB)],
      ];
      for (const [i, [sa, sb]] of cases.entries()) {
        await checkOp(
          ([a, b]) => ops.matmul(a, b, { transA, transB }),
          ([a, b]) => matmulRef(a, sa, b, sb, transA, transB),
          [{ shape: sa }, { shape: sb }],
          { seed: i + 21 },
        );
      }
    });
  }
}

// Where the device has subgroups, the suite runs the subgroup kernel (shaders/matmulSubgroups.wgsl);
// 'plain kernel' runs shaders/matmul.wgsl's on the same device.
describe('matmul', () => matmulSuite());

function linearSuite(): void {
  const CASES: { x: number[]; out: number }[] = [
    { x: [1, 17], out: 5 }, // batch 1
    { x: [5, 17], out: 7 },
    { x: [65, 3], out: 33 },
    { x: [2, 3, 17], out: 5 }, // leading dims flattened
    { x: [17], out: 3 }, // a single vector
  ];
  for (const bias of [true, false]) {
    it(bias ? 'with bias' : 'without bias', async () => {
      for (const [i, { x: sx, out }] of CASES.entries()) {
        const inF = sx[sx.length - 1];
        const sw = [out, inF];
        await checkOp(
          ([x, w, b]) => ops.linear(x, w, b),
          ([x, w, b]) => linearRef(x, w, sw, b),
          [{ shape: sx }, { shape: sw }, ...(bias ? [{ shape: [out] }] : [])],
          { seed: i + 31 },
        );
      }
    });
  }

  it('with a frozen weight: only the input and bias get gradients', async () => {
    await checkOp(
      ([x, w, b]) => ops.linear(x, w, b),
      ([x, w, b]) => linearRef(x, w, [4, 9], b),
      [{ shape: [3, 9] }, { shape: [4, 9], grad: false }, { shape: [4] }],
    );
  });
}

describe('linear', linearSuite);

function splitSuite(): void {
  beforeAll(() => {
    launchSettings.maxBindingBytes = 4 * 64 * 5; // 64 rows of 5 columns (with 5 columns, blocks start every 64 rows)
  });
  afterAll(() => {
    launchSettings.maxBindingBytes = null;
  });

  it('gives the outputs and gradients of the whole weight, in three launches', async () => {
    const entries: string[] = [];
    const stop = runtime().onLaunch((k) => entries.push(k.entry));
    ops.linear(ops.zeros([2, 5]), ops.zeros([150, 5])); // 150 rows: 64 + 64 + 22
    stop();
    expect(entries.filter((e) => e.startsWith('matmul'))).toHaveLength(3);
    await checkOp(
      ([x, w, b]) => ops.linear(x, w, b),
      ([x, w, b]) => linearRef(x, w, [150, 5], b),
      // Outputs stay under the lowered limit too: only the weight is split here.
      [{ shape: [1, 2, 5] }, { shape: [150, 5] }, { shape: [150] }],
      { seed: 41 },
    );
    await checkOp(([x, w]) => ops.linear(x, w), ([x, w]) => linearRef(x, w, [130, 5]), [{ shape: [2, 5] }, { shape: [130, 5], grad: false }], {
      seed: 42,
    });
  });

  it('refuses a weight whose smallest aligned block does not fit, by name', () => {
    expect(() => ops.linear(ops.zeros([1, 7]), ops.zeros([100, 7]))).toThrow(
      /linear: a block of 64 rows of weight \[100, 7\] is over the binding-size limit of 1280 bytes/,
    );
  });
}

describe('linear with a weight over the binding-size limit (bound as blocks of rows)', splitSuite);

describe('matmul and linear, plain kernel (no subgroups)', () => {
  beforeAll(() => {
    matmulSettings.subgroups = false;
  });
  afterAll(() => {
    matmulSettings.subgroups = true;
  });
  describe('matmul', () => matmulSuite());
  describe('linear', linearSuite);
  describe('linear with a weight over the binding-size limit', splitSuite);
});

// Sizes and strides in multiples of 4: the vec4 variants (matmulSharedNT / NN / TN) where the
// device has subgroups, for every layout but A^T B^T; then the same through matmulShared.
const SIZES4: [number, number, number][] = [
  [4, 4, 4],
  [36, 12, 40], // past one 32x32 output tile both ways
  [68, 20, 100],
];

function vec4Suite(): void {
  // The batched cases above have no size the vec4 variants take: run once, there.
  describe('matmul', () => matmulSuite(SIZES4, false));
  it('linear on 2-D and 3-D inputs, with and without bias; batched products with a shared operand', async () => {
    await checkOp(([x, w, b]) => ops.linear(x, w, b), ([x, w, b]) => linearRef(x, w, [40, 12], b), [{ shape: [36, 12] }, { shape: [40, 12] }, { shape: [40] }], { seed: 51 });
    await checkOp(([x, w]) => ops.linear(x, w), ([x, w]) => linearRef(x, w, [12, 8]), [{ shape: [2, 4, 8] }, { shape: [12, 8] }], { seed: 52 });
    for (const [i, [sa, sb, transB]] of ([[[3, 8, 12], [16, 12], true], [[8, 12], [2, 12, 16], false]] as const).entries()) {
      await checkOp(
        ([a, b]) => ops.matmul(a, b, { transB }),
        ([a, b]) => matmulRef(a, [...sa], b, [...sb], false, transB),
        [{ shape: [...sa] }, { shape: [...sb] }],
        { seed: 53 + i },
      );
    }
  });
}

const VEC4_MIN_MACS = matmulSettings.vec4MinMacs;

describe('matmul and linear, vec4 operands', () => {
  // Every product that can: these small ones are under the default's line.
  beforeAll(() => {
    matmulSettings.vec4MinMacs = 0;
  });
  afterAll(() => {
    matmulSettings.vec4MinMacs = VEC4_MIN_MACS;
  });
  vec4Suite();
});

describe('matmul and linear, vec4 operands read as floats (matmulShared)', () => {
  beforeAll(() => {
    matmulSettings.vec4MinMacs = Infinity;
  });
  afterAll(() => {
    matmulSettings.vec4MinMacs = VEC4_MIN_MACS;
  });
  vec4Suite();
});

// The workgroup-memory kernel of GPUs (shaders/matmulTiled.wgsl), forced on every product: sizes
// past one 128 x 128 block of C, K not a multiple of its slices of 8, every transpose pair (each
// reads its operands along k or along m/n), batches and the bias.
const SIZES_TILED: [number, number, number][] = [
  [1, 1, 1],
  [3, 17, 5],
  [130, 9, 133], // just past one 128 x 128 block both ways, K past one slice of 8
];

describe('matmul and linear, tiled kernel (matmulTiled)', () => {
  beforeAll(() => {
    matmulSettings.tiled = true;
    matmulSettings.tiledMinMacs = 0;
  });
  afterAll(() => {
    matmulSettings.tiled = 'hardware';
    matmulSettings.tiledMinMacs = 1 << 22;
  });
  describe('matmul', () => matmulSuite(SIZES_TILED));
  describe('linear', linearSuite);
  describe('16 k a step', () => {
    beforeAll(() => {
      matmulSettings.tiledStep = 16;
    });
    afterAll(() => {
      matmulSettings.tiledStep = 8;
    });
    describe('matmul', () => matmulSuite([[3, 17, 5], [130, 25, 133]], false));
  });
  it('runs matmulTiled', () => {
    const entries: string[] = [];
    const stop = runtime().onLaunch((k) => entries.push(k.entry));
    try {
      ops.matmul(ops.zeros([2, 3]), ops.zeros([3, 4]));
    } finally {
      stop();
    }
    expect(entries.filter((e) => e.startsWith('matmul'))).toEqual(['matmulTiled']);
  });
});

describe('chooseMatmulVariant', () => {
  it('reads vec4s where the operands allow: linear forward NT, its input gradient NN, its weight gradient TN', () => {
    const entries: string[] = [];
    const stop = runtime().onLaunch((k) => entries.push(k.entry));
    matmulSettings.vec4MinMacs = 8 * 12 * 16;
    try {
      const x = tensor(new Float32Array(8 * 12), [8, 12], { requiresGrad: true });
      const w = tensor(new Float32Array(16 * 12), [16, 12], { requiresGrad: true });
      ops.linear(x, w).backward(tensor(new Float32Array(8 * 16), [8, 16]));
      ops.linear(tensor(new Float32Array(8 * 5), [8, 5]), tensor(new Float32Array(16 * 5), [16, 5])); // K = 5
      ops.linear(tensor(new Float32Array(4 * 12), [4, 12]), tensor(new Float32Array(16 * 12), [16, 12])); // under the line
    } finally {
      matmulSettings.vec4MinMacs = VEC4_MIN_MACS;
      stop();
    }
    const products = entries.filter((e) => e.startsWith('matmul'));
    expect(products).toEqual(
      runtime().ctx.hasSubgroups ? ['matmulSharedNT', 'matmulSharedNN', 'matmulSharedTN', 'matmulShared', 'matmulShared'] : Array(5).fill('matmul'),
    );
    const strides = { M: 8, N: 16, K: 12, aBatch: 0, bBatch: 0 };
    expect(vec4Layout({ ...strides, aRow: 12, aCol: 1, bRow: 1, bCol: 12 })).toBe('NT');
    expect(vec4Layout({ ...strides, aRow: 12, aCol: 1, bRow: 16, bCol: 1 })).toBe('NN');
    expect(vec4Layout({ ...strides, aRow: 1, aCol: 8, bRow: 16, bCol: 1 })).toBe('TN');
    expect(vec4Layout({ ...strides, aRow: 1, aCol: 8, bRow: 1, bCol: 12 })).toBeNull(); // A^T B^T
    expect(vec4Layout({ ...strides, K: 10, aRow: 10, aCol: 1, bRow: 1, bCol: 10 })).toBeNull();
    expect(vec4Layout({ ...strides, N: 6, aRow: 12, aCol: 1, bRow: 6, bCol: 1 })).toBeNull();
    expect(vec4Layout({ ...strides, aBatch: 6, aRow: 12, aCol: 1, bRow: 1, bCol: 12 })).toBeNull();
  });

  it('picks the subgroup kernel only where the device has subgroups', () => {
    expect(chooseMatmulVariant({ subgroups: true }, false).entry).toBe('matmulShared');
    expect(chooseMatmulVariant({ subgroups: false }, true)).toMatchObject({ kernel: { name: 'matmul' }, entry: 'matmul', constants: { HAS_BIAS: 1 } });
  });
});
