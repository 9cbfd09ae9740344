// Layout ops (shaders/copy.wgsl): permute, transpose, expand, slice, concat, split, squeeze.
// Tensors are always contiguous, so these copy; reshape is the free view (Tensor.reshape).
import { record } from './grad.js';
import { grid, runtime } from '../engine/runtime.js';
import { empty, formatShape, numel, type Shape, type Tensor } from '../engine/tensor.js';
import { copyFamily } from './copy.js';
import { fillKernel, sumToShape } from './elementwise.js';

const WORKGROUP = 256;

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Copy a region of `src` into `dst` (both raw storages of float32 or int32 elements). */
export function copyRegion(
  src: Tensor, srcOffset: number, srcStrides: number[],
  dst: Tensor, dstOffset: number, dstStrides: number[],
  region: Shape,
): void {
  if (region.length > 8) throw new Error(`copy: rank ${region.length} exceeds 8`);
  const n = numel(region);
  if (n === 0) return;
  runtime().launch({
    kernel: copyFamily,
    entry: 'stridedCopy',
    constants: { WORKGROUP },
    params: { shape: region, srcStrides, dstStrides, rank: region.length, n, srcOffset, dstOffset },
    buffers: { src: src.buffer, dst: dst.buffer },
    workgroups: grid(n, WORKGROUP),
  });
}

/** Materialise a broadcast of `x` to `shape` (numpy rules). */
export function expandTo(x: Tensor, shape: Shape): Tensor {
  if (x.shape.join() === shape.join()) return x;
  const lead = shape.length - x.ndim;
  const xs = contiguousStrides(x.shape);
  const srcStrides = shape.map((d, i) => {
    if (i < lead) return 0;
    const own = x.shape[i - lead];
    if (own !== d && own !== 1) throw new Error(`expand: cannot broadcast ${formatShape(x.shape)} to ${formatShape(shape)}`);
    return own === 1 ? 0 : xs[i - lead];
  });
  const out = empty(shape, x.dtype);
  copyRegion(x, 0, srcStrides, out, 0, contiguousStrides(shape), shape);
  return record('expand', out, [x], (g) => [sumToShape(g, x.shape)]);
}

export function permute(x: Tensor, dims: number[]): Tensor {
  if (dims.length !== x.ndim || [...dims].sort().some((d, i) => d !== i)) {
    throw new Error(`permute: [${dims}] is not a permutation of the ${x.ndim} axes of ${formatShape(x.shape)}`);
  }
  const xs = contiguousStrides(x.shape);
  const shape = dims.map((d) => x.shape[d]);
  const out = empty(shape, x.dtype);
  copyRegion(x, 0, dims.map((d) => xs[d]), out, 0, contiguousStrides(shape), shape);
  const inverse = dims.map((_, i) => dims.indexOf(i));
  return record('permute', out, [x], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const r = x.ndim;
  const dims = [...Array(r).keys()];
  const i = a < 0 ? a + r : a;
  const j = b < 0 ? b + r : b;
  [dims[i], dims[j]] = [dims[j], dims[i]];
  return permute(x, dims);
}

/** Elements start..start+length-1 along `axis` (torch.narrow). */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const ax = axis < 0 ? axis + x.ndim : axis;
  if (ax < 0 || ax >= x.ndim || start < 0 || length < 0 || start + length > x.shape[ax]) {
    throw new Error(`narrow: [${start}, ${start + length}) along axis ${axis} is outside ${formatShape(x.shape)}`);
  }
  const shape = x.shape.map((d, i) => (i === ax ? length : d));
  const xs = contiguousStrides(x.shape);
  const out = empty(shape, x.dtype);
  copyRegion(x, start * xs[ax], xs, out, 0, contiguousStrides(shape), shape);
  return record('narrow', out, [x], (g) => {
    const gx = fillKernel(empty(x.shape), 0);
    copyRegion(g, 0, contiguousStrides(shape), gx, start * xs[ax], xs, shape);
    return [gx];
  });
}

export function concat(tensors: Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new Error('concat: no tensors given');
  const first = tensors[0];
  const ax = axis < 0 ? axis + first.ndim : axis;
  for (const t of tensors) {
    if (t.dtype !== first.dtype) {
      throw new Error(`concat: ${first.describe()} and ${t.describe()} have different dtypes`);
    }
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new Error(`concat along axis ${axis}: ${tensors.map((u) => formatShape(u.shape)).join(', ')} do not fit together`);
    }
  }
  const shape = first.shape.map((d, i) => (i === ax ? tensors.reduce((s, t) => s + t.shape[ax], 0) : d));
  const out = empty(shape, first.dtype);
  const os = contiguousStrides(shape);
  let at = 0;
  for (const t of tensors) {
    copyRegion(t, 0, contiguousStrides(t.shape), out, at * os[ax], os, t.shape);
    at += t.shape[ax];
  }
  const sizes = tensors.map((t) => t.shape[ax]);
  return record('concat', out, tensors, (g) => split(g, sizes, ax));
}

export function split(x: Tensor, sizes: number[], axis = 0): Tensor[] {
  const ax = axis < 0 ? axis + x.ndim : axis;
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== x.shape[ax]) throw new Error(`split: sizes [${sizes}] do not add up to ${x.shape[ax]} (axis ${axis} of ${formatShape(x.shape)})`);
  let at = 0;
  return sizes.map((size) => {
    const part = narrow(x, ax, at, size);
    at += size;
    return part;
  });
}

export function squeeze(x: Tensor, axis: number): Tensor {
  const ax = axis < 0 ? axis + x.ndim : axis;
  if (x.shape[ax] !== 1) throw new Error(`squeeze: axis ${axis} of ${formatShape(x.shape)} is not 1`);
  return x.reshape(x.shape.filter((_, i) => i !== ax));
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const ax = axis < 0 ? axis + x.ndim + 1 : axis;
  const shape = [...x.shape];
  shape.splice(ax, 0, 1);
  return x.reshape(shape);
}

export function flatten(x: Tensor, startAxis = 1): Tensor {
  return x.reshape([...x.shape.slice(0, startAxis), -1]);
}
