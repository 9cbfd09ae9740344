// Float64 reference for one BigGAN generator block with self-attention (MODELS.md, steps 4-6),
// composed from the per-op references.
import { selfAttentionRef, type AttentionRefWeights } from './attention.js';
import { conditionalBatchNormRef, type BatchNormRefOptions } from './batchnorm.js';
import { upsampleNearestRef } from './pool.js';

/** PyTorch's conv2d (cross-correlation), stride 1, zero padding `pad`, with bias. */
export function conv2dRef(
  x: Float64Array, xShape: readonly number[], w: Float64Array, wShape: readonly number[], bias: Float64Array, pad: number,
): Float64Array {
  const [B, C, H, W] = xShape;
  const [O, , kh, kw] = wShape;
  const Ho = H + 2 * pad - kh + 1;
  const Wo = W + 2 * pad - kw + 1;
  const y = new Float64Array(B * O * Ho * Wo);
  for (let n = 0; n < B; n++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          let s = bias[o];
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy - pad + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox - pad + kx;
                if (ix < 0 || ix >= W) continue;
                s += x[((n * C + c) * H + iy) * W + ix] * w[((o * C + c) * kh + ky) * kw + kx];
              }
            }
          y[((n * O + o) * Ho + oy) * Wo + ox] = s;
        }
  return y;
}

export interface BlockRefParams {
  Cin: number;
  Cout: number;
  gain1: Float64Array; // (B, Cin)
  bias1: Float64Array;
  gain2: Float64Array; // (B, Cout)
  bias2: Float64Array;
  conv1: { w: Float64Array; b: Float64Array }; // (Cout, Cin, 3, 3)
  conv2: { w: Float64Array; b: Float64Array }; // (Cout, Cout, 3, 3)
  convSc: { w: Float64Array; b: Float64Array }; // (Cout, Cin, 1, 1)
  attention: AttentionRefWeights;
  /** Batchnorm statistics: batch (training) or running (eval) for bn1 and bn2. */
  bn1: BatchNormRefOptions;
  bn2: BatchNormRefOptions;
}

const relu = (v: Float64Array) => v.map((a) => Math.max(a, 0));

/** x (B, Cin, H, W) -> (B, Cout, 2H, 2W). */
export function bigGanBlockRef(x: Float64Array, shape: readonly number[], p: BlockRefParams): Float64Array {
  const [B, , H, W] = shape;
  const up = [B, p.Cin, 2 * H, 2 * W];
  const upOut = [B, p.Cout, 2 * H, 2 * W];
  let h: Float64Array = relu(conditionalBatchNormRef(x, B, p.Cin, p.gain1, p.bias1, p.bn1));
  h = upsampleNearestRef(h, shape, 2);
  h = conv2dRef(h, up, p.conv1.w, [p.Cout, p.Cin, 3, 3], p.conv1.b, 1);
  h = relu(conditionalBatchNormRef(h, B, p.Cout, p.gain2, p.bias2, p.bn2));
  h = conv2dRef(h, upOut, p.conv2.w, [p.Cout, p.Cout, 3, 3], p.conv2.b, 1);
  const shortcut = conv2dRef(upsampleNearestRef(x, shape, 2), up, p.convSc.w, [p.Cout, p.Cin, 1, 1], p.convSc.b, 0);
  return selfAttentionRef(h.map((v, i) => v + shortcut[i]), upOut, p.attention);
}
