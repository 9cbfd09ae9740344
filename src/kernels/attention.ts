// BigGAN's self-attention block (MODELS.md, "Self-attention"). The 1x1 convs and max pools are
// matmul and maxPool2d; the attention core g softmax(theta^T phi)^T runs fused
// (shaders/attention.wgsl). selfAttentionComposed builds the core from matmul and softmax
// instead: it is the reference the fused version is tested against.
import { record } from './grad.js';
import { kernelFamily, type KernelFamily, type LayoutDeclaration } from '../engine/kernelFamily.js';
import { grid, runtime } from '../engine/runtime.js';
import { splitUnits } from '../engine/split.js';
import { assertFloat, empty, formatShape, type Tensor } from '../engine/tensor.js';
import { flatIndex } from '../engine/wgsl.js';
import { add, mul } from './elementwise.js';
import { matmul, mmKernel } from './matmul.js';
import { maxPool2d } from './pool.js';
import { sum } from './reduce.js';
import { softmax } from './softmax.js';

const WORKGROUP = 64;
/** Value channels per thread in the forward (CHUNK in the shader). */
const CHUNK = 16;

/** attend (attendShared): queries theta, keys phi, values g -> out and the log-sum-exp per query. */
const attendLayout: LayoutDeclaration = {
  uniform: 'p',
  buffers: { theta: 'read f32', phi: 'read f32 vec4f', g: 'read f32', out: 'write f32', lseOut: 'write f32' },
};
/** attendProbabilities (attendProbabilitiesShared): theta, phi, lse -> the attention matrix (B, P, M). */
const probabilitiesLayout: LayoutDeclaration = {
  uniform: 'p',
  buffers: { theta: 'read f32', phi: 'read f32 vec4f', lse: 'read f32', probs: 'write f32 vec4f' },
};

const plainKernels = kernelFamily('attention', {
  uniforms: { p: { B: 'u32', P: 'u32', M: 'u32', K: 'u32', V: 'u32' } },
  layouts: {
    attend: attendLayout,
    attendProbabilities: probabilitiesLayout,
    // probs, dPr (B, P, M), rowDot (B, P) -> dS (B, P, M)
    attendScoreGrad: { uniform: 'p', buffers: { probsIn: 'read f32', gradProbs: 'read f32', rowDot: 'read f32', gradScores: 'write f32' } },
  },
  prelude: [flatIndex],
});

const subgroupKernels = plainKernels.with('attentionSubgroups', {
  layouts: { attendShared: attendLayout, attendProbabilitiesShared: probabilitiesLayout },
});

/** 1x1 conv weights (Cout, Cin, 1, 1), no bias; gamma a scalar (a tensor of one element, or a number). */
export interface AttentionWeights {
  theta: Tensor;
  phi: Tensor;
  g: Tensor;
  o: Tensor;
  gamma: Tensor | number;
}

/**
 * Use the subgroup variant of the forward (shaders/attentionSubgroups.wgsl) where the device has
 * subgroups at least 8 wide, the query count is a multiple of 8 and K <= 8. The suite switches
 * this off to cover the plain kernel too.
 */
export const attentionSettings = { subgroups: true };

type Sizes = { B: number; P: number; M: number; K: number; V: number };

/**
 * `threads` per image over the batch; images are independent, so operands over the binding-size
 * limit go in parts of the batch (src/engine/split.ts): `reads` and `writes` are all batch-first.
 */
function launch(
  kernel: KernelFamily, entry: string, sizes: Sizes, threads: number, reads: Record<string, Tensor>, writes: Record<string, Tensor>,
): void {
  for (const part of splitUnits(`attend (${entry})`, sizes.B, reads, writes)) {
    const buffers = {
      ...Object.fromEntries(Object.entries(reads).map(([name, t]) => [name, part.bind(t)])),
      ...Object.fromEntries(Object.entries(writes).map(([name, t]) => [name, part.write(t)])),
    };
    runtime().launch({
      kernel, entry, constants: { WORKGROUP }, params: { ...sizes, B: part.count }, buffers, workgroups: grid(threads * part.count, WORKGROUP),
    });
    part.done();
  }
}

/**
 * g softmax(theta^T phi)^T, the softmax over keys, for queries theta (B, K, P), keys phi (B, K, M)
 * and values g (B, V, M): output (B, V, P). The forward is one kernel that never stores the
 * attention matrix; backward rebuilds it once and uses matmuls.
 */
export function attend(theta: Tensor, phi: Tensor, g: Tensor): Tensor {
  for (const t of [theta, phi, g]) assertFloat(t, 'attend');
  const [B, K, P] = theta.shape;
  const [M, V] = [phi.shape[2], g.shape[1]];
  if (theta.ndim !== 3 || phi.shape.join() !== [B, K, M].join() || g.shape.join() !== [B, V, M].join()) {
    throw new Error(
      `attend: expected theta (B, K, P), phi (B, K, M), g (B, V, M), got ${formatShape(theta.shape)}, ${formatShape(phi.shape)}, ${formatShape(g.shape)}`,
    );
  }
  const chunks = (n: number) => Math.ceil(n / CHUNK);
  const sizes = { B, P, M, K, V };
  const out = empty([B, V, P]);
  const lse = empty([B, P]);
  const shared = attentionSettings.subgroups && runtime().ctx.hasSubgroups && P % 8 === 0 && K <= 8;
  launch(shared ? subgroupKernels : plainKernels, shared ? 'attendShared' : 'attend', sizes, P * chunks(V),
    { theta, phi, g }, { out, lseOut: lse });
  const result = record('attend', out, [theta, phi, g], (grad) => {
    // Rebuild the attention matrix once, then the gradients are matmuls.
    const probs = empty([B, P, M]);
    const inputs = { theta, phi, lse };
    if (shared && M % 4 === 0) launch(subgroupKernels, 'attendProbabilitiesShared', sizes, P, inputs, { probs });
    else launch(plainKernels, 'attendProbabilities', sizes, P * M, inputs, { probs });
    const gradG = mmKernel(grad, probs, false, false);        // dOut Pr: (B, V, M)
    const gradProbs = mmKernel(grad, g, true, false);         // dOut^T g: (B, P, M)
    const weighted = mul(grad, out);
    const rowDot = sum(weighted, 1);                          // (B, P)
    const gradScores = empty([B, P, M]);
    launch(plainKernels, 'attendScoreGrad', sizes, P * M, { probsIn: probs, gradProbs, rowDot }, { gradScores });
    const gradTheta = mmKernel(phi, gradScores, false, true);  // phi dS^T: (B, K, P)
    const gradPhi = mmKernel(theta, gradScores, false, false); // theta dS: (B, K, M)
    for (const t of [probs, gradProbs, weighted, rowDot, gradScores]) t.dispose();
    return [gradTheta, gradPhi, gradG];
  });
  if (!result.gradFn) lse.dispose();
  return result;
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

function checkShapes(x: Tensor, w: AttentionWeights): void {
  if (x.ndim !== 4 || x.shape[2] % 2 !== 0 || x.shape[3] % 2 !== 0) {
    throw new Error(`selfAttention: input must be (B, C, H, W) with even H and W, got ${formatShape(x.shape)}`);
  }
  const C = x.shape[1];
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
}

/** The block around an attention core: projections in, o projection and residual out. */
function attentionBlock(x: Tensor, w: AttentionWeights, core: (theta: Tensor, phi: Tensor, g: Tensor) => Tensor): Tensor {
  checkShapes(x, w);
  const [B, C, H, W] = x.shape;
  const pixels = x.reshape(B, C, H * W);
  const theta = conv1x1(w.theta, pixels);              // (B, C/8, HW)
  const phi = pooled(conv1x1(w.phi, pixels), H, W);    // (B, C/8, HW/4)
  const g = pooled(conv1x1(w.g, pixels), H, W);        // (B, C/2, HW/4)
  // gamma * o(.) as o's weight scaled by gamma: a (C, C/2) multiply instead of one over (B, C, HW).
  const o = conv1x1(mul(w.o, w.gamma), core(theta, phi, g)); // (B, C, HW)
  return add(x, o.reshape(B, C, H, W));
}

/**
 * out = x + gamma * o(g softmax(theta^T phi)^T) for x (B, C, H, W), H and W even:
 * queries theta at every pixel, keys phi and values g max-pooled 2x2.
 */
export function selfAttention(x: Tensor, w: AttentionWeights): Tensor {
  return attentionBlock(x, w, attend);
}

/** selfAttention with the core composed from matmul and softmax (the reference for the fused one). */
export function selfAttentionComposed(x: Tensor, w: AttentionWeights): Tensor {
  return attentionBlock(x, w, (theta, phi, g) => {
    const beta = softmax(matmul(theta, phi, { transA: true })); // (B, HW, HW/4), softmax over keys
    return matmul(g, beta, { transB: true });
  });
}
