// Tensors held in host (CPU) memory, as the checkpoint readers produce them,
// and the one error type those readers throw.

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

export type HostData =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** A contiguous row-major tensor. float16/bfloat16 data is decoded into a
 * Float32Array (exactly: every half value is a float32); `dtype` still
 * records the stored type so a writer can encode it back. bool is 0/1 bytes. */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: HostData;
}

/** Thrown for any checkpoint that cannot be read; names the file. */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

/** Bytes per element as stored in a file. */
export const ITEM_SIZE: Readonly<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

type HostArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | Int32ArrayConstructor
  | Int16ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor;

/** The array type that holds each dtype in memory. */
const HOST_ARRAY: Readonly<Record<DType, HostArrayConstructor>> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Float32Array,
  bfloat16: Float32Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && Object.hasOwn(ITEM_SIZE, x);
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Structural check: a valid dtype, an integer shape, and data of the right
 * array type and length for that shape. */
export function isHostTensor(x: unknown): x is HostTensor {
  if (typeof x !== 'object' || x === null) return false;
  const t = x as Partial<HostTensor>;
  if (!isDType(t.dtype) || !Array.isArray(t.shape)) return false;
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return false;
  return t.data instanceof HOST_ARRAY[t.dtype] && t.data.length === numel(t.shape);
}

/** The values as float32, for any dtype (int64 beyond 2^24 loses precision). */
export function toFloat32(t: HostTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  const out = new Float32Array(t.data.length);
  if (t.data instanceof BigInt64Array) {
    for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
  } else {
    out.set(t.data);
  }
  return out;
}

/** Each tensor's shape and values as float32 (toFloat32): what a module's loadStateDict reads. */
export function float32Values(tensors: Map<string, HostTensor>): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: toFloat32(t) }]));
}

// Typed arrays use the host byte order; the file formats are little-endian.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndianHost(): void {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('checkpoint I/O needs a little-endian host');
}

/** Decodes contiguous little-endian bytes (exactly numel*itemsize of them). */
export function decodeTensor(dtype: DType, shape: number[], bytes: Uint8Array): HostTensor {
  requireLittleEndianHost();
  const count = numel(shape);
  if (bytes.length !== count * ITEM_SIZE[dtype]) {
    throw new Error(`decodeTensor: ${bytes.length} bytes for ${count} ${dtype} values`);
  }
  // A fresh copy: aligned for the typed array, and independent of the file
  // buffer (new Uint8Array copies; a Node Buffer's slice() would not).
  const buffer = new Uint8Array(bytes).buffer;
  let data: HostData;
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const bits = new Uint16Array(buffer);
    const decode = dtype === 'float16' ? halfToFloat : bfloat16ToFloat;
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = decode(bits[i]!);
  } else {
    data = new HOST_ARRAY[dtype](buffer);
  }
  return { dtype, shape, data };
}

/** The little-endian bytes of a tensor, in its own dtype. */
export function encodeTensor(t: HostTensor): Uint8Array {
  requireLittleEndianHost();
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
    const encode = t.dtype === 'float16' ? floatToHalf : floatToBfloat16;
    const bits = new Uint16Array(t.data.length);
    for (let i = 0; i < bits.length; i++) bits[i] = encode(Number(t.data[i]));
    return new Uint8Array(bits.buffer);
  }
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

// ---- half-precision conversions -------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function bfloat16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0]!;
}

/** float32 → float16 bits, rounding to nearest even (as torch does). */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // inf, NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal half (or zero): shift the full significand into 10 bits.
    if (e < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - e;
    return sign | roundShift(significand, shift);
  }
  // Rounding may carry into the exponent, which is the right result too.
  return (sign | (e << 10)) + roundShift(mantissa, 13);
}

/** float32 → bfloat16 bits, rounding to nearest even; NaN stays NaN. */
export function floatToBfloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

/** value >> shift, rounded to nearest, ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value - kept * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rest > half || (rest === half && kept & 1) ? kept + 1 : kept;
}
