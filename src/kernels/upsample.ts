// Nearest-neighbour upsampling by an integer factor (shaders/upsample.wgsl), with backward.
import { record } from '../engine/autograd.js';
import { grid, runtime, Uniforms } from '../engine/runtime.js';
import { assertFloat, empty, formatShape, type Tensor } from '../engine/tensor.js';

const WORKGROUP = 256;

/** A thread per input pixel, forward and backward. */
function launch(entry: string, x: Tensor, factor: number, src: Tensor, dst: Tensor): void {
  const [N, C, H, W] = x.shape;
  runtime().launch({
    family: 'upsample',
    entry,
    constants: { WORKGROUP },
    uniforms: new Uniforms().u32(N * C * H, W, factor).build(),
    buffers: [src.buffer, dst.buffer],
    workgroups: grid(x.size, WORKGROUP),
  });
}

/** F.interpolate(x, scale_factor=factor, mode='nearest') for NCHW x and an integer factor. */
export function upsampleNearest(x: Tensor, factor: number): Tensor {
  assertFloat(x, 'upsampleNearest');
  if (x.ndim !== 4) throw new Error(`upsampleNearest: input must be (N, C, H, W), got ${formatShape(x.shape)}`);
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`upsampleNearest: factor must be a positive integer, got ${factor}`);
  const [N, C, H, W] = x.shape;
  const y = empty([N, C, H * factor, W * factor]);
  launch('upsample', x, factor, x, y);
  return record('upsampleNearest', y, [x], (g) => {
    const gx = empty(x.shape);
    launch('upsampleBackward', x, factor, g, gx);
    return [gx];
  });
}
