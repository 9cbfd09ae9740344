// Reads Fashion-MNIST's idx files (optionally gzipped, as Debian's dataset-fashion-mnist ships
// them) into images laid out as the generator makes them: 28x28 padded to 32x32 with black,
// grey replicated to 3 channels, scaled to [-1, 1].
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

export { FASHION_MNIST_CLASSES } from './classNames.js';

function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  let bytes: Uint8Array = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 || view.getUint16(0) !== 0 || bytes[2] !== 0x08) {
    throw new Error(`${path}: not an idx file of unsigned bytes`);
  }
  const rank = bytes[3];
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const start = 4 + 4 * rank;
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length < start + size) throw new Error(`${path}: truncated (${bytes.length - start} of ${size} bytes)`);
  return { dims, data: bytes.subarray(start, start + size) };
}

function findFile(dir: string, stem: string): string {
  for (const name of [stem, `${stem}.gz`]) if (existsSync(join(dir, name))) return join(dir, name);
  throw new Error(`Fashion-MNIST: no ${stem}[.gz] in ${dir} (Debian: apt-get install dataset-fashion-mnist)`);
}

/** The idx files of a split in `dir` (each possibly gzipped); throws naming a missing one. */
export function fashionMnistFiles(dir: string, split: 'test' | 'train' = 'test'): { images: string; labels: string } {
  const prefix = split === 'test' ? 't10k' : 'train';
  return { images: findFile(dir, `${prefix}-images-idx3-ubyte`), labels: findFile(dir, `${prefix}-labels-idx1-ubyte`) };
}

export interface LabelledImages {
  images: Float32Array; // (N, 3, size, size) in [-1, 1]
  labels: Int32Array;
  size: number;
}

/** A split as stored: 28x28 bytes per image (60,000 training images are 47 MB so, 737 MB as float32 RGB). */
export interface LabelledBytes {
  pixels: Uint8Array; // (N, side, side)
  labels: Int32Array;
  side: number;
}

export function loadFashionMnistBytes(dir = DEBIAN_FASHION_MNIST, split: 'test' | 'train' = 'test'): LabelledBytes {
  const files = fashionMnistFiles(dir, split);
  const imgs = readIdx(files.images);
  const labs = readIdx(files.labels);
  const [n, h, w] = imgs.dims;
  if (labs.dims[0] !== n) throw new Error(`Fashion-MNIST: ${n} images but ${labs.dims[0]} labels`);
  if (h !== w) throw new Error(`Fashion-MNIST: ${files.images} holds ${h}x${w} images, expected square ones`);
  return { pixels: imgs.data, labels: Int32Array.from(labs.data), side: h };
}

/** Images `indices` of `data` as the generator makes them: (n, 3, size, size) in [-1, 1], black border. */
export function imagesOf(data: LabelledBytes, indices: ArrayLike<number>, size = 32): Float32Array {
  const h = data.side;
  const pad = (size - h) / 2;
  const n = indices.length;
  const images = new Float32Array(n * 3 * size * size).fill(-1);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < h; x++) {
        const v = (data.pixels[(i * h + y) * h + x] / 255) * 2 - 1;
        for (let c = 0; c < 3; c++) images[((k * 3 + c) * size + y + pad) * size + x + pad] = v;
      }
    }
  }
  return images;
}

/** The test (or train) split, padded to `size` (32 for the default generator). */
export function loadFashionMnist(dir = DEBIAN_FASHION_MNIST, split: 'test' | 'train' = 'test', size = 32): LabelledImages {
  const data = loadFashionMnistBytes(dir, split);
  const all = Array.from({ length: data.labels.length }, (_, i) => i);
  return { images: imagesOf(data, all, size), labels: data.labels, size };
}
