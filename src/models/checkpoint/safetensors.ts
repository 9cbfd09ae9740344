// safetensors: an 8-byte little-endian header length, a JSON header
//   { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: {...} }
// padded with spaces to 8-byte alignment, then the raw little-endian data
// (offsets are relative to the end of the header). Nothing in it executes,
// but every offset and size is checked before use.

import { fileBytes, writeFileBytes } from '../../engine/files.js';
import {
  CheckpointError,
  ITEM_SIZE,
  decodeTensor,
  encodeTensor,
  isHostTensor,
  numel,
  type DType,
  type HostTensor,
} from './hostTensor.js';

export interface Safetensors {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

const FILE_DTYPE: Readonly<Record<DType, string>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const HOST_DTYPE = new Map(Object.entries(FILE_DTYPE).map(([host, file]) => [file, host as DType]));

// The reference implementation's limit; a larger header is a corrupt length.
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

/** Reads a safetensors file (path) or its bytes. */
export function readSafetensors(source: string | Uint8Array, name?: string): Safetensors {
  const file = name ?? (typeof source === 'string' ? source : '<buffer>');
  const bytes = typeof source === 'string' ? fileBytes(source) : source;
  const fail = (detail: string): never => {
    throw new CheckpointError(file, detail);
  };

  if (bytes.length < 8) fail(`not a safetensors file: ${bytes.length} bytes, too short for a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    fail(`header length ${headerLength} does not fit in a file of ${bytes.length} bytes`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch {
    fail('header is not valid UTF-8 JSON');
  }
  if (!isRecord(header)) return fail('header is not a JSON object');

  let metadata: Record<string, string> = {};
  const entries: Array<{ key: string; dtype: DType; shape: number[]; begin: number; end: number }> = [];
  const dataLength = bytes.length - dataStart;
  for (const [key, info] of Object.entries(header)) {
    if (key === METADATA_KEY) {
      if (!isRecord(info) || !Object.values(info).every((v) => typeof v === 'string')) {
        fail(`${METADATA_KEY} must map strings to strings`);
      }
      metadata = Object.fromEntries(Object.entries(info as Record<string, string>));
      continue;
    }
    if (!isRecord(info)) return fail(`tensor '${key}': entry is not an object`);
    const dtype = HOST_DTYPE.get(info['dtype'] as string);
    if (!dtype) return fail(`tensor '${key}': unsupported dtype ${JSON.stringify(info['dtype'])}`);
    const shape = info['shape'];
    if (!Array.isArray(shape) || !shape.every(isCount)) return fail(`tensor '${key}': invalid shape`);
    const offsets = info['data_offsets'];
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      return fail(`tensor '${key}': data_offsets must be two non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength) {
      fail(`tensor '${key}': data_offsets [${begin}, ${end}] outside the ${dataLength} data bytes`);
    }
    const expected = numel(shape) * ITEM_SIZE[dtype];
    if (end - begin !== expected) {
      fail(`tensor '${key}': ${end - begin} data bytes for shape [${shape}] of ${dtype} (needs ${expected})`);
    }
    entries.push({ key, dtype, shape, begin, end });
  }

  // Each byte belongs to at most one tensor.
  const byBegin = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byBegin.length; i++) {
    if (byBegin[i]!.begin < byBegin[i - 1]!.end) {
      fail(`tensors '${byBegin[i - 1]!.key}' and '${byBegin[i]!.key}' overlap`);
    }
  }

  const tensors = new Map<string, HostTensor>();
  for (const { key, dtype, shape, begin, end } of entries) {
    tensors.set(key, decodeTensor(dtype, shape, bytes.subarray(dataStart + begin, dataStart + end)));
  }
  return { tensors, metadata };
}

/** The bytes of a safetensors file holding these tensors, in their order. */
export function encodeSafetensors(
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata '${k}' is not a string`);
    }
    header[METADATA_KEY] = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [key, tensor] of list) {
    if (key === METADATA_KEY) throw new Error(`'${METADATA_KEY}' cannot name a tensor`);
    if (!isHostTensor(tensor)) throw new Error(`'${key}' is not a valid HostTensor (dtype, shape and data must agree)`);
    const data = encodeTensor(tensor);
    // defineProperty keeps a key such as '__proto__' an ordinary entry.
    Object.defineProperty(header, key, {
      value: { dtype: FILE_DTYPE[tensor.dtype], shape: tensor.shape, data_offsets: [offset, offset + data.length] },
      enumerable: true,
    });
    chunks.push(data);
    offset += data.length;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength); // pad with spaces
  let at = 8 + headerLength;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Writes a safetensors file. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
): void {
  writeFileBytes(path, encodeSafetensors(tensors, metadata));
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isCount(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}
