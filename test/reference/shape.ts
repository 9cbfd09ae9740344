// Float64 references for the layout ops: permute, expand, narrow, concat.
import { broadcastIndex, ravel, size, unravel, type Shape } from './ndarray.js';

export function permuteRef(x: Float64Array, shape: Shape, dims: number[]): Float64Array {
  const outShape = dims.map((d) => shape[d]);
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) {
    const o = unravel(i, outShape);
    const src = new Array<number>(shape.length);
    dims.forEach((d, j) => (src[d] = o[j]));
    out[i] = x[ravel(src, shape)];
  }
  return out;
}

export function expandRef(x: Float64Array, shape: Shape, to: Shape): Float64Array {
  const out = new Float64Array(size(to));
  for (let i = 0; i < out.length; i++) out[i] = x[broadcastIndex(unravel(i, to), shape)];
  return out;
}

export function narrowRef(x: Float64Array, shape: Shape, axis: number, start: number, length: number): Float64Array {
  const outShape = shape.map((d, i) => (i === axis ? length : d));
  const out = new Float64Array(size(outShape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, outShape);
    idx[axis] += start;
    out[i] = x[ravel(idx, shape)];
  }
  return out;
}

export function concatRef(xs: Float64Array[], shapes: Shape[], axis: number): Float64Array {
  const total = shapes.reduce((s, sh) => s + sh[axis], 0);
  const outShape = shapes[0].map((d, i) => (i === axis ? total : d));
  const out = new Float64Array(size(outShape));
  let at = 0;
  xs.forEach((x, k) => {
    for (let i = 0; i < x.length; i++) {
      const idx = unravel(i, shapes[k]);
      idx[axis] += at;
      out[ravel(idx, outShape)] = x[i];
    }
    at += shapes[k][axis];
  });
  return out;
}
