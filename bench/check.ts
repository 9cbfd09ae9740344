// Correctness of one output against float64 CPU math: the full reference (bench/peers/reference.ts,
// plus the engine variants in ours.ts) for small ops, and, for matmuls and convolutions too large
// for a naive CPU loop, the exact float64 value of a random sample of output elements.
import type { KernelSpec } from './peers/types.js';
import { convOutSize, numel, outputShape, rng } from './peers/spec.js';
import type { Row } from './rows.js';
import { rowReference } from './ours.js';

export interface Check {
  ok: boolean;
  /** 'full' (every element) or 'sampled N' (N random elements) */
  method: string;
  maxAbsErr: number;
  /** max |got - ref| / (atol + rtol |ref|); <= 1 passes */
  worst: number;
  message: string;
}

/** Multiply-adds summed into one output element (error grows with it). */
function reductionLength(spec: KernelSpec): number {
  switch (spec.kind) {
    case 'matmul':
      return spec.K;
    case 'conv2d':
      return spec.C * spec.k * spec.k;
    case 'conv2dInputGrad':
      return spec.O * spec.k * spec.k;
    case 'attention':
      return spec.C + (spec.H * spec.W) / 4;
    default:
      return 1;
  }
}

/** Float32 tolerances: atol grows with the square root of the reduction length. */
function tolerances(spec: KernelSpec): { atol: number; rtol: number } {
  return { atol: 1e-4 * Math.max(1, Math.sqrt(reductionLength(spec) / 64)), rtol: 1e-3 };
}

/** Above this many multiply-adds the naive CPU reference is sampled instead of complete. */
const FULL_REFERENCE_MACS = 1.5e8;

function macs(spec: KernelSpec): number {
  if (spec.kind === 'matmul') return spec.M * spec.K * spec.N;
  if (spec.kind === 'conv2d' || spec.kind === 'conv2dInputGrad') {
    const { Ho, Wo } = convOutSize(spec);
    return spec.N * spec.O * Ho * Wo * spec.C * spec.k * spec.k;
  }
  return 0;
}

/** Exact float64 value of output element `i` of a matmul / conv / conv input gradient. */
function element(spec: KernelSpec, inputs: Float32Array[], i: number, extraBias?: Float32Array): number {
  switch (spec.kind) {
    case 'matmul': {
      const [A, B] = inputs;
      const m = Math.floor(i / spec.N), n = i % spec.N;
      let acc = extraBias ? extraBias[n] : 0;
      for (let k = 0; k < spec.K; k++) acc += A[m * spec.K + k] * B[k * spec.N + n];
      return acc;
    }
    case 'conv2d': {
      const [x, w, b] = inputs;
      const { N: _N, C, H, W, O, k, stride: s, pad: p } = spec;
      const { Ho, Wo } = convOutSize(spec);
      const ow = i % Wo, oh = Math.floor(i / Wo) % Ho, o = Math.floor(i / (Wo * Ho)) % O, n = Math.floor(i / (Wo * Ho * O));
      let acc = spec.bias ? b[o] : 0;
      for (let c = 0; c < C; c++)
        for (let a = 0; a < k; a++) {
          const ih = oh * s - p + a;
          if (ih < 0 || ih >= H) continue;
          for (let bb = 0; bb < k; bb++) {
            const iw = ow * s - p + bb;
            if (iw < 0 || iw >= W) continue;
            acc += x[((n * C + c) * H + ih) * W + iw] * w[((o * C + c) * k + a) * k + bb];
          }
        }
      return acc;
    }
    case 'conv2dInputGrad': {
      const [dy, w] = inputs;
      const { C, H, W, O, k, stride: s, pad: p } = spec;
      const { Ho, Wo } = convOutSize(spec);
      const iw = i % W, ih = Math.floor(i / W) % H, c = Math.floor(i / (W * H)) % C, n = Math.floor(i / (W * H * C));
      let acc = 0;
      for (let o = 0; o < O; o++)
        for (let a = 0; a < k; a++) {
          const t = ih + p - a;
          if (t < 0 || t % s !== 0) continue;
          const oh = t / s;
          if (oh >= Ho) continue;
          for (let bb = 0; bb < k; bb++) {
            const u = iw + p - bb;
            if (u < 0 || u % s !== 0) continue;
            const owi = u / s;
            if (owi >= Wo) continue;
            acc += dy[((n * O + o) * Ho + oh) * Wo + owi] * w[((o * C + c) * k + a) * k + bb];
          }
        }
      return acc;
    }
    default:
      throw new Error(`no sampled reference for ${spec.kind}`);
  }
}

/** Compare got[i] with ref(i) at the indices `at` (null: every element). */
function judge(got: Float32Array, at: number[] | null, ref: (i: number) => number, atol: number, rtol: number, method: string): Check {
  let maxAbsErr = 0, worst = 0, bad = -1, badRef = 0;
  const count = at ? at.length : got.length;
  for (let j = 0; j < count; j++) {
    const i = at ? at[j] : j;
    const r = ref(i);
    const e = Math.abs(got[i] - r);
    const q = e / (atol + rtol * Math.abs(r));
    if (!(e <= maxAbsErr)) maxAbsErr = Number.isNaN(e) ? Infinity : e;
    if (!(q <= worst)) {
      worst = Number.isNaN(q) ? Infinity : q;
      bad = i;
      badRef = r;
    }
  }
  const ok = worst <= 1;
  return { ok, method, maxAbsErr, worst, message: ok ? 'ok' : `element ${bad}: got ${got[bad]}, expected ${badRef}` };
}

/**
 * Check `got` (an output of the row's op on `inputs` = rowInputs(row) or, for a peer, the spec's
 * inputs) against float64 math. `engine` says whether got comes from the engine variant of the row.
 */
export function checkOutput(row: Row, inputs: Float32Array[], got: Float32Array, engine: boolean): Check {
  const spec = row.spec;
  const n = numel(outputShape(spec));
  const { atol, rtol } = tolerances(spec);
  if (got.length !== n) {
    return { ok: false, method: 'shape', maxAbsErr: Infinity, worst: Infinity, message: `${got.length} elements, expected ${n}` };
  }
  const extraBias = engine && row.variant === 'linear' ? inputs[2] : undefined;
  if (macs(spec) > FULL_REFERENCE_MACS) {
    const r = rng(12345);
    const count = Math.min(n, 1024);
    const at = Array.from({ length: count }, () => Math.floor(r() * n));
    at.push(0, n - 1);
    return judge(got, at, (i) => element(spec, inputs, i, extraBias), atol, rtol, `sampled ${at.length}`);
  }
  const ref = engine ? rowReference(row, inputs) : rowReference({ ...row, variant: undefined }, inputs);
  return judge(got, null, (i) => ref[i], atol, rtol, 'full');
}
