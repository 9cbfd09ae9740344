// Reads the files torch.save writes, in both of its formats:
//   zip (torch >= 1.6): <name>/data.pkl, raw storages at <name>/data/<key>;
//   legacy stream: pickles of the magic number, the protocol version, the
//   system info, the object, and the storage keys, then each storage as an
//   8-byte element count followed by its bytes.
// Either way the object pickle refers to storages by persistent id and builds
// tensors with torch._utils._rebuild_tensor_v2. Storages are attached once
// the pickle has been read (in the legacy format they come after it), and
// every tensor is then copied out of its storage into a contiguous array.

import { fileBytes, fileBytesAsync } from '../../engine/files.js';
import { unzipSync } from 'fflate';
import {
  CheckpointError,
  ITEM_SIZE,
  decodeTensor,
  isHostTensor,
  numel,
  type DType,
  type HostTensor,
} from './hostTensor.js';
import { PickleFunction, newDict, unpickle } from './pickle.js';

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;

// A stride of 0 lets a tiny storage claim a huge tensor (torch saves expanded
// views that way). Allow that only up to this size, so that a hostile file
// cannot make the reader allocate gigabytes.
const MAX_EXPANDED_BYTES = 64 * 2 ** 20;

const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** The value a `torch.*Storage` global stands for; dtype null when untyped. */
class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: DType | null,
  ) {}
}

/** A storage named by a persistent id; its bytes are attached later. */
class StorageRef {
  bytes: Uint8Array | null = null;
  constructor(
    readonly key: string,
    readonly type: StorageType,
    /** Elements (bytes for an untyped storage). */
    readonly numel: number,
  ) {}

  get byteLength(): number {
    return this.numel * (this.type.dtype ? ITEM_SIZE[this.type.dtype] : 1);
  }
}

/** A tensor returned by the pickle whose data is filled in from its storage. */
interface PendingTensor {
  tensor: HostTensor;
  storage: StorageRef;
  offset: number;
  size: number[];
  stride: number[];
}

/** The state of reading one file: its storages and tensors. */
class TorchLoader {
  readonly storages = new Map<string, StorageRef>();
  private readonly pending: PendingTensor[] = [];
  private readonly rebuilt = new WeakSet<HostTensor>();
  readonly globals = new Map<string, unknown>();

  constructor(
    readonly file: string,
    private readonly legacy: boolean,
  ) {
    const define = (name: string, call: (args: unknown[]) => unknown) =>
      this.globals.set(name, new PickleFunction(name, call));
    define('collections.OrderedDict', (args) => {
      if (args.length !== 0) this.fail('OrderedDict with arguments');
      return newDict();
    });
    define('torch._utils._rebuild_tensor_v2', (args) => this.rebuildTensor(args));
    // A Parameter is its tensor; requires_grad and hooks do not matter here.
    define('torch._utils._rebuild_parameter', (args) => this.tensorArgument(args[0]));
    define('torch._utils._rebuild_parameter_with_state', (args) => this.tensorArgument(args[0]));
    for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) {
      this.globals.set(`torch.${name}`, new StorageType(name, dtype));
    }
    this.globals.set('torch.UntypedStorage', new StorageType('UntypedStorage', null));
  }

  /** BINPERSID: ('storage', type, key, location, numel[, view metadata]). */
  persistentLoad(pid: unknown): StorageRef {
    if (!Array.isArray(pid) || pid[0] !== 'storage') this.fail('unexpected persistent id');
    const [, type, key, , count, view] = pid as unknown[];
    if (!(type instanceof StorageType)) this.fail('persistent id without a storage type');
    if (typeof key !== 'string') this.fail('persistent id with a non-string storage key');
    if (!isCount(count)) this.fail(`storage '${key}' has an invalid size`);
    if (this.legacy && view !== null && view !== undefined) {
      this.fail(`storage '${key}' is a legacy storage view, which is not supported`);
    }
    let storage = this.storages.get(key);
    if (!storage) {
      storage = new StorageRef(key, type, count);
      this.storages.set(key, storage);
    } else if (storage.type !== type || storage.numel !== count) {
      this.fail(`storage '${key}' is declared twice with different types or sizes`);
    }
    return storage;
  }

  /** _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
  private rebuildTensor(args: unknown[]): HostTensor {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef)) this.fail('tensor without a storage');
    const dtype = storage.type.dtype;
    if (dtype === null) {
      this.fail(`tensor over an untyped storage ('${storage.key}'): its dtype is not recorded there`);
    }
    if (!isCount(offset) || !isCountList(size) || !isCountList(stride) || size.length !== stride.length) {
      this.fail(`tensor over storage '${storage.key}' has an invalid offset, size or stride`);
    }
    const tensor: HostTensor = { dtype, shape: [...size], data: new Uint8Array(0) };
    this.pending.push({ tensor, storage, offset, size, stride });
    this.rebuilt.add(tensor);
    return tensor;
  }

  private tensorArgument(data: unknown): HostTensor {
    if (!isObject(data) || !this.rebuilt.has(data as HostTensor)) this.fail('parameter without a tensor');
    return data as HostTensor;
  }

  /** Copies every tensor out of its storage, once all storages are attached. */
  fillTensors(): void {
    for (const storage of this.storages.values()) {
      if (!storage.bytes) this.fail(`storage key '${storage.key}' missing from ${this.legacy ? 'file' : 'archive'}`);
    }
    for (const p of this.pending) this.fillTensor(p);
  }

  private fillTensor({ tensor, storage, offset, size, stride }: PendingTensor): void {
    const dtype = tensor.dtype;
    const count = numel(size);
    if (count > storage.numel && count * ITEM_SIZE[dtype] > MAX_EXPANDED_BYTES) {
      this.fail(`tensor of shape [${size}] expands storage '${storage.key}' (${storage.numel} elements) too far`);
    }
    if (count > 0) {
      let last = offset;
      for (let d = 0; d < size.length; d++) last += (size[d]! - 1) * stride[d]!;
      if (last >= storage.numel) {
        this.fail(
          `tensor of shape [${size}] reads element ${last} of storage '${storage.key}', which has ${storage.numel}`,
        );
      }
    }
    const bytes = gatherStrided(storage.bytes!, ITEM_SIZE[dtype], offset, size, stride);
    tensor.data = decodeTensor(dtype, tensor.shape, bytes).data;
  }

  fail(detail: string): never {
    throw new CheckpointError(this.file, detail);
  }
}

/** Parses the bytes of a torch.save file; tensors become HostTensors. */
export function parseTorchCheckpoint(file: Uint8Array, name = '<buffer>'): unknown {
  // A plain view, so that slice() copies even when given a Node Buffer.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    return parseZip(bytes, name);
  }
  if (startsWithLegacyMagic(bytes)) return parseLegacy(bytes, name);
  throw new CheckpointError(name, 'not a PyTorch checkpoint (no zip signature and no pickle magic)');
}

/** Reads a checkpoint whose top-level object is a dict (as they all are). */
export async function readTorchFile(path: string): Promise<Record<string, unknown>> {
  return topLevelDict(parseTorchCheckpoint(await fileBytesAsync(path), path), path);
}

/** The tensors of a checkpoint, keyed by dotted path through nested dicts. */
export function readStateDict(path: string): Map<string, HostTensor> {
  return flattenStateDict(topLevelDict(parseTorchCheckpoint(fileBytes(path), path), path));
}

/** Flattens nested dicts into dotted keys, keeping only tensors (a state dict
 * is flat already; entries such as an epoch count are skipped). */
export function flattenStateDict(root: Record<string, unknown>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const seen = new Set<object>([root]);
  // Depth-first with an explicit stack: a hostile file may nest very deeply.
  const work: Array<[string, unknown]> = Object.entries(root).reverse();
  for (let item = work.pop(); item; item = work.pop()) {
    const [key, value] = item;
    if (isHostTensor(value)) {
      out.set(key, value);
    } else if (isPlainObject(value) && !seen.has(value)) {
      seen.add(value);
      const children = Object.entries(value).map(([k, v]): [string, unknown] => [`${key}.${k}`, v]);
      work.push(...children.reverse());
    }
  }
  return out;
}

// ---- the two formats -------------------------------------------------------

function parseZip(bytes: Uint8Array, file: string): unknown {
  let entries: Record<string, Uint8Array>;
  try {
    checkZipDirectory(bytes);
    entries = unzipSync(bytes, { filter: checkZipEntry });
  } catch (err) {
    throw new CheckpointError(file, `truncated or corrupt zip archive (${(err as Error).message})`);
  }
  // The top folder is named after the file torch.save was given; find it.
  const pickleName = Object.keys(entries).find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pickleName) throw new CheckpointError(file, 'zip archive has no <name>/data.pkl: not a PyTorch checkpoint');
  const prefix = pickleName.slice(0, -'data.pkl'.length);
  const byteOrder = entries[`${prefix}byteorder`];
  if (byteOrder && new TextDecoder().decode(byteOrder).trim() !== 'little') {
    throw new CheckpointError(file, 'big-endian checkpoints are not supported');
  }

  const loader: TorchLoader = new TorchLoader(file, false);
  const { value } = unpickle(entries[pickleName]!, {
    globals: loader.globals,
    persistentLoad: (pid) => loader.persistentLoad(pid),
    fileName: file,
  });
  for (const storage of loader.storages.values()) {
    const data = entries[`${prefix}data/${storage.key}`];
    if (!data) continue; // reported by fillTensors
    if (data.length < storage.byteLength) {
      loader.fail(`truncated: storage '${storage.key}' needs ${storage.byteLength} bytes, file has ${data.length}`);
    }
    storage.bytes = data;
  }
  loader.fillTensors();
  return value;
}

// fflate trusts the zip's records. Two checks keep a corrupt or hostile
// archive from making it loop over billions of phantom entries or allocate
// gigabytes; what remains wrong, fflate reports itself.
const ZIP_END_RECORD = 0x06054b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_END_RECORD = 0x06064b50;
const ZIP_DIRECTORY_ENTRY_BYTES = 46; // the fixed part of each entry
const MAX_DEFLATE_RATIO = 1032; // deflate cannot compress better than this

/** The entry count the end records claim must fit in the file. */
function checkZipDirectory(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number) => (at >= 0 && at + 4 <= bytes.length ? view.getUint32(at, true) : -1);
  // The end record sits in the last 22 + 65535 (comment) bytes; search as fflate does.
  let end = bytes.length - 22;
  while (end > 0 && bytes.length - end <= 65558 && u32(end) !== ZIP_END_RECORD) end--;
  if (u32(end) !== ZIP_END_RECORD) throw new Error('no end of central directory record');
  let count = view.getUint16(end + 8, true);
  if (u32(end - 20) === ZIP64_END_LOCATOR) {
    const end64 = u32(end - 12);
    if (u32(end64) === ZIP64_END_RECORD && end64 + 56 <= bytes.length) count = view.getUint32(end64 + 32, true);
  }
  if (count * ZIP_DIRECTORY_ENTRY_BYTES > bytes.length) {
    throw new Error(`directory claims ${count} entries, too many for ${bytes.length} bytes`);
  }
}

function checkZipEntry(entry: { name: string; size: number; originalSize: number; compression: number }): boolean {
  if (entry.compression === 8 && entry.originalSize > entry.size * MAX_DEFLATE_RATIO) {
    throw new Error(`entry '${entry.name}' claims an impossible uncompressed size`);
  }
  return true;
}

function startsWithLegacyMagic(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x80) return false;
  try {
    return unpickle(bytes, { globals: new Map() }).value === LEGACY_MAGIC;
  } catch {
    return false;
  }
}

function parseLegacy(bytes: Uint8Array, file: string): unknown {
  const loader: TorchLoader = new TorchLoader(file, true);
  const options = {
    globals: loader.globals,
    persistentLoad: (pid: unknown) => loader.persistentLoad(pid),
    fileName: file,
  };
  const magic = unpickle(bytes, options);
  const protocol = unpickle(bytes, options, magic.end);
  if (protocol.value !== LEGACY_PROTOCOL_VERSION) {
    loader.fail(`unsupported legacy protocol version ${String(protocol.value)}`);
  }
  const sysInfo = unpickle(bytes, options, protocol.end);
  if (!isPlainObject(sysInfo.value) || sysInfo.value['little_endian'] !== true) {
    loader.fail('big-endian or unknown system info: not supported');
  }
  const object = unpickle(bytes, options, sysInfo.end);
  const keys = unpickle(bytes, options, object.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    loader.fail('storage key list is not a list of strings');
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const storage = loader.storages.get(key);
    if (!storage) loader.fail(`storage '${key}' is listed but never used`);
    if (bytes.length - pos < 8) loader.fail(`truncated: storage '${key}' has no size field`);
    const count = view.getBigUint64(pos, true);
    pos += 8;
    if (count !== BigInt(storage.numel)) {
      loader.fail(`storage '${key}' holds ${count} elements, the pickle says ${storage.numel}`);
    }
    const needed = storage.byteLength;
    if (bytes.length - pos < needed) {
      loader.fail(`truncated: storage '${key}' needs ${needed} bytes, file has ${bytes.length - pos}`);
    }
    storage.bytes = bytes.subarray(pos, pos + needed);
    pos += needed;
  }
  loader.fillTensors();
  return object.value;
}

// ---- helpers ---------------------------------------------------------------

/** The elements of a strided view, as contiguous bytes. */
function gatherStrided(
  bytes: Uint8Array,
  itemSize: number,
  offset: number,
  size: number[],
  stride: number[],
): Uint8Array {
  const count = numel(size);
  if (isContiguous(size, stride)) return bytes.subarray(offset * itemSize, (offset + count) * itemSize);

  // Copy whole words (1, 2 or 4 bytes) rather than single bytes.
  const wordSize = itemSize % 4 === 0 ? 4 : itemSize;
  const wordsPerItem = itemSize / wordSize;
  const WordArray = wordSize === 4 ? Uint32Array : wordSize === 2 ? Uint16Array : Uint8Array;
  const aligned = bytes.byteOffset % wordSize === 0 ? bytes : bytes.slice();
  const source = new WordArray(aligned.buffer as ArrayBuffer, aligned.byteOffset, Math.floor(aligned.length / wordSize));
  const out = new WordArray(count * wordsPerItem);

  // Walk the multi-index like an odometer, tracking the source element.
  const index = new Array<number>(size.length).fill(0);
  let element = offset;
  for (let i = 0; i < count; i++) {
    for (let w = 0; w < wordsPerItem; w++) out[i * wordsPerItem + w] = source[element * wordsPerItem + w]!;
    for (let d = size.length - 1; d >= 0; d--) {
      index[d]!++;
      element += stride[d]!;
      if (index[d]! < size[d]!) break;
      element -= stride[d]! * size[d]!;
      index[d] = 0;
    }
  }
  return new Uint8Array(out.buffer);
}

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d]!;
  }
  return true;
}

function isCount(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

function isCountList(x: unknown): x is number[] {
  return Array.isArray(x) && x.every(isCount);
}

function isObject(x: unknown): x is object {
  return typeof x === 'object' && x !== null;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return isObject(x) && Object.getPrototypeOf(x) === Object.prototype && !isHostTensor(x);
}

function topLevelDict(value: unknown, file: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw new CheckpointError(file, 'top-level object is not a dict');
  return value;
}
