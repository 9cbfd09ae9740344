// Shift images by whole pixels, filling the uncovered border (shaders/copy.wgsl `translate`).
// Used as a label-preserving augmentation in front of the frozen classifier. The shift is read
// from a small int32 tensor on the GPU (translateBy), so a replayed training step
// (src/engine/capture.ts) can shift by a new draw each step without new uniforms.
import { record } from './grad.js';
import { grid, runtime } from '../engine/runtime.js';
import { splitUnits } from '../engine/split.js';
import { assertFloat, empty, formatShape, tensor, type Tensor } from '../engine/tensor.js';
import { copyFamily } from './copy.js';

const WORKGROUP = 256;

/** The shift by sign * (dy, dx) without autograd: a thread per 4 output pixels of a row (W % 4 == 0) or per pixel. */
function shift(img: Tensor, translation: Tensor, sign: 1 | -1, fill: number): Tensor {
  const [B, C, H, W] = img.shape;
  const out = empty(img.shape);
  const per = W % 4 === 0 ? 4 : 1;
  // Planes are independent: over the binding-size limit they go in parts (src/engine/split.ts).
  for (const part of splitUnits('translate', B * C, { image: img }, { shifted: out })) {
    runtime().launch({
      kernel: copyFamily,
      entry: per === 4 ? 'translate4' : 'translate',
      constants: { WORKGROUP },
      params: { rows: part.count * H, H, W, sign, fill },
      buffers: { image: part.bind(img), shifted: part.write(out), translation: translation.buffer },
      workgroups: grid((part.count * H * W) / per, WORKGROUP),
    });
    part.done();
  }
  return out;
}

/** out[.., y, x] = img[.., y - dy, x - dx] where inside, else `fill`; img is (B, C, H, W). */
export function translate(img: Tensor, dy: number, dx: number, fill = 0): Tensor {
  if (!Number.isInteger(dy) || !Number.isInteger(dx)) throw new Error(`translate: shifts must be whole pixels, got (${dy}, ${dx})`);
  // Not disposed here: the backward rule reads it (the scope, or the collector, frees it).
  return translateBy(img, tensor(Int32Array.of(dy, dx)), fill);
}

/** translate by (dy, dx) = the two values of an int32 tensor. */
export function translateBy(img: Tensor, translation: Tensor, fill = 0): Tensor {
  assertFloat(img, 'translate');
  if (img.ndim !== 4) throw new Error(`translate: expected (B, C, H, W), got ${formatShape(img.shape)}`);
  if (translation.dtype !== 'int32' || translation.size !== 2) {
    throw new Error(`translate: the translation must be 2 int32 values (dy, dx), got ${translation.describe()}`);
  }
  // The gradient of a shift by (dy, dx) is the shift by (-dy, -dx) of the gradient, zero-filled.
  return record('translate', shift(img, translation, 1, fill), [img], (g) => [shift(g, translation, -1, 0)]);
}
