// The fused Adam update (shaders/adam.wgsl): parameters and moments change in place.
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
      biasCorrection1: 'f32', // 1 - beta1^step
      biasCorrection2: 'f32', // 1 - beta2^step
      weightDecay: 'f32',
    },
  },
  layouts: { adamStep: { uniform: 'p', buffers: { param: 'write f32', grad: 'read f32', m: 'write f32', v: 'write f32' } } },
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

export function adamStepKernel(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: number, h: AdamHyper): void {
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
      biasCorrection1: 1 - h.beta1 ** step,
      biasCorrection2: 1 - h.beta2 ** step,
      weightDecay: h.weightDecay,
    },
    buffers: { param: param.buffer, grad: grad.buffer, m: m.buffer, v: v.buffer },
    workgroups: grid(param.size, WORKGROUP),
  });
}
