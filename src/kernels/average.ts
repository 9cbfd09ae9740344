// Weights averaged in place (shaders/average.wgsl): torch's Tensor.lerp_(end, weight), the step of
// an exponential moving average of weights. No gradient: it runs beside training, on what
// training left.
import { kernelFamily } from '../engine/kernelFamily.js';
import { grid, runtime } from '../engine/runtime.js';
import { assertFloat, assertSameShape, type Tensor } from '../engine/tensor.js';
import { flatIndex } from '../engine/wgsl.js';

const average = kernelFamily('average', {
  uniforms: { p: { n: 'u32', weight: 'f32' } },
  layouts: { lerpInPlace: { uniform: 'p', buffers: { average: 'write f32', value: 'read f32' } } },
  prelude: [flatIndex],
});

const WORKGROUP = 256;

/** average += weight * (value - average), in place (torch's average.lerp_(value, weight)); returns average. */
export function lerp_(average_: Tensor, value: Tensor, weight: number): Tensor {
  assertSameShape(average_, value, 'lerp_');
  assertFloat(average_, 'lerp_');
  assertFloat(value, 'lerp_');
  if (average_.size === 0) return average_;
  runtime().launch({
    kernel: average,
    entry: 'lerpInPlace',
    constants: { WORKGROUP },
    params: { n: average_.size, weight },
    buffers: { average: average_.buffer, value: value.buffer },
    workgroups: grid(average_.size, WORKGROUP),
  });
  // What was computed from these values once (a folded batchnorm) is stale now, as after copy_.
  average_.storage.version++;
  return average_;
}
