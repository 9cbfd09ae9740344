// Checkpoint I/O against files written by PyTorch itself
// (test/data/make_checkpoints.py, torch 1.13) and the shared fixtures.
// Checkpoint reading is a copy, not arithmetic: every comparison is exact.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  encodeSafetensors,
  isHostTensor,
  parseTorchCheckpoint,
  readSafetensors,
  readStateDict,
  readTorchFile,
  toFloat32,
  writeSafetensors,
  type HostTensor,
} from '../src/models/checkpoint/index.js';
import { floatToBfloat16, floatToHalf } from '../src/models/checkpoint/hostTensor.js';
import { unpickle } from '../src/models/checkpoint/pickle.js';

const DATA = join(import.meta.dirname, 'data');
const CASES = join(DATA, 'checkpoints');
const FIXTURES = join(DATA, 'fixtures');

const readBytes = (path: string) => new Uint8Array(readFileSync(path));
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as unknown;

/** A parsed value in the JSON form make_checkpoints.py writes. */
function jsonLike(value: unknown): unknown {
  if (isHostTensor(value)) {
    const values = Array.from(value.data as ArrayLike<number | bigint>, (x) => {
      if (value.dtype === 'bool') return x === 1;
      if (typeof x === 'bigint') return String(x);
      return Number.isFinite(x) ? x : Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
    });
    return { dtype: value.dtype, shape: value.shape, values };
  }
  if (Array.isArray(value)) return value.map(jsonLike);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonLike(v)]));
  }
  return value;
}

function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** The CheckpointError `run` throws (fails the test for any other outcome). */
function checkpointError(run: () => unknown): CheckpointError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return err as CheckpointError;
  }
  throw new Error('expected a CheckpointError, but nothing was thrown');
}

/** Deterministic bytes for the fuzz and random-file tests. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('torch checkpoints written by PyTorch', () => {
  for (const name of ['dtypes', 'views', 'nested']) {
    const expected = readJson(join(CASES, `${name}.json`));
    for (const format of ['pth', 'legacy.pth']) {
      it(`${name}.${format} matches the values torch saved`, () => {
        const file = join(CASES, `${name}.${format}`);
        expect(jsonLike(parseTorchCheckpoint(readBytes(file), file))).toEqual(expected);
      });
    }
  }

  it('copies views out of shared storages into independent contiguous arrays', async () => {
    const views = await readTorchFile(join(CASES, 'views.pth'));
    const head = (views['shared_head'] as HostTensor).data as BigInt64Array;
    const all = (views['shared_all'] as HostTensor).data as BigInt64Array;
    expect(Array.from(head)).toEqual([0n, 1n, 2n, 3n]);
    head[0] = 99n;
    expect(all[0]).toBe(0n);
    expect((views['transposed'] as HostTensor).shape).toEqual([6, 4]);
  });

  it('flattens nested dicts into a state dict of tensors only', () => {
    const state = readStateDict(join(CASES, 'nested.legacy.pth'));
    expect([...state.keys()]).toEqual([
      'model.0.weight',
      'model.0.bias',
      'model.1.weight',
      'model.1.bias',
      'model.1.running_mean',
      'model.1.running_var',
      'model.1.num_batches_tracked',
      'param',
      'deep.a.b',
    ]);
    expect(state.get('model.1.num_batches_tracked')).toEqual({ dtype: 'int64', shape: [], data: new BigInt64Array([0n]) });
  });

  it('converts any dtype to float32', async () => {
    const t = await readTorchFile(join(CASES, 'dtypes.pth'));
    expect(Array.from(toFloat32(t['int64'] as HostTensor)).slice(0, 2)).toEqual([0, -1]);
    expect(Array.from(toFloat32(t['bool'] as HostTensor))).toEqual([1, 0, 0, 1]);
    expect(toFloat32(t['float64'] as HostTensor)[2]).toBe(1.5);
  });
});

describe('shared fixtures', () => {
  it('BigGAN zip and legacy files hold the same state dict, bit for bit', () => {
    const zip = readStateDict(join(FIXTURES, 'biggan32_ch4.pth'));
    const legacy = readStateDict(join(FIXTURES, 'biggan32_ch4.legacy.pth'));
    expect(zip.size).toBeGreaterThan(50);
    expect([...legacy.keys()]).toEqual([...zip.keys()]);
    for (const [key, t] of zip) {
      const other = legacy.get(key)!;
      expect(other.dtype, key).toBe(t.dtype);
      expect(other.shape, key).toEqual(t.shape);
      expect(Buffer.from(bytesOf(other)).equals(Buffer.from(bytesOf(t))), key).toBe(true);
    }
    expect(zip.get('shared.weight')!.shape).toEqual([1, 32]);
  });

  it('io files have the documented shapes', async () => {
    const shapes = (o: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(o).map(([k, t]) => [k, [(t as HostTensor).dtype, (t as HostTensor).shape]]));
    const biggan = await readTorchFile(join(FIXTURES, 'biggan32_ch4.io.pth'));
    expect(shapes(biggan)).toEqual({
      z: ['float32', [4, 120]],
      y: ['int64', [4]],
      image: ['float32', [4, 3, 32, 32]],
      cotangent: ['float32', [4, 3, 32, 32]],
      grad_z: ['float32', [4, 120]],
      config: ['int64', [6]],
    });
    // [resolution, ch, hier, n_classes, dim_z, shared_dim]
    expect(Array.from((biggan['config'] as HostTensor).data as BigInt64Array)).toEqual([32n, 4n, 1n, 1n, 120n, 32n]);
    const vgg = await readTorchFile(join(FIXTURES, 'vgg_bn_tiny.io.pth'));
    expect(shapes(vgg)).toEqual({
      x: ['float32', [2, 3, 32, 32]],
      target: ['int64', [2]],
      logits: ['float32', [2, 10]],
      loss: ['float32', []],
      grad_x: ['float32', [2, 3, 32, 32]],
    });
  });

  it('VGG state dict has torchvision keys', () => {
    const vgg = readStateDict(join(FIXTURES, 'vgg_bn_tiny.pth'));
    expect(vgg.get('features.0.weight')!.shape).toEqual([8, 3, 3, 3]);
    expect(vgg.get('classifier.6.weight')!.shape).toEqual([10, 64]);
  });
});

describe('refusals', () => {
  for (const file of ['evil_system.pth', 'evil_system.legacy.pth']) {
    it(`refuses the os.system global in ${file}`, () => {
      const err = checkpointError(() => parseTorchCheckpoint(readBytes(join(CASES, file)), file));
      expect(err.message).toContain(
        "refusing global 'posix.system' (not on the allow-list: a checkpoint is untrusted input)",
      );
      expect(err.file).toBe(file);
    });
  }

  it('refuses a global reached through STACK_GLOBAL', () => {
    const bytes = readBytes(join(CASES, 'evil_eval.pkl'));
    const err = checkpointError(() => unpickle(bytes, { globals: new Map() }));
    expect(err.message).toContain("refusing global 'builtins.eval'");
    // As a checkpoint it is not one at all.
    expect(checkpointError(() => parseTorchCheckpoint(bytes)).message).toContain('not a PyTorch checkpoint');
  });

  it('refuses empty files and random bytes', () => {
    expect(checkpointError(() => parseTorchCheckpoint(new Uint8Array(0), 'empty.pth')).message).toBe(
      'empty.pth: not a PyTorch checkpoint (no zip signature and no pickle magic)',
    );
    const random = prng(7);
    for (let i = 0; i < 20; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 4000) }, () => Math.floor(random() * 256));
      if (i % 2 === 0) bytes.set([0x50, 0x4b, 0x03, 0x04]); // looks like a zip
      if (i % 4 === 1) bytes.set([0x80, 0x02]); // looks like a pickle
      checkpointError(() => parseTorchCheckpoint(bytes));
    }
  });

  for (const name of ['biggan32_ch4.pth', 'biggan32_ch4.legacy.pth']) {
    it(`refuses ${name} cut short, with a clear error`, () => {
      const bytes = readBytes(join(FIXTURES, name));
      for (const fraction of [0.001, 0.05, 0.3, 0.5, 0.9, 0.9999]) {
        const cut = Math.floor(bytes.length * fraction);
        const err = checkpointError(() => parseTorchCheckpoint(bytes.subarray(0, cut), name));
        expect(err.message, `cut at ${cut}`).toMatch(/truncated/);
      }
    });
  }

  it('names a truncated legacy storage and its sizes', () => {
    const bytes = readBytes(join(CASES, 'views.legacy.pth'));
    const err = checkpointError(() => parseTorchCheckpoint(bytes.subarray(0, bytes.length - 3)));
    expect(err.message).toMatch(/truncated: storage '\d+' needs \d+ bytes, file has \d+/);
  });

  it('names a storage missing from, or too short in, the archive', () => {
    const entries = unzipSync(readBytes(join(CASES, 'views.pth')));
    const storageName = Object.keys(entries).find((n) => /\/data\/\d+$/.test(n))!;
    const key = storageName.split('/').pop();
    const { [storageName]: storage, ...rest } = entries;
    expect(checkpointError(() => parseTorchCheckpoint(zipSync(rest))).message).toContain(
      `storage key '${key}' missing from archive`,
    );
    const short = zipSync({ ...rest, [storageName]: storage!.subarray(0, 5) });
    expect(checkpointError(() => parseTorchCheckpoint(short)).message).toContain(
      `truncated: storage '${key}' needs ${storage!.length} bytes, file has 5`,
    );
  });

  it('names an unknown opcode and its offset, and a stack underflow', () => {
    const options = { globals: new Map(), fileName: 'x.pkl' };
    expect(checkpointError(() => unpickle(Uint8Array.of(0x80, 2, 0x49, 0x31, 0x0a, 0x2e), options)).message).toBe(
      "x.pkl: unsupported pickle opcode 0x49 'I' (opcode 0x49 at offset 2)",
    );
    expect(checkpointError(() => unpickle(Uint8Array.of(0x80, 2, 0x2e), options)).message).toMatch(/stack underflow/);
    expect(checkpointError(() => unpickle(Uint8Array.of(0x80, 2, 0x74), options)).message).toMatch(/stack underflow/);
  });

  it('survives corrupted bytes: every failure is a CheckpointError', () => {
    const random = prng(42);
    const sources = [
      readBytes(join(CASES, 'nested.legacy.pth')),
      readBytes(join(CASES, 'views.legacy.pth')),
      // Stored uncompressed, so flipped bytes reach the pickle and the storages.
      readBytes(join(CASES, 'nested.pth')),
    ];
    for (const source of sources) {
      for (let i = 0; i < 300; i++) {
        const bytes = source.slice();
        const flips = 1 + Math.floor(random() * 3);
        for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        try {
          parseTorchCheckpoint(bytes);
        } catch (err) {
          if (!(err instanceof CheckpointError)) throw err;
        }
      }
    }
  });
});

describe('safetensors', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'safetensors-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const expected = readJson(join(CASES, 'mixed.safetensors.json')) as { tensors: unknown; metadata: unknown };

  it('reads a file from an independent writer, every dtype', () => {
    const { tensors, metadata } = readSafetensors(join(CASES, 'mixed.safetensors'));
    expect(jsonLike(Object.fromEntries(tensors))).toEqual(expected.tensors);
    expect(metadata).toEqual(expected.metadata);
  });

  it('round-trips every dtype and the metadata through a file', () => {
    const { tensors } = readSafetensors(join(CASES, 'mixed.safetensors'));
    const path = join(tmp, 'roundtrip.safetensors');
    const metadata = Object.fromEntries([
      ['format', 'pt'],
      ['__proto__', 'kept as a key'],
    ]);
    writeSafetensors(path, tensors, metadata);
    const back = readSafetensors(path);
    expect(jsonLike(Object.fromEntries(back.tensors))).toEqual(expected.tensors);
    expect([...back.tensors.keys()]).toEqual([...tensors.keys()]);
    expect(Object.entries(back.metadata)).toEqual([
      ['format', 'pt'],
      ['__proto__', 'kept as a key'],
    ]);
    // Header padded to 8 bytes.
    const bytes = readBytes(path);
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
  });

  it('round-trips a state dict read from a torch checkpoint (Record input)', async () => {
    const state = Object.fromEntries(readStateDict(join(FIXTURES, 'vgg_bn_tiny.pth')));
    const back = readSafetensors(encodeSafetensors(state)).tensors;
    for (const [key, t] of Object.entries(state)) expect(back.get(key), key).toEqual(t);
    expect(readSafetensors(encodeSafetensors(state)).metadata).toEqual({});
  });

  it('rounds float32 to float16 and bfloat16 as torch does', () => {
    const cases = readJson(join(CASES, 'rounding.json')) as {
      inputs: Array<number | string>;
      float16_bits: number[];
      bfloat16_bits: number[];
    };
    const inputs = cases.inputs.map((v) => (typeof v === 'number' ? v : v === 'nan' ? NaN : v === 'inf' ? Infinity : -Infinity));
    // NaN payloads differ between torch's code paths: any NaN encoding will do.
    const signed = (bits: number) => (bits << 16) >> 16;
    const nanAsNull = (bits: number[], exponentMask: number) =>
      bits.map((b) => ((b & exponentMask) === exponentMask && b & ~(exponentMask | 0xffff8000) ? null : b));
    const half = inputs.map((x) => signed(floatToHalf(x)));
    const bfloat = inputs.map((x) => signed(floatToBfloat16(x)));
    expect(nanAsNull(half, 0x7c00)).toEqual(nanAsNull(cases.float16_bits, 0x7c00));
    expect(nanAsNull(bfloat, 0x7f80)).toEqual(nanAsNull(cases.bfloat16_bits, 0x7f80));
  });

  describe('refuses corrupt files, naming the tensor', () => {
    const t: HostTensor = { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) };
    /** A file with this header (JSON text) and `dataBytes` zero bytes of data. */
    const withHeader = (header: unknown, dataBytes = 8) => {
      const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
      const out = new Uint8Array(8 + json.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    const refusal = (bytes: Uint8Array) => checkpointError(() => readSafetensors(bytes, 'bad.safetensors')).message;
    const entry = (dtype: string, shape: number[], offsets: number[]) => ({ dtype, shape, data_offsets: offsets });

    it('short file and impossible header length', () => {
      expect(refusal(new Uint8Array(3))).toMatch(/too short/);
      const bytes = encodeSafetensors({ t });
      new DataView(bytes.buffer).setBigUint64(0, 1n << 40n, true);
      expect(refusal(bytes)).toMatch(/header length 1099511627776 does not fit/);
      expect(refusal(encodeSafetensors({ t }).subarray(0, 12))).toMatch(/does not fit/);
    });

    it('header that is not a JSON object', () => {
      expect(refusal(withHeader('{"a": '))).toMatch(/not valid UTF-8 JSON/);
      expect(refusal(withHeader('[1, 2]'))).toMatch(/not a JSON object/);
    });

    it('bad entries', () => {
      expect(refusal(withHeader({ w: entry('F32', [2], [0, 16]) }))).toMatch(/tensor 'w': data_offsets \[0, 16\] outside/);
      expect(refusal(withHeader({ w: entry('F32', [3], [0, 8]) }))).toMatch(/tensor 'w': 8 data bytes for shape \[3\]/);
      expect(refusal(withHeader({ w: entry('F32', [2], [8, 0]) }))).toMatch(/tensor 'w'/);
      expect(refusal(withHeader({ w: entry('F8', [2], [0, 2]) }))).toMatch(/tensor 'w': unsupported dtype "F8"/);
      expect(refusal(withHeader({ w: entry('F32', [-2], [0, 8]) }))).toMatch(/tensor 'w': invalid shape/);
      expect(refusal(withHeader({ w: { dtype: 'F32', shape: [2] } }))).toMatch(/tensor 'w': data_offsets/);
      expect(refusal(withHeader({ __metadata__: { n: 3 } }))).toMatch(/__metadata__ must map strings/);
      const overlap = { a: entry('F32', [2], [0, 8]), b: entry('U8', [4], [4, 8]) };
      expect(refusal(withHeader(overlap))).toMatch(/tensors 'a' and 'b' overlap/);
    });

    it('refuses to write a tensor whose data does not fit its shape', () => {
      const bad = { dtype: 'float32', shape: [3], data: new Float32Array(2) } as HostTensor;
      expect(() => encodeSafetensors({ bad })).toThrow(/'bad' is not a valid HostTensor/);
    });
  });
});
