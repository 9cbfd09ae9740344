// The fused Adam update (shaders/adam.wgsl): parameters and moments change in place. The bias
// corrections, the only values that change from step to step, come in a buffer rather than the
// uniform block, so that a replayed step (src/engine/capture.ts) gets each step's own.
import { kernelFamily } from '../engine/kernelFamily.js';
import { grid, runtime } from '../engine/runtime.js';
import type { Tensor } from '../engine/tensor.js';
import { flatIndex } from '../engine/wgsl.js';

const adam = kernelFamily('adam', {
  uniforms: {
    p: {
      n: 'u32',
      lr: 'f32',
      beta1: 'f32',
      beta2: 'f32',
      eps: 'f32',
      weightDecay: 'f32',
    },
  },
  layouts: { adamStep: { uniform: 'p', buffers: { param: 'write f32', grad: 'read f32', m: 'write f32', v: 'write f32', corrections: 'read f32' } } },
  prelude: [flatIndex],
});

const WORKGROUP = 256;

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** (1 - beta1^step, 1 - beta2^step): what adamStepKernel reads from its `corrections` tensor. */
export function biasCorrections(step: number, h: AdamHyper): Float32Array {
  return Float32Array.of(1 - h.beta1 ** step, 1 - h.beta2 ** step);
}

export function adamStepKernel(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, corrections: Tensor, h: AdamHyper): void {
  runtime().launch({
    kernel: adam,
    entry: 'adamStep',
    constants: { WORKGROUP },
    params: {
      n: param.size,
      lr: h.lr,
      beta1: h.beta1,
      beta2: h.beta2,
      eps: h.eps,
      weightDecay: h.weightDecay,
    },
    buffers: { param: param.buffer, grad: grad.buffer, m: m.buffer, v: v.buffer, corrections: corrections.buffer },
    workgroups: grid(param.size, WORKGROUP),
  });
}
