// Matrix products (shaders/matmul.wgsl): batched matmul with either operand transposed, and
// linear (x W^T + b with the bias fused), each with its backward rule.
import { record } from './grad.js';
import { runtime, Uniforms } from '../engine/runtime.js';
import { assertFloat, empty, formatShape, type Tensor } from '../engine/tensor.js';
import { sum } from './reduce.js';

const TILE = 8;
const PER_THREAD = 4;
/** matmulShared: one 8-lane workgroup per 32 x 32 block of C. */
const SHARED_BLOCK = 32;

/**
 * Use the subgroup variant (shaders/matmulSubgroups.wgsl) where the device has subgroups. The
 * suite switches this off to cover the plain kernel too.
 */
export const matmulSettings = { subgroups: true, rows64: false };

export interface MatmulVariant {
  family: string;
  entry: string;
  constants: Record<string, number>;
  /** Rows and columns of C per workgroup. */
  blockM: number;
  blockN: number;
}

/**
 * The kernel for a product of M x K by K x N (pure: the bench and tests can drive it).
 * matmulShared shares A's reads across a subgroup (8 reads per 128 multiply-adds per lane, the
 * plain kernel 8 per 16); it needs 'subgroups' at least 8 wide.
 */
export function chooseMatmulVariant(features: { subgroups: boolean; rows64?: boolean }, hasBias: boolean): MatmulVariant {
  const bias = hasBias ? 1 : 0;
  if (features.subgroups && features.rows64) {
    return {
      family: 'matmul+matmulSubgroups',
      entry: 'matmulShared64',
      constants: { HAS_BIAS: bias },
      blockM: 2 * SHARED_BLOCK,
      blockN: SHARED_BLOCK,
    };
  }
  if (features.subgroups) {
    return {
      family: 'matmul+matmulSubgroups',
      entry: 'matmulShared',
      constants: { HAS_BIAS: bias },
      blockM: SHARED_BLOCK,
      blockN: SHARED_BLOCK,
    };
  }
  return {
    family: 'matmul',
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

function asBatched(t: Tensor, name: string): Operand {
  if (t.ndim < 2) throw new Error(`matmul: ${name} must have at least 2 dimensions, got ${formatShape(t.shape)}`);
  const batch = t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  return { batch, rows: t.shape[t.ndim - 2], cols: t.shape[t.ndim - 1] };
}

/**
 * op(A) op(B) for A (..., rows, cols), B (..., rows, cols); op transposes when asked.
 * Leading dims must match, or one side may have none (it is then shared by every batch).
 */
export function mmKernel(a: Tensor, b: Tensor, transA: boolean, transB: boolean, bias?: Tensor): Tensor {
  assertFloat(a, 'matmul');
  assertFloat(b, 'matmul');
  const A = asBatched(a, 'A');
  const B = asBatched(b, 'B');
  const [M, K] = transA ? [A.cols, A.rows] : [A.rows, A.cols];
  const [K2, N] = transB ? [B.cols, B.rows] : [B.rows, B.cols];
  const lead = a.ndim > 2 ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
  const badBatch = a.ndim > 2 && b.ndim > 2 && a.shape.slice(0, -2).join() !== b.shape.slice(0, -2).join();
  if (K !== K2 || badBatch) {
    throw new Error(
      `matmul: ${formatShape(a.shape)}${transA ? '^T' : ''} and ${formatShape(b.shape)}${transB ? '^T' : ''} do not fit (inner sizes ${K} and ${K2})`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== N)) {
    throw new Error(`linear: bias ${formatShape(bias.shape)} must have shape [${N}]`);
  }
  const batch = Math.max(A.batch, B.batch);
  const out = empty([...lead, M, N]);
  const [aRow, aCol] = transA ? [1, A.cols] : [A.cols, 1];
  const [bRow, bCol] = transB ? [1, B.cols] : [B.cols, 1];
  const v = chooseMatmulVariant({ subgroups: matmulSettings.subgroups && runtime().ctx.hasSubgroups, rows64: matmulSettings.rows64 }, !!bias);
  runtime().launch({
    family: v.family,
    entry: v.entry,
    constants: v.constants,
    uniforms: new Uniforms()
      .u32(M, N, K)
      .u32(A.batch === 1 ? 0 : A.rows * A.cols, aRow, aCol)
      .u32(B.batch === 1 ? 0 : B.rows * B.cols, bRow, bCol)
      .build(),
    buffers: [a.buffer, b.buffer, (bias ?? a).buffer, out.buffer],
    workgroups: [Math.ceil(N / v.blockN), Math.ceil(M / v.blockM), batch],
  });
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
  return record('matmul', out, [a, b], (g) => [
    unbatch(transA ? mmKernel(b, g, transB, true) : mmKernel(g, b, false, !transB), a),
    unbatch(transB ? mmKernel(g, a, true, transA) : mmKernel(a, g, !transA, false), b),
  ]);
}

/** y = x W^T + b for x (..., in), W (out, in), b (out). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  if (weight.ndim !== 2 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new Error(`linear: input ${formatShape(x.shape)} does not fit weight ${formatShape(weight.shape)} (expects last dim ${weight.shape[1]})`);
  }
  const x2 = x.ndim === 2 ? x : x.detach().reshape(-1, weight.shape[1]);
  const y2 = mmKernel(x2, weight, false, true, bias);
  const out = x.ndim === 2 ? y2 : y2.reshape([...x.shape.slice(0, -1), weight.shape[0]]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('linear', out, inputs, (g) => {
    const g2 = g.reshape(-1, weight.shape[0]);
    return [
      mmKernel(g2, weight, false, false).reshape(x.shape as number[]),
      mmKernel(g2, x2, true, false),
      ...(bias ? [sum(g2, 0)] : []),
    ];
  });
}
