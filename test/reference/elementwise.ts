// Float64 references for the elementwise family: unary maps and broadcasting binary maps.
import { broadcastIndex, broadcastShape, size, unravel, type Shape } from './ndarray.js';

export const unaryRef = {
  neg: (v: number) => -v,
  relu: (v: number) => Math.max(v, 0),
  tanh: Math.tanh,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  square: (v: number) => v * v,
  sigmoid: (v: number) => 1 / (1 + Math.exp(-v)),
  softplus: (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v))),
  abs: Math.abs,
  leakyRelu: (v: number) => (v > 0 ? v : 0.2 * v),
} as const;

export function mapUnary(x: Float64Array, f: (v: number) => number): Float64Array {
  return x.map(f);
}

export function broadcastBinary(
  a: Float64Array, aShape: Shape, b: Float64Array, bShape: Shape, f: (u: number, v: number) => number,
): Float64Array {
  const shape = broadcastShape(aShape, bShape);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    out[i] = f(a[broadcastIndex(idx, aShape)], b[broadcastIndex(idx, bShape)]);
  }
  return out;
}

export const binaryRef = {
  add: (u: number, v: number) => u + v,
  sub: (u: number, v: number) => u - v,
  mul: (u: number, v: number) => u * v,
  div: (u: number, v: number) => u / v,
} as const;
