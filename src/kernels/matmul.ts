// Matrix products (shaders/matmul.wgsl): batched matmul with either operand transposed, and
// linear (x W^T + b with the bias fused), each with its backward rule.
import { record } from './grad.js';
import { kernelFamily, type KernelFamily, type LayoutDeclaration } from '../engine/kernelFamily.js';
import { chosen, runtime, type KernelChoice } from '../engine/runtime.js';
import { splitUnits } from '../engine/split.js';
import { assertFloat, empty, formatShape, Tensor, type Shape } from '../engine/tensor.js';
import { add } from './elementwise.js';
import { sum } from './reduce.js';
import { concat, narrow } from './shape.js';

const TILE = 8;
const PER_THREAD = 4;
/** matmulShared: one 8-lane workgroup per 32 x 32 block of C. */
const SHARED_BLOCK = 32;

/** C = op(A) op(B) (+ bias), every kernel of the family. */
const product: LayoutDeclaration = { uniform: 'p', buffers: { a: 'read f32', b: 'read f32', bias: 'read f32', c: 'write f32' } };

const plainKernels = kernelFamily('matmul', {
  uniforms: {
    p: {
      M: 'u32', N: 'u32', K: 'u32',
      aBatch: 'u32', aRow: 'u32', aCol: 'u32', // element strides of A: batch, row (m), column (k)
      bBatch: 'u32', bRow: 'u32', bCol: 'u32', // element strides of B: batch, row (k), column (n)
    },
  },
  layouts: { matmul: product },
});

/**
 * The entry point `entry` of shaders/matmulSubgroups.wgsl for teams of 8 * rowBlocks rows: the
 * variants differ only in that count, which WGSL cannot take from an override. Each 8-row block
 * is written out, not looped over: its A row and accumulators stay named values in registers, with
 * one read site per block (lavapipe compiles every storage access site into a per-lane loop).
 */
function sharedMatmul(entry: string, rowBlocks: number): string {
  const each = (line: (i: number) => string) => Array.from({ length: rowBlocks }, (_, i) => line(i)).join('\n');
  return /* wgsl */ `
@compute @workgroup_size(8)
fn ${entry}(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let m0 = wg.y * ${8 * rowBlocks}u;
  let n0 = wg.x * 32u + (lane % 8u) * 4u;
  let batch = wg.z;
  let lastM = p.M - 1u;
  let lastN = p.N - 1u;
  let aBase = batch * p.aBatch;
  let r = m0 + lane % 8u;
${each((i) => `  let a${i} = aBase + min(r${i ? ` + ${8 * i}u` : ''}, lastM) * p.aRow;`)}
  let bBase = batch * p.bBatch;
  let b0 = bBase + min(n0, lastN) * p.bCol;
  let b1 = bBase + min(n0 + 1u, lastN) * p.bCol;
  let b2 = bBase + min(n0 + 2u, lastN) * p.bCol;
  let b3 = bBase + min(n0 + 3u, lastN) * p.bCol;
${each((i) => `  var acc${i}: Rows8;`)}
  for (var k = 0u; k < p.K; k++) {
    let ka = k * p.aCol;
    let kb = k * p.bRow;
    let bv = vec4<f32>(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
${each((i) => `    acc${i} = fma8(acc${i}, a[a${i} + ka], bv);`)}
  }
  let base = batch * p.M * p.N;
  var blocks: array<array<vec4<f32>, 8>, 8>;
${each((i) => `  blocks[${i}] = rows8(acc${i});`)}
  storeBlocks(blocks, ${rowBlocks}u, base, m0, n0);
}`;
}

/**
 * Where each operand lies along a contiguous axis, matmulShared reading 4 floats a load
 * (`a4`, `b4`: the operands again, as vec4s): NT (linear's forward, A by k and B^T stored, by k),
 * NN (its input gradient: A by k, B by n), TN (its weight gradient: A^T stored, by m; B by n).
 * lavapipe runs each storage read as a loop over the lanes, so a vec4 costs about what one float
 * does: per 4 k a lane makes 8 reads instead of 32. The products are summed in matmulShared's
 * order (k after k onto the same accumulators), so the results are the same bit for bit.
 */
export type Vec4Layout = 'NT' | 'NN' | 'TN';

function sharedMatmul4(layout: Vec4Layout): string {
  const blocks = [0, 1, 2, 3];
  const each = (line: (i: number) => string) => blocks.map(line).join('\n');
  const t4 = [0, 1, 2, 3];
  const c = ['x', 'y', 'z', 'w'];
  // The team's rows m0 + 8i + lane (A read by k), or this lane's 4 rows m0 + 4 lane .. + 3 (A read by m).
  const rowsByK = each((i) => `  let a${i} = (aBase + min(m0 + lane % 8u${i ? ` + ${8 * i}u` : ''}, lastM) * p.aRow) / 4u;`);
  // B's columns n0 .. n0 + 3, each read by k (B^T stored), or one vec4 of a row (B read by n).
  const colsByK = [0, 1, 2, 3].map((j) => `  let b${j} = (bBase + min(n0${j ? ` + ${j}u` : ''}, lastN) * p.bCol) / 4u;`).join('\n');
  let body: string;
  if (layout === 'TN') {
    // Row 8i + r of the team is component r % 4 of lane 2i + r / 4's vec4.
    const fromLanes = (i: number) =>
      `Rows8(${[...Array(8).keys()].map((r) => `acc${i}.r${r} + subgroupBroadcast(x.${c[r % 4]}, ${2 * i + (r >> 2)}u) * bv`).join(', ')})`;
    body = `
  let ax = (aBase + min(m0 + 4u * (lane % 8u), p.M - 4u)) / 4u;
  let bx = (bBase + min(n0, p.N - 4u)) / 4u;
${each((i) => `  var acc${i}: Rows8;`)}
  for (var k = 0u; k < p.K; k++) {
    let x = a4[ax + k * p.aCol / 4u];
    let bv = b4[bx + k * p.bRow / 4u];
${each((i) => `    acc${i} = ${fromLanes(i)};`)}
  }`;
  } else {
    const bLoads = layout === 'NT' ? [0, 1, 2, 3].map((j) => `    let y${j} = b4[b${j} + k4];`).join('\n') : '';
    const bv = (t: number) =>
      layout === 'NT' ? `vec4<f32>(y0.${c[t]}, y1.${c[t]}, y2.${c[t]}, y3.${c[t]})` : `b4[bx + (4u * k4 + ${t}u) * p.bRow / 4u]`;
    body = `
${rowsByK}
${layout === 'NT' ? colsByK : '  let bx = (bBase + min(n0, p.N - 4u)) / 4u;'}
${each((i) => `  var acc${i}: Rows8;`)}
  for (var k4 = 0u; k4 < p.K / 4u; k4++) {
${each((i) => `    let x${i} = a4[a${i} + k4];`)}
${bLoads}
${t4.map((t) => `    let bv${t} = ${bv(t)};\n${each((i) => `    acc${i} = fma8(acc${i}, x${i}.${c[t]}, bv${t});`)}`).join('\n')}
  }`;
  }
  return /* wgsl */ `
@compute @workgroup_size(8)
fn matmulShared${layout}(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let m0 = wg.y * 32u;
  let n0 = wg.x * 32u + (lane % 8u) * 4u;
  let batch = wg.z;
  let lastM = p.M - 1u;
  let lastN = p.N - 1u;
  let aBase = batch * p.aBatch;
  let bBase = batch * p.bBatch;${body}
  let base = batch * p.M * p.N;
  var blocks: array<array<vec4<f32>, 8>, 8>;
${each((i) => `  blocks[${i}] = rows8(acc${i});`)}
  storeBlocks(blocks, 4u, base, m0, n0);
}`;
}

/**
 * The vec4 layout a product can run in, or null: the contiguous axes as Vec4Layout says, every
 * stride, batch step and the size read 4 at a time a multiple of 4 (so a vec4 never straddles a
 * row; bound ranges start on 256 bytes).
 */
export function vec4Layout(s: { M: number; N: number; K: number; aBatch: number; aRow: number; aCol: number; bBatch: number; bRow: number; bCol: number }): Vec4Layout | null {
  const four = (...xs: number[]) => xs.every((x) => x % 4 === 0);
  if (!four(s.aBatch, s.bBatch)) return null;
  const aByK = s.aCol === 1 && four(s.aRow, s.K);
  if (aByK && s.bRow === 1 && four(s.bCol)) return 'NT';
  if (aByK && s.bCol === 1 && four(s.bRow, s.N)) return 'NN';
  if (s.aRow === 1 && four(s.aCol, s.M) && s.bCol === 1 && four(s.bRow, s.N)) return 'TN';
  return null;
}

const VEC4_LAYOUTS: Vec4Layout[] = ['NT', 'NN', 'TN'];

const subgroupKernels = plainKernels.with('matmulSubgroups', {
  layouts: {
    matmulShared: { ...product, entries: ['matmulShared', 'matmulShared64'] },
    matmulShared4: {
      uniform: 'p',
      buffers: { ...product.buffers, a4: 'read vec4f', b4: 'read vec4f' },
      entries: VEC4_LAYOUTS.map((l) => `matmulShared${l}`),
    },
  },
  prelude: [sharedMatmul('matmulShared', SHARED_BLOCK / 8), sharedMatmul('matmulShared64', (2 * SHARED_BLOCK) / 8), ...VEC4_LAYOUTS.map(sharedMatmul4)],
});

const tiledKernels = plainKernels.with('matmulTiled', { layouts: { matmulTiled: product } });
/** matmulTiled: a 256-thread workgroup per 128 x 128 block of C. */
const TILED_BLOCK = 128;

/**
 * Use the subgroup variant (shaders/matmulSubgroups.wgsl) where the device has subgroups. The
 * suite switches this off to cover the plain kernel too.
 */
export const matmulSettings = {
  subgroups: true,
  rows64: false,
  /**
   * Multiply-adds from which a product runs a vec4 variant (matmulSharedNT / NN / TN) where its
   * operands allow. Below it matmulShared: a vec4 variant is one more pipeline to compile (1-3 s
   * on lavapipe) for a few milliseconds; the training step's linear layers are all under it. The
   * suite sets 0 (every product that can) and Infinity (none).
   */
  vec4MinMacs: 1 << 24,
  /**
   * A lower cap on the bytes of a weight's row block than the engine's binding limit (null: none):
   * model tests split only the classifier's weight with it, where one image's activations are
   * over any limit that would split the weight (launchSettings.maxBindingBytes splits everything).
   */
  maxBlockBytes: null as number | null,
  /**
   * The workgroup-memory kernel (shaders/matmulTiled.wgsl) for products of at least
   * tiledMinMacs multiply-adds: 'hardware' on a GPU only (on a CPU adapter its barriers cost more
   * than its sharing saves), or always / never. The suite and the bench force it either way.
   */
  tiled: 'hardware' as KernelChoice,
  tiledMinMacs: 1 << 22,
  /** On a GPU, matmulTiled only from this many 128 x 128 blocks of C (a 1024^3 product has 64). */
  tiledMinBlocks: 64,
  /** matmulTiled's k per step (its override BK): 8 or 16. */
  tiledStep: 8 as 8 | 16,
};

export interface MatmulVariant {
  kernel: KernelFamily;
  entry: string;
  constants: Record<string, number>;
  /** Rows and columns of C per workgroup. */
  blockM: number;
  blockN: number;
  /** Reads its operands as vec4s (bound as a4 and b4). */
  vec4?: boolean;
}

/**
 * The kernel for a product of M x K by K x N (pure: the bench and tests can drive it).
 * matmulShared shares A's reads across a subgroup (8 reads per 128 multiply-adds per lane, the
 * plain kernel 8 per 16); it needs 'subgroups' at least 8 wide.
 */
export function chooseMatmulVariant(
  features: { subgroups: boolean; rows64?: boolean; tiled?: boolean },
  hasBias: boolean,
  layout: Vec4Layout | null = null,
  strides?: { aCol: number; bCol: number },
): MatmulVariant {
  const bias = hasBias ? 1 : 0;
  if (features.tiled) {
    const along = { A_ALONG_K: strides?.aCol === 1 ? 1 : 0, B_ALONG_N: strides?.bCol === 1 ? 1 : 0 };
    return { kernel: tiledKernels, entry: 'matmulTiled', constants: { ...along, BK: matmulSettings.tiledStep, HAS_BIAS: bias }, blockM: TILED_BLOCK, blockN: TILED_BLOCK };
  }
  if (features.subgroups && layout) {
    return { kernel: subgroupKernels, entry: `matmulShared${layout}`, constants: { HAS_BIAS: bias }, blockM: SHARED_BLOCK, blockN: SHARED_BLOCK, vec4: true };
  }
  if (features.subgroups && features.rows64) {
    return {
      kernel: subgroupKernels,
      entry: 'matmulShared64',
      constants: { HAS_BIAS: bias },
      blockM: 2 * SHARED_BLOCK,
      blockN: SHARED_BLOCK,
    };
  }
  if (features.subgroups) {
    return {
      kernel: subgroupKernels,
      entry: 'matmulShared',
      constants: { HAS_BIAS: bias },
      blockM: SHARED_BLOCK,
      blockN: SHARED_BLOCK,
    };
  }
  return {
    kernel: plainKernels,
    entry: 'matmul',
    constants: { TILE_X: TILE, TILE_Y: TILE, HAS_BIAS: bias },
    blockM: TILE * PER_THREAD,
    blockN: TILE * PER_THREAD,
  };
}

interface Operand {
  batch: number;
  rows: number;
  cols: number;
}

function asBatched(shape: Shape, name: string): Operand {
  if (shape.length < 2) throw new Error(`matmul: ${name} must have at least 2 dimensions, got ${formatShape(shape)}`);
  const batch = shape.slice(0, -2).reduce((p, d) => p * d, 1);
  return { batch, rows: shape[shape.length - 2], cols: shape[shape.length - 1] };
}

/**
 * op(A) op(B) for A (..., rows, cols), B (..., rows, cols); op transposes when asked.
 * Leading dims must match, or one side may have none (it is then shared by every batch).
 */
export function mmKernel(a: Tensor, b: Tensor | RowBlock, transA: boolean, transB: boolean, bias?: Tensor): Tensor {
  assertFloat(a, 'matmul');
  assertFloat(b instanceof Tensor ? b : b.of, 'matmul');
  // A row block is its rows' range of the weight's buffer.
  const [bShape, bBinding] =
    b instanceof Tensor
      ? [b.shape, b.buffer]
      : [[b.rows, b.of.shape[1]], { buffer: b.of.buffer, offset: 4 * b.start * b.of.shape[1], size: 4 * b.rows * b.of.shape[1] }];
  const A = asBatched(a.shape, 'A');
  const B = asBatched(bShape, 'B');
  const [M, K] = transA ? [A.cols, A.rows] : [A.rows, A.cols];
  const [K2, N] = transB ? [B.cols, B.rows] : [B.rows, B.cols];
  const lead = a.ndim > 2 ? a.shape.slice(0, -2) : bShape.slice(0, -2);
  const badBatch = a.ndim > 2 && bShape.length > 2 && a.shape.slice(0, -2).join() !== bShape.slice(0, -2).join();
  if (K !== K2 || badBatch) {
    throw new Error(
      `matmul: ${formatShape(a.shape)}${transA ? '^T' : ''} and ${formatShape(bShape)}${transB ? '^T' : ''} do not fit (inner sizes ${K} and ${K2})`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== N)) {
    throw new Error(`linear: bias ${formatShape(bias.shape)} must have shape [${N}]`);
  }
  const batch = Math.max(A.batch, B.batch);
  const out = empty([...lead, M, N]);
  const [aRow, aCol] = transA ? [1, A.cols] : [A.cols, 1];
  const [bRow, bCol] = transB ? [1, B.cols] : [B.cols, 1];
  const strides = {
    M, N, K,
    aBatch: A.batch === 1 ? 0 : A.rows * A.cols, aRow, aCol,
    bBatch: B.batch === 1 ? 0 : B.rows * B.cols, bRow, bCol,
  };
  const macs = batch * M * N * K;
  const layout = macs >= matmulSettings.vec4MinMacs ? vec4Layout(strides) : null;
  // On a GPU only where there are blocks enough to fill it: on the H200 the training step's
  // 64-row products ran as 2 workgroups of it, 0.4 ms each (bench/results/gpu-nvidia-h200-2026-12-04.md),
  // and a matrix-vector product would compute 127 wasted rows in every block.
  const blocks = batch * Math.ceil(M / TILED_BLOCK) * Math.ceil(N / TILED_BLOCK);
  const tiled = macs >= matmulSettings.tiledMinMacs && chosen(matmulSettings.tiled) &&
    (matmulSettings.tiled !== 'hardware' || blocks >= matmulSettings.tiledMinBlocks);
  const v = chooseMatmulVariant(
    { subgroups: matmulSettings.subgroups && runtime().ctx.hasSubgroups, rows64: matmulSettings.rows64, tiled },
    !!bias,
    layout,
    strides,
  );
  // A batched product over the binding-size limit goes in parts of the batch (src/engine/split.ts);
  // an operand shared by every batch is bound whole.
  const cut: Record<string, Tensor> = {};
  if (A.batch > 1) cut.A = a;
  if (B.batch > 1 && b instanceof Tensor) cut.B = b;
  for (const part of splitUnits('matmul', batch, cut, { C: out })) {
    runtime().launch({
      kernel: v.kernel,
      entry: v.entry,
      constants: v.constants,
      params: strides,
      // The kernels read bias only with HAS_BIAS, but a pipeline binds every buffer its code names.
      buffers: (() => {
        const aPart = cut.A ? part.bind(a) : a.buffer;
        const bPart = cut.B ? part.bind(cut.B) : bBinding;
        const bound = { bias: bias ? bias.buffer : aPart, c: part.write(out) };
        return v.vec4 ? { a: null, b: null, a4: aPart, b4: bPart, ...bound } : { a: aPart, b: bPart, ...bound };
      })(),
      workgroups: [Math.ceil(N / v.blockN), Math.ceil(M / v.blockM), part.count],
    });
    part.done();
  }
  return out;
}

/** The gradient of a shared (unbatched) operand is summed over the batch. */
function unbatch(g: Tensor, like: Tensor): Tensor {
  return g.ndim > like.ndim ? sum(g.reshape(-1, ...like.shape.slice(-2)), 0) : g;
}

/** torch.matmul for 2-D and batched operands, with optional transposes. */
export function matmul(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const out = mmKernel(a, b, transA, transB);
  // An operand that needs no gradient (a frozen weight, an input image) costs no product.
  return record('matmul', out, [a, b], (g) => [
    a.requiresGrad ? unbatch(transA ? mmKernel(b, g, transB, true) : mmKernel(g, b, false, !transB), a) : null,
    b.requiresGrad ? unbatch(transB ? mmKernel(g, a, true, transA) : mmKernel(a, g, !transA, false), b) : null,
  ]);
}

/** y = x W^T + b for x (..., in), W (out, in), b (out). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  if (weight.ndim !== 2 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new Error(`linear: input ${formatShape(x.shape)} does not fit weight ${formatShape(weight.shape)} (expects last dim ${weight.shape[1]})`);
  }
  const blocks = rowBlocks(weight);
  if (blocks.length > 1) return linearInRowBlocks(x, weight, blocks, bias);
  const x2 = x.ndim === 2 ? x : x.detach().reshape(-1, weight.shape[1]);
  const y2 = mmKernel(x2, weight, false, true, bias);
  const out = x.ndim === 2 ? y2 : y2.reshape([...x.shape.slice(0, -1), weight.shape[0]]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  // An operand that needs no gradient (a frozen network's weight, its input) costs no product.
  return record('linear', out, inputs, (g) => {
    const g2 = g.reshape(-1, weight.shape[0]);
    return [
      x.requiresGrad ? mmKernel(g2, weight, false, false).reshape(x.shape as number[]) : null,
      weight.requiresGrad ? mmKernel(g2, x2, true, false) : null,
      ...(bias ? [bias.requiresGrad ? sum(g2, 0) : null] : []),
    ];
  });
}

/** Rows [start, start + rows) of a 2-D weight, bound as a range of its buffer. */
interface RowBlock {
  of: Tensor;
  start: number;
  rows: number;
}

/**
 * A weight over the binding-size limit (VGG-16's classifier.0: 4096 x 25088, 411 MB; lavapipe
 * binds 128 MiB) is bound as blocks of rows, each a range of its one buffer, every range starting
 * on the device's offset alignment (256 bytes: a multiple of 64 / gcd(columns, 64) rows).
 */
function rowBlocks(weight: Tensor): RowBlock[] {
  const limits = runtime().device.limits;
  const limit = Math.min(runtime().bindingLimit, matmulSettings.maxBlockBytes ?? Infinity);
  const [rows, cols] = weight.shape;
  if (4 * rows * cols <= limit) return [{ of: weight, start: 0, rows }];
  const alignFloats = limits.minStorageBufferOffsetAlignment / 4;
  const alignRows = alignFloats / gcd(cols, alignFloats);
  const per = Math.floor(limit / (4 * cols) / alignRows) * alignRows;
  if (per < 1) {
    throw new Error(`linear: a block of ${alignRows} rows of weight ${formatShape(weight.shape)} is over the binding-size limit of ${limit} bytes`);
  }
  const out: RowBlock[] = [];
  for (let start = 0; start < rows; start += per) out.push({ of: weight, start, rows: Math.min(per, rows - start) });
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** y = concat_k(x W_k^T) + b; dx = sum_k dy_k W_k; dW = concat_k(dy_k^T x) (rowBlockGrad). */
function linearInRowBlocks(x: Tensor, weight: Tensor, blocks: RowBlock[], bias?: Tensor): Tensor {
  const x2 = x.ndim === 2 ? x : x.detach().reshape(-1, weight.shape[1]);
  const y2 = concat(blocks.map((w) => mmKernel(x2, w, false, true)), 1);
  const y = bias ? add(y2.detach(), bias.detach()) : y2;
  const out = x.ndim === 2 ? y : y.reshape([...x.shape.slice(0, -1), weight.shape[0]]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('linear', out, inputs, (g) => {
    const g2 = g.reshape(-1, weight.shape[0]);
    const parts = blocks.map((w) => narrow(g2, 1, w.start, w.rows));
    const dx = parts.map((gk, k) => mmKernel(gk, blocks[k], false, false)).reduce((acc, d) => add(acc, d));
    return [
      dx.reshape(x.shape as number[]),
      weight.requiresGrad ? rowBlockGrad(weight, blocks, parts, x2) : null,
      ...(bias ? [sum(g2, 0)] : []),
    ];
  });
}

/** dW = concat_k(dy_k^T x), each block copied into its rows of one buffer (a copy has no binding limit). */
function rowBlockGrad(weight: Tensor, blocks: RowBlock[], parts: Tensor[], x2: Tensor): Tensor {
  const cols = weight.shape[1];
  const grad = empty(weight.shape);
  blocks.forEach((b, k) => {
    const part = mmKernel(parts[k], x2, true, false);
    runtime().copy(part.buffer, 0, grad.buffer, 4 * b.start * cols, 4 * b.rows * cols);
    part.dispose();
  });
  return grad;
}
