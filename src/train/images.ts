// Image grids as PNG (@napi-rs/canvas) and raw float32 .npy output.
import { createCanvas } from '@napi-rs/canvas';
import { writeFileAtomic } from './files.js';
import { font } from './font.js';

export interface GridOptions {
  /** Nearest-neighbour upscaling of each tile (3 by default: 32x32 images become 96x96). */
  scale?: number;
  /** One label per row, drawn in a left column (class names in the per-epoch grids). */
  rowLabels?: string[];
  /** A line of text above the grid. */
  title?: string;
  pad?: number;
}

/** images: (N, C, H, W) float32 in [-1, 1], C = 1 or 3; laid out row by row, `cols` per row. */
export function imageGridPng(images: Float32Array, shape: readonly number[], cols: number, options: GridOptions = {}): Buffer {
  const [n, c, h, w] = shape;
  const { scale = 3, rowLabels, title, pad = 4 } = options;
  const rows = Math.ceil(n / cols);
  const [tileW, tileH] = [w * scale, h * scale];
  const labelFont = font(15);
  const measure = createCanvas(1, 1).getContext('2d');
  measure.font = labelFont;
  const labelWidth = rowLabels ? Math.ceil(Math.max(...rowLabels.map((l) => measure.measureText(l).width))) + 16 : 0;
  const titleHeight = title ? 30 : 0;
  const left = labelWidth + pad;
  const top = titleHeight + pad;
  const canvas = createCanvas(left + cols * (tileW + pad), top + rows * (tileH + pad));
  const ctx = canvas.getContext('2d');
  const pixels = ctx.createImageData(canvas.width, canvas.height);
  pixels.data.fill(255);
  // Nearest neighbour by hand: every output pixel copies its source pixel, so tiles stay sharp.
  for (let i = 0; i < n; i++) {
    const ox = left + (i % cols) * (tileW + pad);
    const oy = top + Math.floor(i / cols) * (tileH + pad);
    for (let y = 0; y < tileH; y++) {
      for (let x = 0; x < tileW; x++) {
        const at = ((oy + y) * canvas.width + ox + x) * 4;
        const src = Math.floor(y / scale) * w + Math.floor(x / scale);
        for (let k = 0; k < 3; k++) {
          const v = images[(i * c + (c === 3 ? k : 0)) * h * w + src];
          pixels.data[at + k] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
        }
      }
    }
  }
  ctx.putImageData(pixels, 0, 0);
  ctx.fillStyle = '#222';
  if (title) {
    ctx.font = font(16, 'bold');
    ctx.textBaseline = 'middle';
    ctx.fillText(title, pad + 4, titleHeight / 2 + pad / 2);
  }
  if (rowLabels) {
    ctx.font = labelFont;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    rowLabels.slice(0, rows).forEach((label, r) => ctx.fillText(label, labelWidth - 8, top + r * (tileH + pad) + tileH / 2));
  }
  return canvas.toBuffer('image/png');
}

export function writeImageGrid(path: string, images: Float32Array, shape: readonly number[], cols: number, options: GridOptions = {}): void {
  writeFileAtomic(path, imageGridPng(images, shape, cols, options));
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
