// Float64 reference for BigGAN's self-attention block, written as BigGAN-PyTorch computes it.
import { matmulRef } from './matmul.js';
import { maxPool2dRef } from './pool.js';
import { softmaxRef } from './softmax.js';

/** 1x1 conv, no bias: W (O, C) times x (B, C, P). */
export function conv1x1Ref(w: Float64Array, O: number, x: Float64Array, B: number, C: number): Float64Array {
  return matmulRef(w, [O, C], x, [B, C, x.length / (B * C)]);
}

/** g softmax(theta^T phi)^T for theta (B, K, P), phi (B, K, M), g (B, V, M): (B, V, P). */
export function attendRef(theta: Float64Array, phi: Float64Array, g: Float64Array, B: number, K: number, P: number, M: number): Float64Array {
  const V = g.length / (B * M);
  const beta = softmaxRef(matmulRef(theta, [B, K, P], phi, [B, K, M], true, false), M); // (B, P, M)
  return matmulRef(g, [B, V, M], beta, [B, P, M], false, true);
}

export interface AttentionRefWeights {
  theta: Float64Array;
  phi: Float64Array;
  g: Float64Array;
  o: Float64Array;
  gamma: number;
}

/** x (B, C, H, W); theta/phi weights (C8, C), g (C2, C), o (C, C2). */
export function selfAttentionRef(x: Float64Array, shape: readonly number[], w: AttentionRefWeights): Float64Array {
  const [B, C, H, W] = shape;
  const P = H * W;
  const C8 = w.theta.length / C;
  const C2 = w.g.length / C;
  const theta = conv1x1Ref(w.theta, C8, x, B, C);
  const phi = maxPool2dRef(conv1x1Ref(w.phi, C8, x, B, C), [B, C8, H, W], 2);
  const g = maxPool2dRef(conv1x1Ref(w.g, C2, x, B, C), [B, C2, H, W], 2);
  const attended = attendRef(theta, phi, g, B, C8, P, P / 4); // (B, C2, P)
  const o = conv1x1Ref(w.o, C, attended, B, C2);
  return x.map((v, i) => v + w.gamma * o[i]);
}
