// Shift images by whole pixels, filling the uncovered border (shaders/copy.wgsl does the work).
// Used as a label-preserving augmentation in front of the frozen classifier.
import { record } from '../engine/autograd.js';
import { empty, formatShape, type Tensor } from '../engine/tensor.js';
import { fillKernel } from './elementwise.js';
import { contiguousStrides, copyRegion } from './shape.js';

/** out[.., y, x] = img[.., y - dy, x - dx] where inside, else `fill`; img is (B, C, H, W). */
export function translate(img: Tensor, dy: number, dx: number, fill = 0): Tensor {
  if (img.ndim !== 4) throw new Error(`translate: expected (B, C, H, W), got ${formatShape(img.shape)}`);
  const [B, C, H, W] = img.shape;
  const s = contiguousStrides(img.shape);
  const region = [B, C, Math.max(0, H - Math.abs(dy)), Math.max(0, W - Math.abs(dx))];
  const srcAt = Math.max(0, -dy) * s[2] + Math.max(0, -dx);
  const dstAt = Math.max(0, dy) * s[2] + Math.max(0, dx);
  const out = fillKernel(empty(img.shape), fill);
  copyRegion(img, srcAt, s, out, dstAt, s, region);
  return record('translate', out, [img], (g) => {
    const gx = fillKernel(empty(img.shape), 0);
    copyRegion(g, dstAt, s, gx, srcAt, s, region);
    return [gx];
  });
}
