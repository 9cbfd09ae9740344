/** Shapes, FLOP counts and test inputs for each KernelSpec (layouts as documented in types.ts). */
import type { ConvGeometry, KernelSpec } from './types.js';

/**
 * activation: data that changes every step (uploaded as a runtime input in every peer).
 * param: weights / statistics that a real model holds constant (ORT gets these as graph
 *   initializers, the way an exported model would carry them).
 * labels: integer class indices stored as floats.
 */
export type InputRole = 'activation' | 'param' | 'labels';

export interface InputDesc {
  name: string;
  shape: number[];
  role: InputRole;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function convOutSize(g: ConvGeometry): { Ho: number; Wo: number } {
  return {
    Ho: Math.floor((g.H + 2 * g.pad - g.k) / g.stride) + 1,
    Wo: Math.floor((g.W + 2 * g.pad - g.k) / g.stride) + 1,
  };
}

/** The inputs `prepare()` expects for `spec`, in order. */
export function specInputs(spec: KernelSpec): InputDesc[] {
  const a = (name: string, shape: number[]): InputDesc => ({ name, shape, role: 'activation' });
  const p = (name: string, shape: number[]): InputDesc => ({ name, shape, role: 'param' });
  switch (spec.kind) {
    case 'matmul':
      return [a('A', [spec.M, spec.K]), a('B', [spec.K, spec.N])];
    case 'conv2d': {
      const ins = [a('x', [spec.N, spec.C, spec.H, spec.W]), p('weight', [spec.O, spec.C, spec.k, spec.k])];
      if (spec.bias) ins.push(p('bias', [spec.O]));
      return ins;
    }
    case 'conv2dInputGrad': {
      const { Ho, Wo } = convOutSize(spec);
      return [a('dy', [spec.N, spec.O, Ho, Wo]), p('weight', [spec.O, spec.C, spec.k, spec.k])];
    }
    case 'batchnorm':
      return [
        a('x', [spec.N, spec.C, spec.H, spec.W]),
        p('gamma', [spec.C]),
        p('beta', [spec.C]),
        p('runningMean', [spec.C]),
        p('runningVar', [spec.C]),
      ];
    case 'upsampleNearest':
    case 'maxPool2x2':
    case 'adaptiveAvgPool':
      return [a('x', [spec.N, spec.C, spec.H, spec.W])];
    case 'softmaxCrossEntropy':
      return [a('logits', [spec.B, spec.classes]), { name: 'labels', shape: [spec.B], role: 'labels' }];
    case 'attention': {
      const { C } = spec;
      return [
        a('x', [spec.N, C, spec.H, spec.W]),
        p('wTheta', [C / 8, C, 1, 1]),
        p('wPhi', [C / 8, C, 1, 1]),
        p('wG', [C / 2, C, 1, 1]),
        p('wO', [C, C / 2, 1, 1]),
        p('gamma', [1]),
      ];
    }
  }
}

/** Shape of the op's output (NCHW). */
export function outputShape(spec: KernelSpec): number[] {
  switch (spec.kind) {
    case 'matmul':
      return [spec.M, spec.N];
    case 'conv2d': {
      const { Ho, Wo } = convOutSize(spec);
      return [spec.N, spec.O, Ho, Wo];
    }
    case 'conv2dInputGrad':
    case 'batchnorm':
    case 'attention':
      return [spec.N, spec.C, spec.H, spec.W];
    case 'upsampleNearest':
      return [spec.N, spec.C, spec.H * spec.factor, spec.W * spec.factor];
    case 'maxPool2x2':
      return [spec.N, spec.C, Math.floor(spec.H / 2), Math.floor(spec.W / 2)];
    case 'adaptiveAvgPool':
      return [spec.N, spec.C, spec.outH, spec.outW];
    case 'softmaxCrossEntropy':
      return (spec.reduction ?? 'mean') === 'mean' ? [1] : [spec.B];
  }
}

/** Multiply-adds counted as 2 FLOPs; elementwise/pool ops count one FLOP per output (or input) element. */
export function specFlops(spec: KernelSpec): number {
  switch (spec.kind) {
    case 'matmul':
      return 2 * spec.M * spec.K * spec.N;
    case 'conv2d':
    case 'conv2dInputGrad': {
      const { Ho, Wo } = convOutSize(spec);
      return 2 * spec.N * spec.O * Ho * Wo * spec.C * spec.k * spec.k;
    }
    case 'batchnorm':
      return 2 * spec.N * spec.C * spec.H * spec.W;
    case 'upsampleNearest':
      return numel(outputShape(spec));
    case 'maxPool2x2':
    case 'adaptiveAvgPool':
      return spec.N * spec.C * spec.H * spec.W;
    case 'softmaxCrossEntropy':
      return 4 * spec.B * spec.classes;
    case 'attention': {
      const { N, C, H, W } = spec;
      const hw = H * W;
      const convs = 2 * N * hw * C * (C / 8 + C / 8 + C / 2) + 2 * N * hw * (C / 2) * C;
      const bmms = 2 * N * hw * (hw / 4) * (C / 8) + 2 * N * hw * (hw / 4) * (C / 2);
      return convs + bmms;
    }
  }
}

/** Problems with a spec that make it meaningless (not peer limitations); empty when valid. */
export function specProblems(spec: KernelSpec): string[] {
  const out: string[] = [];
  if (spec.kind === 'attention') {
    if (spec.C % 8 !== 0) out.push('attention needs C % 8 == 0');
    if (spec.H % 2 !== 0 || spec.W % 2 !== 0) out.push('attention needs even H and W');
  }
  if (spec.kind === 'conv2d' || spec.kind === 'conv2dInputGrad') {
    const { Ho, Wo } = convOutSize(spec);
    if (Ho < 1 || Wo < 1) out.push('conv output would be empty');
  }
  if (spec.kind === 'upsampleNearest' && (!Number.isInteger(spec.factor) || spec.factor < 1)) {
    out.push('upsample factor must be a positive integer');
  }
  return out;
}

/** Deterministic PRNG (mulberry32) so every peer and the reference see the same data. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Test inputs for `spec`: uniform(-1, 1) scaled by 1/sqrt(fan-in) for weights, positive running
 * variances, integer labels in [0, classes), gamma = 0.5 for attention (so the block is not an identity).
 */
export function makeInputs(spec: KernelSpec, seed = 1): Float32Array[] {
  const r = rng(seed);
  return specInputs(spec).map((d) => {
    const a = new Float32Array(numel(d.shape));
    if (d.role === 'labels') {
      const classes = (spec as { classes: number }).classes;
      for (let i = 0; i < a.length; i++) a[i] = Math.floor(r() * classes);
      return a;
    }
    let scale = 1;
    if (d.role === 'param' && d.shape.length === 4) scale = 1 / Math.sqrt(d.shape[1] * d.shape[2] * d.shape[3]);
    for (let i = 0; i < a.length; i++) a[i] = (2 * r() - 1) * scale;
    if (d.name === 'runningVar') for (let i = 0; i < a.length; i++) a[i] = 0.5 + r();
    if (d.name === 'gamma' && spec.kind === 'attention') a[0] = 0.5;
    if (d.name === 'gamma' && spec.kind === 'batchnorm') for (let i = 0; i < a.length; i++) a[i] = 0.5 + r();
    return a;
  });
}
