// The fused Adam update (shaders/adam.wgsl): parameters and moments change in place.
import { grid, runtime, Uniforms } from '../engine/runtime.js';
import type { Tensor } from '../engine/tensor.js';

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
    family: 'adam',
    entry: 'adamStep',
    constants: { WORKGROUP },
    uniforms: new Uniforms()
      .u32(param.size)
      .f32(h.lr, h.beta1, h.beta2, h.eps, 1 - h.beta1 ** step, 1 - h.beta2 ** step, h.weightDecay)
      .build(),
    buffers: [param.buffer, grad.buffer, m.buffer, v.buffer],
    workgroups: grid(param.size, WORKGROUP),
  });
}
