// Reductions (shaders/reduce.wgsl): sum, mean and max over any set of axes, with backward.
import { record } from './grad.js';
import { kernelFamily, type Bound } from '../engine/kernelFamily.js';
import { grid, runtime } from '../engine/runtime.js';
import { splitUnits } from '../engine/split.js';
import { assertFloat, empty, formatShape, type Shape, type Tensor } from '../engine/tensor.js';
import { flatIndex, workgroupReduce } from '../engine/wgsl.js';
import { add, clone, div, equal, mul } from './elementwise.js';
import { expandTo } from './shape.js';

const THREAD_WORKGROUP = 64;
const GROUP_WORKGROUP = 64;
/** Beyond this many reduced elements a whole workgroup shares one output. */
const WIDE_REDUCTION = 256;

type ReduceOp = 'sum' | 'max';

const reduceFamily = kernelFamily('reduce', {
  uniforms: {
    p: {
      outer: 'u32',
      reduced: 'u32',
      inner: 'u32',
      scale: 'f32', // multiplies the result (1/R for a mean)
    },
  },
  layouts: { reduce: { entries: ['perThread', 'perGroup'], uniform: 'p', buffers: { x: 'read f32', out: 'write f32' } } },
  // reduceGroup: perGroup's tree over the workgroup, with the shader's combine().
  prelude: [flatIndex, workgroupReduce('reduceGroup', 'f32', 'combine(a, b)')],
});

export function normalizeAxes(axes: number | number[] | undefined, rank: number, op: string): number[] {
  const list = axes === undefined ? [...Array(rank).keys()] : Array.isArray(axes) ? axes : [axes];
  const out = list.map((a) => (a < 0 ? a + rank : a));
  for (const a of out) {
    if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${op}: axis ${a} is out of range for rank ${rank}`);
  }
  return [...new Set(out)].sort((a, b) => a - b);
}

function reducedShape(shape: Shape, axes: number[], keepDim: boolean): number[] {
  return shape.flatMap((d, i) => (axes.includes(i) ? (keepDim ? [1] : []) : [d]));
}

/**
 * Reduce one axis of x viewed as (outer, R, inner). Over the binding-size limit it goes in parts
 * of `outer` (src/engine/split.ts): each output sums the same elements in the same order. A sum
 * over the leading axis (outer 1: a gradient broadcast over the batch) goes in parts of R instead,
 * the parts' sums added (another order than one launch: float32 rounding differs).
 */
function reduceAxisKernel(op: ReduceOp, x: Tensor, outer: number, reduced: number, inner: number, scale: number): Tensor {
  if (outer === 1 && op === 'sum' && x.buffer.size > runtime().bindingLimit) {
    let total: Tensor | null = null;
    for (const part of splitUnits(op, reduced, { x })) {
      const partial = empty([inner]);
      reduceLaunch(op, part.bind(x), partial.buffer, 1, part.count, inner, scale);
      total = total ? addInto(total, partial) : partial;
    }
    return total!;
  }
  const out = empty([outer * inner]);
  for (const part of splitUnits(op, outer, { x }, { out })) {
    reduceLaunch(op, part.bind(x), part.write(out), part.count, reduced, inner, scale);
    part.done();
  }
  return out;
}

/** sum + partial, both given up. */
function addInto(sum: Tensor, partial: Tensor): Tensor {
  const next = add(sum, partial);
  sum.dispose();
  partial.dispose();
  return next;
}

/** One launch over (outer, reduced, inner) elements of x into out. */
function reduceLaunch(op: ReduceOp, x: Bound, out: Bound, outer: number, reduced: number, inner: number, scale: number): void {
  const wide = reduced >= WIDE_REDUCTION;
  runtime().launch({
    kernel: reduceFamily,
    entry: wide ? 'perGroup' : 'perThread',
    constants: { OP: op === 'max' ? 1 : 0, WORKGROUP: wide ? GROUP_WORKGROUP : THREAD_WORKGROUP },
    params: { outer, reduced, inner, scale },
    buffers: { x, out },
    workgroups: wide ? grid(outer * inner, 1) : grid(outer * inner, THREAD_WORKGROUP),
  });
}

/** Reduce `axes` (sorted) without autograd; returns the keepDim shape. */
function reduceKernel(op: ReduceOp, x: Tensor, axes: number[], scale: number): Tensor {
  // Merge runs of adjacent reduced axes into one, then reduce the runs from the last to the first.
  const dims: { size: number; reduced: boolean }[] = [];
  x.shape.forEach((size, i) => {
    const reduced = axes.includes(i);
    const last = dims.at(-1);
    if (last && last.reduced && reduced) last.size *= size;
    else dims.push({ size, reduced });
  });
  let current = x;
  let first = true;
  for (let i = dims.length - 1; i >= 0; i--) {
    if (!dims[i].reduced) continue;
    const outer = dims.slice(0, i).reduce((p, d) => p * d.size, 1);
    const inner = dims.slice(i + 1).reduce((p, d) => p * d.size, 1);
    const next = reduceAxisKernel(op, current, outer, dims[i].size, inner, first ? scale : 1);
    if (current !== x) current.dispose();
    current = next;
    first = false;
    dims[i].size = 1;
  }
  return current.reshape(reducedShape(x.shape, axes, true));
}

function reduce(op: ReduceOp, name: string, x: Tensor, axes: number | number[] | undefined, keepDim: boolean) {
  assertFloat(x, name);
  const ax = normalizeAxes(axes, x.ndim, name);
  const count = ax.reduce((p, a) => p * x.shape[a], 1);
  if (count === 0) throw new Error(`${name}: no elements to reduce over in ${formatShape(x.shape)}`);
  const keepShape = reducedShape(x.shape, ax, true);
  const kept = ax.length === 0 ? clone(x) : reduceKernel(op, x, ax, name === 'mean' ? 1 / count : 1);
  return { out: kept.reshape(reducedShape(x.shape, ax, keepDim)), kept, keepShape, count, ax };
}

export function sum(x: Tensor, axes?: number | number[], keepDim = false): Tensor {
  const { out, keepShape } = reduce('sum', 'sum', x, axes, keepDim);
  return record('sum', out, [x], (g) => [expandTo(g.reshape(keepShape), x.shape)]);
}

export function mean(x: Tensor, axes?: number | number[], keepDim = false): Tensor {
  const { out, keepShape, count } = reduce('sum', 'mean', x, axes, keepDim);
  return record('mean', out, [x], (g) => [expandTo(mul(g, 1 / count).reshape(keepShape), x.shape)]);
}

/** Maximum over axes; the gradient is shared equally among tied maxima. */
export function max(x: Tensor, axes?: number | number[], keepDim = false): Tensor {
  const { out, kept, keepShape, ax } = reduce('max', 'max', x, axes, keepDim);
  return record('max', out, [x], (g) => {
    const mask = equal(x, kept);
    const ties = reduceKernel('sum', mask, ax, 1);
    return [mul(mask, div(g.reshape(keepShape), ties))];
  });
}
