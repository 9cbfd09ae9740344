// Nearest-neighbour upsampling by an integer factor (shaders/upsample.wgsl), with backward.
import { record } from './grad.js';
import { grid, runtime, Uniforms } from '../engine/runtime.js';
import { assertFloat, empty, formatShape, type Tensor } from '../engine/tensor.js';

const WORKGROUP = 256;

/**
 * A thread per input pixel, forward and backward; for factor 2 and widths that are multiples of 4
 * a thread per 4 input pixels (upsample2 / upsample2Backward). x is the input (low resolution).
 */
function launch(entry: string, x: Tensor, factor: number, src: Tensor, dst: Tensor): void {
  const [N, C, H, W] = x.shape;
  const quads = factor === 2 && W % 4 === 0;
  runtime().launch({
    family: 'upsample',
    entry: quads ? entry.replace('upsample', 'upsample2') : entry,
    constants: { WORKGROUP },
    uniforms: new Uniforms().u32(N * C * H, W, factor).build(),
    buffers: [src.buffer, dst.buffer],
    workgroups: grid(quads ? x.size / 4 : x.size, WORKGROUP),
  });
}

export function checkUpsample(x: Tensor, factor: number, op: string): void {
  assertFloat(x, op);
  if (x.ndim !== 4) throw new Error(`${op}: input must be (N, C, H, W), got ${formatShape(x.shape)}`);
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`${op}: factor must be a positive integer, got ${factor}`);
}

/** The upsampled x, without autograd. */
export function upsampleForward(x: Tensor, factor: number): Tensor {
  const [N, C, H, W] = x.shape;
  const y = empty([N, C, H * factor, W * factor]);
  launch('upsample', x, factor, x, y);
  return y;
}

/** d(loss)/dx from the gradient g of the upsampled x (sums over each factor x factor block), without autograd. */
export function upsampleBackward(g: Tensor, factor: number): Tensor {
  const [N, C, H, W] = g.shape;
  const gx = empty([N, C, H / factor, W / factor]);
  launch('upsampleBackward', gx, factor, g, gx);
  return gx;
}

/** F.interpolate(x, scale_factor=factor, mode='nearest') for NCHW x and an integer factor. */
export function upsampleNearest(x: Tensor, factor: number): Tensor {
  checkUpsample(x, factor, 'upsampleNearest');
  return record('upsampleNearest', upsampleForward(x, factor), [x], (g) => [upsampleBackward(g, factor)]);
}
