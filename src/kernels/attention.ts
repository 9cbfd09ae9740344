// BigGAN's self-attention block (MODELS.md, "Self-attention"), composed from matmul, max
// pooling, softmax and elementwise ops, so its gradient comes from theirs.
import { formatShape, type Tensor } from '../engine/tensor.js';
import { add, mul } from './elementwise.js';
import { matmul } from './matmul.js';
import { maxPool2d } from './pool.js';
import { softmax } from './softmax.js';

/** 1x1 conv weights (Cout, Cin, 1, 1), no bias; gamma a scalar (a tensor of one element, or a number). */
export interface AttentionWeights {
  theta: Tensor;
  phi: Tensor;
  g: Tensor;
  o: Tensor;
  gamma: Tensor | number;
}

/** A bias-free 1x1 conv of x viewed (B, Cin, P): W (Cout, Cin) shared across the batch. */
function conv1x1(weight: Tensor, x: Tensor): Tensor {
  return matmul(weight.reshape(weight.shape[0], weight.shape[1]), x);
}

/** maxpool2x2 on (B, C, H*W) viewed as images, back to (B, C, H*W/4). */
function pooled(t: Tensor, H: number, W: number): Tensor {
  const [B, C] = t.shape;
  return maxPool2d(t.reshape(B, C, H, W), 2).reshape(B, C, (H * W) / 4);
}

/**
 * out = x + gamma * o(g softmax(theta^T phi)^T) for x (B, C, H, W), H and W even:
 * queries theta at every pixel, keys phi and values g max-pooled 2x2.
 */
export function selfAttention(x: Tensor, w: AttentionWeights): Tensor {
  if (x.ndim !== 4 || x.shape[2] % 2 !== 0 || x.shape[3] % 2 !== 0) {
    throw new Error(`selfAttention: input must be (B, C, H, W) with even H and W, got ${formatShape(x.shape)}`);
  }
  const [B, C, H, W] = x.shape;
  for (const [name, weight] of Object.entries({ theta: w.theta, phi: w.phi, g: w.g, o: w.o })) {
    const cin = name === 'o' ? w.g.shape[0] : C;
    const cout = name === 'o' ? C : weight.shape[0];
    if (weight.shape.join() !== [cout, cin, 1, 1].join()) {
      throw new Error(`selfAttention: ${name} weight must be ${formatShape([cout, cin, 1, 1])}, got ${formatShape(weight.shape)}`);
    }
  }
  if (w.theta.shape[0] !== w.phi.shape[0]) {
    throw new Error(`selfAttention: theta and phi must have as many channels, got ${w.theta.shape[0]} and ${w.phi.shape[0]}`);
  }
  const pixels = x.reshape(B, C, H * W);
  const theta = conv1x1(w.theta, pixels);                      // (B, C/8, HW)
  const phi = pooled(conv1x1(w.phi, pixels), H, W);            // (B, C/8, HW/4)
  const g = pooled(conv1x1(w.g, pixels), H, W);                // (B, C/2, HW/4)
  const beta = softmax(matmul(theta, phi, { transA: true }));  // (B, HW, HW/4), softmax over keys
  const o = conv1x1(w.o, matmul(g, beta, { transB: true }));   // (B, C, HW)
  return add(x, mul(o, w.gamma).reshape(B, C, H, W));
}
