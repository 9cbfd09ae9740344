// Image grids as PNG (pngjs) and raw float32 .npy output.
import { PNG } from 'pngjs';
import { writeFileAtomic } from './files.js';

/** images: (N, C, H, W) float32 in [-1, 1], C = 1 or 3; laid out row by row, `cols` per row. */
export function imageGridPng(images: Float32Array, shape: readonly number[], cols: number, pad = 2): Buffer {
  const [n, c, h, w] = shape;
  const rows = Math.ceil(n / cols);
  const png = new PNG({ width: cols * (w + pad) + pad, height: rows * (h + pad) + pad });
  png.data.fill(255);
  for (let i = 0; i < n; i++) {
    const ox = pad + (i % cols) * (w + pad);
    const oy = pad + Math.floor(i / cols) * (h + pad);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const at = ((oy + y) * png.width + ox + x) * 4;
        for (let k = 0; k < 3; k++) {
          const v = images[((i * c + (c === 3 ? k : 0)) * h + y) * w + x];
          png.data[at + k] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
        }
        png.data[at + 3] = 255;
      }
    }
  }
  return PNG.sync.write(png);
}

export function writeImageGrid(path: string, images: Float32Array, shape: readonly number[], cols: number): void {
  writeFileAtomic(path, imageGridPng(images, shape, cols));
}

/** NumPy .npy (version 1.0, little-endian float32, C order). */
export function npyBytes(data: Float32Array, shape: readonly number[]): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
