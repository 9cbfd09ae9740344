// Layout ops (shaders/copy.wgsl): permute, transpose, expand, slice, concat, split, squeeze.
// Tensors are always contiguous, so these copy; reshape is the free view (Tensor.reshape).
import { record } from './grad.js';
import type { Bound } from '../engine/kernelFamily.js';
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

/**
 * Copy a region of `src` into `dst` (both raw storages of float32 or int32 elements). Where either
 * is over the binding-size limit, the region goes in parts of its first axis: each part binds the
 * span of each buffer it touches from the 256-byte boundary below it, the rest of the offset going
 * into the kernel's own srcOffset / dstOffset, so no part needs an aligned start.
 */
export function copyRegion(
  src: Tensor, srcOffset: number, srcStrides: number[],
  dst: Tensor, dstOffset: number, dstStrides: number[],
  region: Shape,
): void {
  if (numel(region) === 0) return;
  ({ region, srcStrides, dstStrides } = mergeAxes(region, srcStrides, dstStrides));
  if (region.length > 8) throw new Error(`copy: rank ${region.length} exceeds 8`);
  const rt = runtime();
  const limit = rt.bindingLimit;
  const launch = (shape: Shape, from: Bound, fromOffset: number, to: Bound, toOffset: number) => {
    // A thread a run of up to RUN elements of the last axis (shaders/copy.wgsl).
    const runs = Math.ceil(shape[shape.length - 1] / COPY_RUN);
    const threads = (numel(shape) / shape[shape.length - 1]) * runs;
    rt.launch({
      kernel: copyFamily,
      entry: 'stridedCopy',
      constants: { WORKGROUP },
      params: { shape, srcStrides, dstStrides, rank: shape.length, n: threads, runs, srcOffset: fromOffset, dstOffset: toOffset },
      buffers: { src: from, dst: to },
      workgroups: grid(threads, WORKGROUP),
    });
  };
  if (src.buffer.size <= limit && dst.buffer.size <= limit) {
    launch(region, src.buffer, srcOffset, dst.buffer, dstOffset);
    return;
  }
  const align = rt.device.limits.minStorageBufferOffsetAlignment / 4;
  // Elements a part of `count` along the first axis spans in a buffer with these strides.
  const span = (strides: number[], count: number) => 1 + (count - 1) * strides[0] + region.slice(1).reduce((t, d, i) => t + (d - 1) * strides[i + 1], 0);
  const fits = (count: number) => [srcStrides, dstStrides].every((st) => 4 * (align - 1 + span(st, count)) <= limit);
  let count = region[0];
  while (count > 1 && !fits(count)) count = Math.ceil(count / 2);
  if (!fits(count)) {
    const [what, t] = 4 * span(srcStrides, 1) > limit - 4 * align ? ['source', src] : ['destination', dst];
    throw new Error(
      `copy: one slice along the first axis of the region ${formatShape(region)} spans more of the ${what} ${t.describe()} ` +
        `than the binding-size limit of ${limit} bytes (maxStorageBufferBindingSize)`,
    );
  }
  const range = (t: Tensor, first: number, strides: number[], rows: number): [Bound, number] => {
    const base = Math.floor(first / align) * align;
    return [{ buffer: t.buffer, offset: 4 * base, size: 4 * (first - base + span(strides, rows)) }, first - base];
  };
  for (let start = 0; start < region[0]; start += count) {
    const rows = Math.min(count, region[0] - start);
    const [from, fromOffset] = range(src, srcOffset + start * srcStrides[0], srcStrides, rows);
    const [to, toOffset] = range(dst, dstOffset + start * dstStrides[0], dstStrides, rows);
    launch([rows, ...region.slice(1)], from, fromOffset, to, toOffset);
  }
}

/** shaders/copy.wgsl's RUN: the elements of the last axis one thread copies. */
const COPY_RUN = 16;

/**
 * The same copy over fewer axes: axes of one element dropped, and each axis merged into the next
 * where both operands step over it as over one longer axis (a concat's image planes, a permute's
 * untouched trailing axes). The kernel divides once per axis, and its runs follow the last one.
 */
function mergeAxes(region: Shape, srcStrides: number[], dstStrides: number[]): { region: number[]; srcStrides: number[]; dstStrides: number[] } {
  const axes = region.flatMap((d, i) => (d === 1 ? [] : [{ d, s: srcStrides[i], t: dstStrides[i] }]));
  if (axes.length === 0) return { region: [1], srcStrides: [1], dstStrides: [1] };
  const merged = [axes[axes.length - 1]];
  for (let i = axes.length - 2; i >= 0; i--) {
    const inner = merged[0];
    const a = axes[i];
    if (a.s === inner.s * inner.d && a.t === inner.t * inner.d) merged[0] = { d: a.d * inner.d, s: inner.s, t: inner.t };
    else merged.unshift(a);
  }
  return { region: merged.map((a) => a.d), srcStrides: merged.map((a) => a.s), dstStrides: merged.map((a) => a.t) };
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
