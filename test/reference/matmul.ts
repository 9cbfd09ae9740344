// Float64 references for batched matmul (with transposes and a shared 2-D operand) and linear.
import type { Shape } from './ndarray.js';

/**
 * op(A) op(B) where A is (..., r, c) and B is (..., r, c); op transposes when asked. Leading
 * dims must match, or one operand is 2-D and shared by every batch.
 */
export function matmulRef(
  a: Float64Array, aShape: Shape, b: Float64Array, bShape: Shape, transA = false, transB = false,
): Float64Array {
  const [ar, ac] = aShape.slice(-2);
  const [br, bc] = bShape.slice(-2);
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [K2, N] = transB ? [bc, br] : [br, bc];
  if (K !== K2) throw new Error('reference: inner sizes differ');
  const aBatch = a.length / (ar * ac);
  const bBatch = b.length / (br * bc);
  const batch = Math.max(aBatch, bBatch);
  const out = new Float64Array(batch * M * N);
  const A = (p: number, m: number, k: number) => a[(aBatch === 1 ? 0 : p) * ar * ac + (transA ? k * ac + m : m * ac + k)];
  const B = (p: number, k: number, n: number) => b[(bBatch === 1 ? 0 : p) * br * bc + (transB ? n * bc + k : k * bc + n)];
  for (let p = 0; p < batch; p++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A(p, m, k) * B(p, k, n);
        out[(p * M + m) * N + n] = s;
      }
    }
  }
  return out;
}

/** x W^T + b for x (..., in), W (out, in), b (out). */
export function linearRef(x: Float64Array, w: Float64Array, wShape: Shape, bias?: Float64Array): Float64Array {
  const [outF, inF] = wShape;
  const rows = x.length / inF;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}
