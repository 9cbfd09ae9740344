// The BigGAN generator (BigGAN-PyTorch layout, MODELS.md). Loaded, it is frozen and in eval mode
// (running statistics); `cgan cgan --generator` fine-tunes one in training mode (batch statistics,
// running statistics updated with BigGAN-PyTorch's momentum 0.1). Spectral norm is baked into the
// weights at conversion (families/biggan.ts), so every layer here is a plain conv or linear under
// the checkpoint's own key names, and fine-tuning trains those effective weights.
import { formatShape, Tensor, tensor } from '../engine/tensor.js';
import { batchNorm, batchNormRelu, conditionalBatchNorm, conditionalBatchNormRelu } from '../kernels/batchnorm.js';
import { selfAttention } from '../kernels/attention.js';
import { add, tanh } from '../kernels/elementwise.js';
import { embedding } from '../kernels/gather.js';
import { linear, matmul } from '../kernels/matmul.js';
import { concat, split } from '../kernels/shape.js';
import { upsampleConv2d } from '../kernels/conv2d.js';
import { upsampleNearest } from '../kernels/upsample.js';
import type { ImageGenerator } from './family.js';
import { Conv2d, Linear, Module, NormBase } from './module.js';

export interface AttentionConfig {
  /** Index of the block the attention follows (its key prefix is blocks.{block}.1). */
  block: number;
  /** Channels of theta and phi (C/8 in BigGAN-PyTorch). */
  keyChannels: number;
  /** Channels of g (C/2 in BigGAN-PyTorch). */
  valueChannels: number;
}

export interface BigGANConfig {
  /** Output side: bottomWidth * 2^blocks. */
  resolution: number;
  bottomWidth: number;
  /** Length of z the generator takes. */
  dimZ: number;
  /** Input size of `linear` (a chunk of z when hierarchical, all of z otherwise). */
  zChunk: number;
  nClasses: number;
  sharedDim: number;
  hierarchical: boolean;
  /** channels[0] is the width after `linear`; channels[i + 1] the output width of block i. */
  channels: number[];
  attention: AttentionConfig[];
  outChannels: number;
  /** Batchnorm epsilon (BigGAN-PyTorch's default for G). */
  eps: number;
}


/** Uninitialised-looking zeros; loadStateDict fills every parameter. */
const zeros = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);

/** An ordered container whose children are named 0, 1, ... (torch's nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];

  push(m: M): M {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return m;
  }
}

/** The class embedding `shared` (nn.Embedding). */
class Embedding extends Module {
  readonly weight: Tensor;
  constructor(rows: number, width: number) {
    super();
    this.weight = this.registerParameter('weight', zeros([rows, width]));
  }
  forward(indices: Tensor | ArrayLike<number>): Tensor {
    return embedding(this.weight, indices);
  }
}

/**
 * Conditional batchnorm (ccbn): running statistics of its own, no affine; the per-sample gain
 * and bias are linear maps (no bias) of the conditioning vector y.
 *   out = (x - mean) / sqrt(var + eps) * (1 + gain(y)) + bias(y)
 */
class ConditionalBatchNorm extends NormBase {
  readonly gain: Linear;
  readonly bias: Linear;
  readonly storedMean: Tensor;
  readonly storedVar: Tensor;

  constructor(channels: number, condDim: number, eps: number) {
    super(eps);
    this.gain = this.registerModule('gain', new Linear(condDim, channels, { bias: false }));
    this.bias = this.registerModule('bias', new Linear(condDim, channels, { bias: false }));
    this.storedMean = this.registerBuffer('stored_mean', zeros([channels]));
    this.storedVar = this.registerBuffer('stored_var', zeros([channels]));
  }

  get runningStatistics(): [Tensor, Tensor] {
    return [this.storedMean, this.storedVar];
  }

  forward(x: Tensor, y: Tensor): Tensor {
    return conditionalBatchNorm(x, this.gain.forward(y), this.bias.forward(y), this.storedMean, this.storedVar, this.settings());
  }

  /** relu(forward(x, y)), the relu fused into the batchnorm's passes. */
  forwardRelu(x: Tensor, y: Tensor): Tensor {
    return conditionalBatchNormRelu(x, this.gain.forward(y), this.bias.forward(y), this.storedMean, this.storedVar, this.settings());
  }
}

/** BigGAN-PyTorch's plain `bn`: affine parameters named gain and bias. */
class OutputBatchNorm extends NormBase {
  readonly gain: Tensor;
  readonly bias: Tensor;
  readonly storedMean: Tensor;
  readonly storedVar: Tensor;

  constructor(channels: number, eps: number) {
    super(eps);
    this.gain = this.registerParameter('gain', zeros([channels]));
    this.bias = this.registerParameter('bias', zeros([channels]));
    this.storedMean = this.registerBuffer('stored_mean', zeros([channels]));
    this.storedVar = this.registerBuffer('stored_var', zeros([channels]));
  }

  get runningStatistics(): [Tensor, Tensor] {
    return [this.storedMean, this.storedVar];
  }

  forward(x: Tensor): Tensor {
    return batchNorm(x, this.storedMean, this.storedVar, this.gain, this.bias, this.settings());
  }

  /** relu(forward(x)), the relu fused into the batchnorm's passes. */
  forwardRelu(x: Tensor): Tensor {
    return batchNormRelu(x, this.storedMean, this.storedVar, this.gain, this.bias, this.settings());
  }
}

/**
 * GBlock: h' = relu(bn1(h, y)); upsample h' and the shortcut h; h' = conv1(h');
 * h' = conv2(relu(bn2(h', y))); out = h' + conv_sc(upsampled h).
 */
class GBlock extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly convSc: Conv2d;
  readonly bn1: ConditionalBatchNorm;
  readonly bn2: ConditionalBatchNorm;

  constructor(cin: number, cout: number, condDim: number, eps: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(cin, cout, 3, { padding: 1 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(cout, cout, 3, { padding: 1 }));
    this.convSc = this.registerModule('conv_sc', new Conv2d(cin, cout, 1));
    this.bn1 = this.registerModule('bn1', new ConditionalBatchNorm(cin, condDim, eps));
    this.bn2 = this.registerModule('bn2', new ConditionalBatchNorm(cout, condDim, eps));
  }

  forward(x: Tensor, y: Tensor): Tensor {
    let h = this.bn1.forwardRelu(x, y); // relu(bn1(x, y))
    // upsample x2, then conv1: one kernel, the conv reading its input at (y / 2, x / 2)
    h = upsampleConv2d(h, this.conv1.weight, this.conv1.bias, 2);
    h = this.conv2.forward(this.bn2.forwardRelu(h, y)); // conv2(relu(bn2(h, y)))
    // conv_sc(upsample(x)) = upsample(conv_sc(x)) for a 1x1 conv: 4x fewer multiply-adds
    return add(h, upsampleNearest(this.convSc.forward(x), 2));
  }
}

/** Self-attention: out = x + gamma * o(g softmax(theta^T phi)^T), phi and g max-pooled 2x2. */
class Attention extends Module {
  readonly theta: Conv2d;
  readonly phi: Conv2d;
  readonly g: Conv2d;
  readonly o: Conv2d;
  readonly gamma: Tensor;

  constructor(channels: number, spec: AttentionConfig) {
    super();
    this.theta = this.registerModule('theta', new Conv2d(channels, spec.keyChannels, 1, { bias: false }));
    this.phi = this.registerModule('phi', new Conv2d(channels, spec.keyChannels, 1, { bias: false }));
    this.g = this.registerModule('g', new Conv2d(channels, spec.valueChannels, 1, { bias: false }));
    this.o = this.registerModule('o', new Conv2d(spec.valueChannels, channels, 1, { bias: false }));
    this.gamma = this.registerParameter('gamma', zeros([]));
  }

  forward(x: Tensor): Tensor {
    return selfAttention(x, {
      theta: this.theta.weight,
      phi: this.phi.weight,
      g: this.g.weight,
      o: this.o.weight,
      gamma: this.gamma,
    });
  }
}

/** output_layer: batchnorm (index 0), relu (1), 3x3 conv (2); then tanh. */
class OutputLayer extends Module {
  readonly bn: OutputBatchNorm;
  readonly conv: Conv2d;

  constructor(channels: number, outChannels: number, eps: number) {
    super();
    this.bn = this.registerModule('0', new OutputBatchNorm(channels, eps));
    this.conv = this.registerModule('2', new Conv2d(channels, outChannels, 3, { padding: 1 }));
  }

  forward(h: Tensor): Tensor {
    return tanh(this.conv.forward(this.bn.forwardRelu(h))); // tanh(conv(relu(bn(h))))
  }
}

export class BigGANGenerator extends Module implements ImageGenerator {
  readonly shared: Embedding;
  readonly linear: Linear;
  /** blocks.{i}.0 is block i; blocks.{i}.1 its attention, where there is one. */
  readonly blocks: ModuleList<ModuleList>;
  readonly outputLayer: OutputLayer;

  constructor(readonly config: BigGANConfig) {
    super();
    const c = config;
    const condDim = c.hierarchical ? c.sharedDim + c.zChunk : c.sharedDim;
    const bw = c.bottomWidth;
    this.shared = this.registerModule('shared', new Embedding(c.nClasses, c.sharedDim));
    this.linear = this.registerModule('linear', new Linear(c.zChunk, c.channels[0] * bw * bw));
    this.blocks = this.registerModule('blocks', new ModuleList<ModuleList>());
    for (let i = 0; i + 1 < c.channels.length; i++) {
      const entry = this.blocks.push(new ModuleList());
      entry.push(new GBlock(c.channels[i], c.channels[i + 1], condDim, c.eps));
      const att = c.attention.find((a) => a.block === i);
      if (att) entry.push(new Attention(c.channels[i + 1], att));
    }
    this.outputLayer = this.registerModule('output_layer', new OutputLayer(c.channels.at(-1)!, c.outChannels, c.eps));
    this.eval();
  }

  get dimZ(): number {
    return this.config.dimZ;
  }

  get resolution(): number {
    return this.config.resolution;
  }

  get numClasses(): number {
    return this.config.nClasses;
  }

  /**
   * z (B, dimZ) and one class index per sample (default: class 0, which is the only one of an
   * unconditional generator) -> images (B, outChannels, R, R) in [-1, 1].
   */
  forward(z: Tensor, classes?: Tensor | ArrayLike<number>): Tensor {
    const c = this.config;
    if (z.ndim !== 2 || z.shape[1] !== c.dimZ) {
      throw new Error(`BigGANGenerator: z must be (batch, ${c.dimZ}), got ${formatShape(z.shape)}`);
    }
    const B = z.shape[0];
    // 1. y = shared.weight[class], or a class vector's mixture of the rows
    const y = classes instanceof Tensor && classes.ndim === 2 ? this.mixClasses(B, classes) : this.shared.forward(this.classIndices(B, classes));
    // 2. Hierarchical latents: chunk 0 feeds linear, chunk i+1 joins y for block i.
    const blockCount = this.blocks.items.length;
    const zs = c.hierarchical ? split(z, new Array<number>(blockCount + 1).fill(c.zChunk), 1) : [z];
    // 3. h = linear(z0) as (B, C0, bw, bw)
    let h = this.linear.forward(zs[0]).reshape(B, c.channels[0], c.bottomWidth, c.bottomWidth);
    // 4. Blocks, each optionally followed by attention.
    this.blocks.items.forEach((entry, i) => {
      const cond = c.hierarchical ? concat([y, zs[i + 1]], 1) : y;
      h = (entry.items[0] as GBlock).forward(h, cond);
      if (entry.items[1]) h = (entry.items[1] as Attention).forward(h);
    });
    // 7. batchnorm, relu, conv, tanh
    return this.outputLayer.forward(h);
  }

  /** (B, nClasses) class vectors (one-hot or mixtures) -> their mixtures of the shared embedding. */
  private mixClasses(batch: number, classVector: Tensor): Tensor {
    const n = this.config.nClasses;
    if (classVector.shape[0] !== batch || classVector.shape[1] !== n) {
      throw new Error(`BigGANGenerator: the class vector must be (${batch}, ${n}), got ${formatShape(classVector.shape)}`);
    }
    return matmul(classVector, this.shared.weight);
  }

  private classIndices(batch: number, classes?: Tensor | ArrayLike<number>): Tensor | ArrayLike<number> {
    const n = this.config.nClasses;
    if (classes === undefined) {
      if (n !== 1) throw new Error(`BigGANGenerator: a class-conditional generator (${n} classes) needs a class per sample`);
      return new Int32Array(batch);
    }
    const count = classes instanceof Tensor ? classes.size : classes.length;
    if (count !== batch) throw new Error(`BigGANGenerator: ${count} classes for a batch of ${batch}`);
    return classes;
  }
}

