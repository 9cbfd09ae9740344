/**
 * Naive float64 CPU references for every KernelSpec, NCHW / PyTorch semantics, inputs as in
 * types.ts. Meant for small shapes (correctness checks), not speed.
 */
import type { KernelSpec } from './types.js';
import { convOutSize, outputShape, numel } from './spec.js';

type F64 = Float64Array;

function matmul(A: ArrayLike<number>, B: ArrayLike<number>, M: number, K: number, N: number): F64 {
  const Y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let k = 0; k < K; k++) {
      const a = A[m * K + k];
      for (let n = 0; n < N; n++) Y[m * N + n] += a * B[k * N + n];
    }
  return Y;
}

function conv2d(
  x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | undefined,
  N: number, C: number, H: number, W: number, O: number, k: number, s: number, p: number,
): F64 {
  const Ho = Math.floor((H + 2 * p - k) / s) + 1, Wo = Math.floor((W + 2 * p - k) / s) + 1;
  const y = new Float64Array(N * O * Ho * Wo);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++) {
          let acc = b ? b[o] : 0;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < k; i++) {
              const ih = oh * s - p + i;
              if (ih < 0 || ih >= H) continue;
              for (let j = 0; j < k; j++) {
                const iw = ow * s - p + j;
                if (iw < 0 || iw >= W) continue;
                acc += x[((n * C + c) * H + ih) * W + iw] * w[((o * C + c) * k + i) * k + j];
              }
            }
          y[((n * O + o) * Ho + oh) * Wo + ow] = acc;
        }
  return y;
}

function maxPool2(x: ArrayLike<number>, N: number, C: number, H: number, W: number): F64 {
  const Ho = Math.floor(H / 2), Wo = Math.floor(W / 2);
  const y = new Float64Array(N * C * Ho * Wo);
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++) {
        let m = -Infinity;
        for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) m = Math.max(m, x[(nc * H + 2 * i + a) * W + 2 * j + b]);
        y[(nc * Ho + i) * Wo + j] = m;
      }
  return y;
}

/** Float64 reference output of `spec` (layout = outputShape(spec)). */
export function reference(spec: KernelSpec, inputs: Float32Array[]): Float64Array {
  switch (spec.kind) {
    case 'matmul':
      return matmul(inputs[0], inputs[1], spec.M, spec.K, spec.N);
    case 'conv2d':
      return conv2d(inputs[0], inputs[1], spec.bias ? inputs[2] : undefined,
        spec.N, spec.C, spec.H, spec.W, spec.O, spec.k, spec.stride, spec.pad);
    case 'conv2dInputGrad': {
      const [dy, w] = inputs;
      const { N, C, H, W, O, k, stride: s, pad: p } = spec;
      const { Ho, Wo } = convOutSize(spec);
      const dx = new Float64Array(N * C * H * W);
      for (let n = 0; n < N; n++)
        for (let o = 0; o < O; o++)
          for (let oh = 0; oh < Ho; oh++)
            for (let ow = 0; ow < Wo; ow++) {
              const g = dy[((n * O + o) * Ho + oh) * Wo + ow];
              for (let c = 0; c < C; c++)
                for (let i = 0; i < k; i++) {
                  const ih = oh * s - p + i;
                  if (ih < 0 || ih >= H) continue;
                  for (let j = 0; j < k; j++) {
                    const iw = ow * s - p + j;
                    if (iw < 0 || iw >= W) continue;
                    dx[((n * C + c) * H + ih) * W + iw] += g * w[((o * C + c) * k + i) * k + j];
                  }
                }
            }
      return dx;
    }
    case 'batchnorm': {
      const [x, gamma, beta, mean, vr] = inputs;
      const { N, C, H, W } = spec;
      const eps = spec.eps ?? 1e-5;
      const y = new Float64Array(x.length);
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          const sc = gamma[c] / Math.sqrt(vr[c] + eps);
          for (let i = 0; i < H * W; i++) {
            const idx = (n * C + c) * H * W + i;
            y[idx] = (x[idx] - mean[c]) * sc + beta[c];
          }
        }
      return y;
    }
    case 'upsampleNearest': {
      const [x] = inputs;
      const { N, C, H, W, factor: f } = spec;
      const Ho = H * f, Wo = W * f;
      const y = new Float64Array(N * C * Ho * Wo);
      for (let nc = 0; nc < N * C; nc++)
        for (let i = 0; i < Ho; i++)
          for (let j = 0; j < Wo; j++) y[(nc * Ho + i) * Wo + j] = x[(nc * H + Math.floor(i / f)) * W + Math.floor(j / f)];
      return y;
    }
    case 'maxPool2x2':
      return maxPool2(inputs[0], spec.N, spec.C, spec.H, spec.W);
    case 'adaptiveAvgPool': {
      // PyTorch's bins: [floor(i*H/outH), ceil((i+1)*H/outH))
      const [x] = inputs;
      const { N, C, H, W, outH, outW } = spec;
      const y = new Float64Array(N * C * outH * outW);
      for (let nc = 0; nc < N * C; nc++)
        for (let i = 0; i < outH; i++)
          for (let j = 0; j < outW; j++) {
            const h0 = Math.floor((i * H) / outH), h1 = Math.ceil(((i + 1) * H) / outH);
            const w0 = Math.floor((j * W) / outW), w1 = Math.ceil(((j + 1) * W) / outW);
            let acc = 0;
            for (let a = h0; a < h1; a++) for (let b = w0; b < w1; b++) acc += x[(nc * H + a) * W + b];
            y[(nc * outH + i) * outW + j] = acc / ((h1 - h0) * (w1 - w0));
          }
      return y;
    }
    case 'softmaxCrossEntropy': {
      const [logits, labels] = inputs;
      const { B, classes } = spec;
      const losses = new Float64Array(B);
      for (let b = 0; b < B; b++) {
        let m = -Infinity;
        for (let c = 0; c < classes; c++) m = Math.max(m, logits[b * classes + c]);
        let s = 0;
        for (let c = 0; c < classes; c++) s += Math.exp(logits[b * classes + c] - m);
        losses[b] = m + Math.log(s) - logits[b * classes + labels[b]];
      }
      if ((spec.reduction ?? 'mean') === 'none') return losses;
      return Float64Array.of(losses.reduce((a, b) => a + b, 0) / B);
    }
    case 'attention': {
      const [x, wT, wP, wG, wO, gamma] = inputs;
      const { N, C, H, W } = spec;
      const C8 = C / 8, C2 = C / 2, HW = H * W, HW4 = (H / 2) * (W / 2);
      const theta = conv2d(x, wT, undefined, N, C, H, W, C8, 1, 1, 0); // (N,C8,HW)
      const phi = maxPool2(conv2d(x, wP, undefined, N, C, H, W, C8, 1, 1, 0), N, C8, H, W); // (N,C8,HW4)
      const g = maxPool2(conv2d(x, wG, undefined, N, C, H, W, C2, 1, 1, 0), N, C2, H, W); // (N,C2,HW4)
      const og = new Float64Array(N * C2 * HW); // g beta^T : (N,C2,HW)
      const row = new Float64Array(HW4);
      for (let n = 0; n < N; n++)
        for (let q = 0; q < HW; q++) {
          let m = -Infinity;
          for (let kk = 0; kk < HW4; kk++) {
            let s = 0;
            for (let c = 0; c < C8; c++) s += theta[(n * C8 + c) * HW + q] * phi[(n * C8 + c) * HW4 + kk];
            row[kk] = s;
            m = Math.max(m, s);
          }
          let z = 0;
          for (let kk = 0; kk < HW4; kk++) z += row[kk] = Math.exp(row[kk] - m);
          for (let c = 0; c < C2; c++) {
            let acc = 0;
            for (let kk = 0; kk < HW4; kk++) acc += g[(n * C2 + c) * HW4 + kk] * row[kk];
            og[(n * C2 + c) * HW + q] = acc / z;
          }
        }
      const o = conv2d(og, wO, undefined, N, C2, H, W, C, 1, 1, 0);
      const y = new Float64Array(o.length);
      for (let i = 0; i < y.length; i++) y[i] = x[i] + gamma[0] * o[i];
      return y;
    }
  }
}

export interface Comparison {
  ok: boolean;
  maxAbsErr: number;
  /** max |got - ref| / (atol + rtol |ref|) */
  worst: number;
  message: string;
}

/** Elementwise check |got - ref| <= atol + rtol |ref| (defaults suit float32 GPU math). */
export function compare(spec: KernelSpec, got: Float32Array, ref: Float64Array, atol = 1e-4, rtol = 1e-3): Comparison {
  const n = numel(outputShape(spec));
  if (got.length !== n || ref.length !== n) {
    return { ok: false, maxAbsErr: Infinity, worst: Infinity, message: `length ${got.length}, expected ${n}` };
  }
  let maxAbsErr = 0, worst = 0, at = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.abs(got[i] - ref[i]);
    const r = e / (atol + rtol * Math.abs(ref[i]));
    if (!(e <= maxAbsErr)) maxAbsErr = Number.isNaN(e) ? Infinity : e;
    if (!(r <= worst)) { worst = Number.isNaN(r) ? Infinity : r; at = i; }
  }
  const ok = worst <= 1;
  return { ok, maxAbsErr, worst, message: ok ? 'ok' : `mismatch at ${at}: got ${got[at]}, ref ${ref[at]}` };
}
