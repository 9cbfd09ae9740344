// The engine side of each bench row: upload the row's inputs as tensors and return the call
// that does the row's work (one output tensor per call), and the float64 reference it must match.
import { tensor, type Tensor } from '../src/engine/tensor.js';
import {
  adaptiveAvgPool2d,
  batchNorm,
  conditionalBatchNorm,
  conv2d,
  conv2dInputGrad,
  crossEntropy,
  linear,
  matmul,
  maxPool2d,
  selfAttention,
  upsampleNearest,
} from '../src/kernels/index.js';
import { makeInputs, rng } from './peers/spec.js';
import { reference } from './peers/reference.js';
import type { Row } from './rows.js';

export interface OurOp {
  /** One execution: records the kernel launches and returns the output (caller disposes it). */
  run(): Tensor;
  /** What exactly runs, for the notes. */
  notes: string[];
  dispose(): void;
}

/**
 * Inputs of a row: the peer spec's inputs (makeInputs, seed 1), plus what the engine variant
 * needs: a bias (N) for `linear`; per-sample gain and bias (N, C) in place of gamma/beta for the
 * conditional batchnorm.
 */
export function rowInputs(row: Row): Float32Array[] {
  const inputs = makeInputs(row.spec, 1);
  if (row.variant === 'linear' && row.spec.kind === 'matmul') {
    const r = rng(2);
    const bias = Float32Array.from({ length: row.spec.N }, () => 2 * r() - 1);
    return [...inputs, bias];
  }
  if (row.variant === 'conditional' && row.spec.kind === 'batchnorm') {
    const r = rng(3);
    const nc = row.spec.N * row.spec.C;
    const gain = Float32Array.from({ length: nc }, () => r() - 0.5);
    const bias = Float32Array.from({ length: nc }, () => r() - 0.5);
    return [inputs[0], gain, bias, inputs[3], inputs[4]];
  }
  return inputs;
}

/** The inputs the peers get (the plain spec's). */
export function peerInputs(row: Row, inputs: Float32Array[]): Float32Array[] {
  return row.variant === 'linear' ? inputs.slice(0, 2) : inputs;
}

/** Float64 reference of the row's output, including the engine variant's extras. */
export function rowReference(row: Row, inputs: Float32Array[]): Float64Array {
  const spec = row.spec;
  if (row.variant === 'linear' && spec.kind === 'matmul') {
    const y = reference(spec, inputs.slice(0, 2));
    const b = inputs[2];
    for (let m = 0; m < spec.M; m++) for (let n = 0; n < spec.N; n++) y[m * spec.N + n] += b[n];
    return y;
  }
  if (row.variant === 'conditional' && spec.kind === 'batchnorm') {
    const [x, gain, bias, mean, vr] = inputs;
    const { N, C, H, W } = spec;
    const eps = spec.eps ?? 1e-5;
    const y = new Float64Array(x.length);
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++) {
        const sc = (1 + gain[n * C + c]) / Math.sqrt(vr[c] + eps);
        for (let i = 0; i < H * W; i++) {
          const at = (n * C + c) * H * W + i;
          y[at] = (x[at] - mean[c]) * sc + bias[n * C + c];
        }
      }
    return y;
  }
  return reference(spec, inputs);
}

/** Transpose a (rows, cols) row-major matrix. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

export function prepareOurs(row: Row, inputs: Float32Array[]): OurOp {
  const spec = row.spec;
  const held: Tensor[] = [];
  const up = (data: Float32Array | Int32Array, shape: number[]) => {
    const t = tensor(data, shape);
    held.push(t);
    return t;
  };
  let run: () => Tensor;
  let notes: string[];
  switch (spec.kind) {
    case 'matmul': {
      const a = up(inputs[0], [spec.M, spec.K]);
      if (row.variant === 'linear') {
        const w = up(transpose(inputs[1], spec.K, spec.N), [spec.N, spec.K]);
        const b = up(inputs[2], [spec.N]);
        run = () => linear(a, w, b);
        notes = ['linear(x, W, b): x W^T + b, bias fused (peers: A @ B without bias)'];
      } else {
        const b = up(inputs[1], [spec.K, spec.N]);
        run = () => matmul(a, b);
        notes = ['matmul(A, B)'];
      }
      break;
    }
    case 'conv2d': {
      const x = up(inputs[0], [spec.N, spec.C, spec.H, spec.W]);
      const w = up(inputs[1], [spec.O, spec.C, spec.k, spec.k]);
      const b = spec.bias ? up(inputs[2], [spec.O]) : null;
      run = () => conv2d(x, w, b, { stride: spec.stride, padding: spec.pad });
      notes = [`conv2d(x, w${b ? ', b' : ''}) forward`];
      break;
    }
    case 'conv2dInputGrad': {
      const Ho = Math.floor((spec.H + 2 * spec.pad - spec.k) / spec.stride) + 1;
      const Wo = Math.floor((spec.W + 2 * spec.pad - spec.k) / spec.stride) + 1;
      const dy = up(inputs[0], [spec.N, spec.O, Ho, Wo]);
      const w = up(inputs[1], [spec.O, spec.C, spec.k, spec.k]);
      const shape = [spec.N, spec.C, spec.H, spec.W];
      run = () => conv2dInputGrad(dy, w, shape, { stride: spec.stride, padding: spec.pad });
      notes = ['conv2dInputGrad(dy, w): the input gradient conv2d\'s backward computes'];
      break;
    }
    case 'batchnorm': {
      const { N, C, H, W } = spec;
      const x = up(inputs[0], [N, C, H, W]);
      const mean = up(inputs[3], [C]);
      const vr = up(inputs[4], [C]);
      const eps = spec.eps ?? 1e-5;
      if (row.variant === 'conditional') {
        const gain = up(inputs[1], [N, C]);
        const bias = up(inputs[2], [N, C]);
        run = () => conditionalBatchNorm(x, gain, bias, mean, vr, { training: false, eps });
        notes = ['conditionalBatchNorm, eval mode (running statistics), per-sample gain/bias'];
      } else {
        const gamma = up(inputs[1], [C]);
        const beta = up(inputs[2], [C]);
        run = () => batchNorm(x, mean, vr, gamma, beta, { training: false, eps });
        notes = ['batchNorm, eval mode (running statistics)'];
      }
      break;
    }
    case 'upsampleNearest': {
      const x = up(inputs[0], [spec.N, spec.C, spec.H, spec.W]);
      run = () => upsampleNearest(x, spec.factor);
      notes = [`upsampleNearest(x, ${spec.factor})`];
      break;
    }
    case 'maxPool2x2': {
      const x = up(inputs[0], [spec.N, spec.C, spec.H, spec.W]);
      run = () => maxPool2d(x, 2);
      notes = ['maxPool2d(x, 2) (also writes the int32 argmax its backward uses)'];
      break;
    }
    case 'adaptiveAvgPool': {
      const x = up(inputs[0], [spec.N, spec.C, spec.H, spec.W]);
      run = () => adaptiveAvgPool2d(x, [spec.outH, spec.outW]);
      notes = ['adaptiveAvgPool2d'];
      break;
    }
    case 'softmaxCrossEntropy': {
      const logits = up(inputs[0], [spec.B, spec.classes]);
      const targets = up(Int32Array.from(inputs[1]), [spec.B]);
      run = () => crossEntropy(logits, targets);
      notes = ['crossEntropy(logits, targets): per-row loss kernel + mean'];
      break;
    }
    case 'attention': {
      const { N, C, H, W } = spec;
      const x = up(inputs[0], [N, C, H, W]);
      const theta = up(inputs[1], [C / 8, C, 1, 1]);
      const phi = up(inputs[2], [C / 8, C, 1, 1]);
      const g = up(inputs[3], [C / 2, C, 1, 1]);
      const o = up(inputs[4], [C, C / 2, 1, 1]);
      const gamma = up(inputs[5], []);
      run = () => selfAttention(x, { theta, phi, g, o, gamma });
      notes = ['selfAttention: the whole block (1x1 convs, 2x2 max-pools, attention core, residual add)'];
      break;
    }
  }
  return {
    run,
    notes,
    dispose: () => {
      for (const t of held) t.dispose();
    },
  };
}
