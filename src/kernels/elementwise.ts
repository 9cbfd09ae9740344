// Elementwise ops (shaders/elementwise.wgsl): unary maps, broadcasting binary maps, and their
// backward rules, each right below its forward.
import { record } from './grad.js';
import { kernelFamily, type Bound, type ParamValues } from '../engine/kernelFamily.js';
import { splitUnits } from '../engine/split.js';
import { grid, MAX_WORKGROUPS_PER_DIM, runtime } from '../engine/runtime.js';
import { assertFloat, empty, formatShape, numel, type Shape, type Tensor } from '../engine/tensor.js';
import { flatIndex, nan, stridedOffsets } from '../engine/wgsl.js';
import { sum } from './reduce.js';

const WORKGROUP = 256;
const MAX_RANK = 8;
/** Elements per thread of the vec4 entry points (VEC4_PER_THREAD vec4s). */
const PER_VEC4_THREAD = 16;

/**
 * The ops: name -> a WGSL expression of `v` (unary) or `u, v` (binary), which may read the
 * uniforms p.scalar and p.scalar2 and call the helpers of shaders/elementwise.wgsl. An op's code,
 * the override OP, is its place in its table, and the shader's switch is rendered from the same
 * table (opSwitch), so the two cannot disagree.
 */
const UNARY = {
  neg: '-v',
  relu: 'max(v, 0.0)',
  tanh: 'tanh(v)',
  exp: 'exp(v)',
  log: 'log(v)',
  sqrt: 'sqrt(v)',
  square: 'v * v',
  sigmoid: 'sigmoid(v)',
  softplus: 'softplus(v)',
  abs: 'abs(v)',
  addScalar: 'v + p.scalar',
  mulScalar: 'v * p.scalar',
  powScalar: 'powScalar(v, p.scalar)',
  copy: 'v',
  affine: 'v * p.scalar + p.scalar2',
  clamp: 'clamp(v, p.scalar, p.scalar2)',
  leakyRelu: 'select(v * p.scalar, v, v > 0.0)',
} as const;
const BINARY = {
  add: 'u + v',
  sub: 'u - v',
  mul: 'u * v',
  div: 'u / v',
  // Backward rules: u is the incoming gradient, v what the forward saved.
  reluGrad: 'select(0.0, u, v > 0.0)', // relu'(x) with v = x
  tanhGrad: 'u * (1.0 - v * v)', // tanh' with v = tanh(x)
  sigmoidGrad: 'u * v * (1.0 - v)', // sigmoid' with v = sigmoid(x)
  softplusGrad: 'u * sigmoid(v)', // softplus' with v = x
  equal: 'select(0.0, 1.0, u == v)', // equality mask (max backward)
  absGrad: 'u * sign(v)', // abs' with v = x
  clampGrad: 'select(0.0, u, v >= p.scalar && v <= p.scalar2)', // clamp' with v = x
  leakyReluGrad: 'select(u * p.scalar, u, v > 0.0)', // leakyRelu' with v = x
} as const;

/** The OP code of `op` in `table`. */
function opCode(table: Record<string, string>, op: string): number {
  return Object.keys(table).indexOf(op);
}

/** `fn name(args) -> f32`: a case per op of `table` under its code; `fallback` for any other. */
function opSwitch(name: string, args: string, table: Record<string, string>, fallback: string): string {
  const cases = Object.entries(table).map(([op, wgsl]) => `    case ${opCode(table, op)}u: { return ${wgsl}; } // ${op}`);
  const body = ['  switch OP {', ...cases, `    default: { return ${fallback}; }`, '  }'];
  return ['', `fn ${name}(${args}) -> f32 {`, ...body, '}'].join('\n');
}

const elementwise = kernelFamily('elementwise', {
  uniforms: {
    p: {
      shape: { vec4u: 2 }, // output shape, rank <= 8 (broadcasting entry points only)
      aStrides: { vec4u: 2 }, // element strides of a per output dim (0 where broadcast)
      bStrides: { vec4u: 2 },
      rank: 'u32',
      n: 'u32',
      scalar: 'f32',
      scalar2: 'f32',
    },
  },
  layouts: {
    unary: { entries: ['unary', 'unary4'], uniform: 'p', buffers: { x: 'read f32 vec4f', y: 'write f32 vec4f' } },
    binary: {
      entries: ['binarySame', 'binarySame4', 'binaryBroadcast', 'binaryBroadcast2'],
      uniform: 'p',
      buffers: { a: 'read f32 vec4f', b: 'read f32 vec4f', out: 'write f32 vec4f' },
    },
    fill: { entries: ['fill', 'fill4'], uniform: 'p', buffers: { filled: 'write f32 vec4f' } },
  },
  prelude: [
    flatIndex,
    nan,
    stridedOffsets,
    opSwitch('unaryOp', 'v: f32', UNARY, 'v'),
    opSwitch('binaryOp', 'u: f32, v: f32', BINARY, 'u'),
  ],
});

/** The vec4 entry point and its grid where n is a multiple of 4, else the scalar one. */
function layout(entry: string, n: number): { entry: string; workgroups: [number, number] } {
  return n % 4 === 0
    ? { entry: `${entry}4`, workgroups: grid(Math.ceil(n / PER_VEC4_THREAD), WORKGROUP) }
    : { entry, workgroups: grid(n, WORKGROUP) };
}

/** Output shape and operand strides of the broadcasting entry points (collapse). */
interface Dims {
  shape: number[];
  a: number[];
  b: number[];
}

function params(n: number, scalar: number, scalar2: number, dims: Dims = { shape: [], a: [], b: [] }): ParamValues {
  return { shape: dims.shape, aStrides: dims.a, bStrides: dims.b, rank: dims.shape.length, n, scalar, scalar2 };
}

/**
 * Operands over the binding-size limit go in parts of their flat elements (src/engine/split.ts;
 * parts start on multiples of 64 elements, so a vec4 entry point keeps whole vec4s).
 */
function unaryKernel(op: keyof typeof UNARY, x: Tensor, s1 = 0, s2 = 0): Tensor {
  assertFloat(x, op);
  const y = empty(x.shape);
  for (const part of splitUnits(op, x.size, { x, y })) {
    runtime().launch({
      kernel: elementwise,
      ...layout('unary', part.count),
      constants: { OP: opCode(UNARY, op), WORKGROUP },
      params: params(part.count, s1, s2),
      buffers: { x: part.bind(x), y: part.write(y) },
    });
    part.done();
  }
  return y;
}

export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together`);
    }
    out.push(da === 1 ? db : da);
  }
  if (rank > MAX_RANK) throw new Error(`${op}: rank ${rank} exceeds the supported ${MAX_RANK}`);
  return out;
}

/** Element strides of `shape` seen from a right-aligned output of rank `rank`, 0 where broadcast. */
function broadcastStrides(shape: Shape, out: Shape): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = out.length - shape.length + i;
    strides[d] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/**
 * The same index map over fewer dimensions: neighbours merge where both operands step through
 * them as through one (a per-channel scale of a (O, C, 3, 3) weight becomes (O, 9C) by (O, 1)).
 * Every dimension costs the broadcast kernel an integer division per element, which lavapipe
 * does one lane at a time.
 */
function collapse(shape: Shape, a: number[], b: number[]): Dims {
  const out: Dims = { shape: [], a: [], b: [] };
  shape.forEach((size, d) => {
    if (size === 1) return; // steps nowhere
    const last = out.shape.length - 1;
    if (last >= 0 && out.a[last] === a[d] * size && out.b[last] === b[d] * size) {
      out.shape[last] *= size;
      out.a[last] = a[d];
      out.b[last] = b[d];
    } else {
      out.shape.push(size);
      out.a.push(a[d]);
      out.b.push(b[d]);
    }
  });
  return out;
}

/**
 * Operands of one shape over the binding-size limit go in parts of their flat elements; a
 * broadcast goes in parts of the output's first axis, each operand that steps along it bound as
 * its part, one broadcast along it bound whole (src/engine/split.ts).
 */
function binaryKernel(op: keyof typeof BINARY, a: Tensor, b: Tensor, s1 = 0, s2 = 0): Tensor {
  assertFloat(a, op);
  assertFloat(b, op);
  const shape = broadcastShapes(a.shape, b.shape, op);
  const out = empty(shape);
  const n = numel(shape);
  if (a.shape.join() === b.shape.join()) {
    for (const part of splitUnits(op, n, { a, b, out })) {
      runtime().launch({
        kernel: elementwise,
        ...layout('binarySame', part.count),
        constants: { OP: opCode(BINARY, op), WORKGROUP },
        params: params(part.count, s1, s2),
        buffers: { a: part.bind(a), b: part.bind(b), out: part.write(out) },
      });
      part.done();
    }
    return out;
  }
  // Operands that step along the output's first axis (not broadcast there) are cut with it.
  const along = (t: Tensor) => shape.length > 0 && t.ndim === shape.length && t.shape[0] === shape[0] && shape[0] > 1;
  const cut = { out, ...(along(a) ? { a } : {}), ...(along(b) ? { b } : {}) };
  for (const part of splitUnits(op, shape.length > 0 ? shape[0] : 1, cut)) {
    const partOf = (t: Tensor): Shape => (part.whole || !along(t) ? t.shape : [part.count, ...t.shape.slice(1)]);
    const partShape = partOf(out);
    broadcastLaunch(op, partOf(a), partOf(b), partShape, s1, s2, {
      a: along(a) ? part.bind(a) : a.buffer, b: along(b) ? part.bind(b) : b.buffer, out: part.write(out),
    });
    part.done();
  }
  return out;
}

/** One launch of a broadcasting entry point for operands of shapes aShape and bShape into shape. */
function broadcastLaunch(
  op: keyof typeof BINARY, aShape: Shape, bShape: Shape, shape: Shape, s1: number, s2: number, buffers: Record<string, Bound>,
): void {
  const n = numel(shape);
  let dims = collapse(shape, broadcastStrides(aShape, shape), broadcastStrides(bShape, shape));
  let launch: { entry: string; workgroups: [number, number] };
  if (dims.shape.length <= 2 && n > 0) {
    // As (rows, columns): a row per grid row y.
    const pad = 2 - dims.shape.length;
    dims = {
      shape: [...new Array<number>(pad).fill(1), ...dims.shape],
      a: [...new Array<number>(pad).fill(0), ...dims.a],
      b: [...new Array<number>(pad).fill(0), ...dims.b],
    };
    launch = { entry: 'binaryBroadcast2', workgroups: [Math.ceil(dims.shape[1] / WORKGROUP), dims.shape[0]] };
    if (launch.workgroups[0] > MAX_WORKGROUPS_PER_DIM || launch.workgroups[1] > MAX_WORKGROUPS_PER_DIM) {
      launch = { entry: 'binaryBroadcast', workgroups: grid(n, WORKGROUP) };
    }
  } else launch = { entry: 'binaryBroadcast', workgroups: grid(n, WORKGROUP) };
  runtime().launch({
    kernel: elementwise,
    ...launch,
    constants: { OP: opCode(BINARY, op), WORKGROUP },
    params: params(n, s1, s2, dims),
    buffers,
  });
}

/** Sum a broadcast gradient back down to the shape of the operand it belongs to. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < g.ndim; d++) {
    if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) axes.push(d);
  }
  return sum(g, axes, true).reshape(shape as number[]);
}

// ---- binary ----

export function add(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return addScalar(a, b);
  const out = binaryKernel('add', a, b);
  return record('add', out, [a, b], (g) => [sumToShape(g, a.shape), sumToShape(g, b.shape)]);
}

export function sub(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return addScalar(a, -b);
  const out = binaryKernel('sub', a, b);
  return record('sub', out, [a, b], (g) => [sumToShape(g, a.shape), sumToShape(neg(g), b.shape)]);
}

export function mul(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return mulScalar(a, b);
  const out = binaryKernel('mul', a, b);
  return record('mul', out, [a, b], (g) => [
    sumToShape(binaryKernel('mul', g, b), a.shape),
    sumToShape(binaryKernel('mul', g, a), b.shape),
  ]);
}

export function div(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return mulScalar(a, 1 / b);
  const out = binaryKernel('div', a, b);
  return record('div', out, [a, b], (g) => [
    sumToShape(binaryKernel('div', g, b), a.shape),
    // d(a/b)/db = -(a/b)/b
    sumToShape(neg(binaryKernel('div', binaryKernel('mul', g, out), b)), b.shape),
  ]);
}

/** 1 where a == b, else 0 (no gradient). */
export function equal(a: Tensor, b: Tensor): Tensor {
  return binaryKernel('equal', a, b);
}

// ---- unary ----

export function neg(x: Tensor): Tensor {
  return record('neg', unaryKernel('neg', x), [x], (g) => [unaryKernel('neg', g)]);
}

export function relu(x: Tensor): Tensor {
  return record('relu', unaryKernel('relu', x), [x], (g) => [reluBackward(g, x)]);
}

/** F.leaky_relu: x where x > 0, else negativeSlope * x (DCGAN's discriminator uses 0.2). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return record('leakyRelu', unaryKernel('leakyRelu', x, negativeSlope), [x], (g) => [
    binaryKernel('leakyReluGrad', g, x, negativeSlope),
  ]);
}

export function tanh(x: Tensor): Tensor {
  const y = unaryKernel('tanh', x);
  return record('tanh', y, [x], (g) => [binaryKernel('tanhGrad', g, y)]);
}

export function sigmoid(x: Tensor): Tensor {
  const y = unaryKernel('sigmoid', x);
  return record('sigmoid', y, [x], (g) => [binaryKernel('sigmoidGrad', g, y)]);
}

export function softplus(x: Tensor): Tensor {
  return record('softplus', unaryKernel('softplus', x), [x], (g) => [binaryKernel('softplusGrad', g, x)]);
}

export function exp(x: Tensor): Tensor {
  const y = unaryKernel('exp', x);
  return record('exp', y, [x], (g) => [binaryKernel('mul', g, y)]);
}

export function log(x: Tensor): Tensor {
  return record('log', unaryKernel('log', x), [x], (g) => [binaryKernel('div', g, x)]);
}

export function sqrt(x: Tensor): Tensor {
  const y = unaryKernel('sqrt', x);
  return record('sqrt', y, [x], (g) => [binaryKernel('div', unaryKernel('mulScalar', g, 0.5), y)]);
}

export function square(x: Tensor): Tensor {
  return record('square', unaryKernel('square', x), [x], (g) => [
    binaryKernel('mul', g, unaryKernel('mulScalar', x, 2)),
  ]);
}

export function abs(x: Tensor): Tensor {
  return record('abs', unaryKernel('abs', x), [x], (g) => [binaryKernel('absGrad', g, x)]);
}

export function clamp(x: Tensor, min: number, max: number): Tensor {
  return record('clamp', unaryKernel('clamp', x, min, max), [x], (g) => [binaryKernel('clampGrad', g, x, min, max)]);
}

export function addScalar(x: Tensor, s: number): Tensor {
  return record('addScalar', unaryKernel('addScalar', x, s), [x], (g) => [g]);
}

export function mulScalar(x: Tensor, s: number): Tensor {
  return record('mulScalar', unaryKernel('mulScalar', x, s), [x], (g) => [unaryKernel('mulScalar', g, s)]);
}

/** x * scale + shift in one pass. */
export function affine(x: Tensor, scale: number, shift: number): Tensor {
  return record('affine', unaryKernel('affine', x, scale, shift), [x], (g) => [unaryKernel('mulScalar', g, scale)]);
}

export function powScalar(x: Tensor, p: number): Tensor {
  return record('powScalar', unaryKernel('powScalar', x, p), [x], (g) => [
    binaryKernel('mul', g, unaryKernel('mulScalar', unaryKernel('powScalar', x, p - 1), p)),
  ]);
}

/** A copy with its own storage (differentiable). */
export function clone(x: Tensor): Tensor {
  return record('clone', unaryKernel('copy', x), [x], (g) => [g]);
}

/** Fill a (possibly new) tensor's storage with one value. */
export function fillKernel(t: Tensor, value: number): Tensor {
  for (const part of splitUnits('fill', t.size, { filled: t })) {
    runtime().launch({
      kernel: elementwise,
      ...layout('fill', part.count),
      constants: { WORKGROUP },
      params: params(part.count, value, 0),
      buffers: { filled: part.write(t) },
    });
    part.done();
  }
  return t;
}

/** g * (x > 0): relu's backward, without autograd (for ops with a fused relu). */
export function reluBackward(g: Tensor, x: Tensor): Tensor {
  return binaryKernel('reluGrad', g, x);
}
