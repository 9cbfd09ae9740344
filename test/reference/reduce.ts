// Float64 references for sum / mean / max over any set of axes.
import { ravel, size, unravel, type Shape } from './ndarray.js';

export type ReduceKind = 'sum' | 'mean' | 'max';

/** Output shape of a reduction (axes already non-negative). */
export function reducedShape(shape: Shape, axes: number[], keepDim: boolean): number[] {
  return shape.flatMap((d, i) => (axes.includes(i) ? (keepDim ? [1] : []) : [d]));
}

export function reduceRef(kind: ReduceKind, x: Float64Array, shape: Shape, axes?: number | number[], keepDim = false): Float64Array {
  const list = axes === undefined ? shape.map((_, i) => i) : Array.isArray(axes) ? axes : [axes];
  const ax = list.map((a) => (a < 0 ? a + shape.length : a));
  const keepShape = reducedShape(shape, ax, true);
  const out = new Float64Array(size(keepShape)).fill(kind === 'max' ? -Infinity : 0);
  for (let i = 0; i < x.length; i++) {
    const idx = unravel(i, shape).map((c, d) => (ax.includes(d) ? 0 : c));
    const o = ravel(idx, keepShape);
    out[o] = kind === 'max' ? Math.max(out[o], x[i]) : out[o] + x[i];
  }
  if (kind === 'mean') {
    const count = ax.reduce((p, a) => p * shape[a], 1);
    for (let i = 0; i < out.length; i++) out[i] /= count;
  }
  return out; // keepDim or not, the flat values are the same
}
