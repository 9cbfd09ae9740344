// The BigGAN-deep generator in the layout of pytorch-pretrained-BigGAN (MODELS.md), eval mode
// only. Spectral norm is baked into the weights at conversion (families/bigganDeep.ts); every
// batchnorm keeps its per-truncation statistics (n_stats rows) and interpolates them per forward.
import { Rng } from '../engine/random.js';
import { formatShape, Tensor, tensor } from '../engine/tensor.js';
import { batchNormRelu, conditionalBatchNormRelu } from '../kernels/batchnorm.js';
import { selfAttention } from '../kernels/attention.js';
import { add, mulScalar, tanh } from '../kernels/elementwise.js';
import { oneHot } from '../kernels/gather.js';
import { linear } from '../kernels/matmul.js';
import { concat, narrow, permute } from '../kernels/shape.js';
import { conv2d, upsampleConv2d } from '../kernels/conv2d.js';
import { upsampleNearest } from '../kernels/upsample.js';
import { ModuleList } from './biggan.js';
import type { ImageGenerator } from './family.js';
import { Conv2d, FrozenModule, Linear, Module } from './module.js';

export interface BigGANDeepConfig {
  /** Output side: 4 * 2^(up-sampling blocks). */
  resolution: number;
  channelWidth: number;
  /** Length of z; the class embedding has the same width. */
  dimZ: number;
  nClasses: number;
  /** config.json's layers: [up_sample, in, out], widths in units of channelWidth. */
  layers: [boolean, number, number][];
  /**
   * The SelfAttn is inserted before this layer (so module indices after it shift by one); a
   * position outside the layers means none, as in pytorch-pretrained-BigGAN.
   */
  attentionPosition: number;
  /** Rows of batchnorm statistics, one per truncation step of 1 / (nStats - 1). */
  nStats: number;
  /** Batchnorm epsilon (config.json's eps, 1e-4 in the released models). */
  eps: number;
  /** Truncation the statistics are interpolated for, in (0, 1]. */
  truncation: number;
}

/** Whether the generator has a SelfAttn: its position is one of the layers'. */
export const hasAttention = (c: BigGANDeepConfig): boolean => c.attentionPosition >= 0 && c.attentionPosition < c.layers.length;

const zeros = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);

/** A truncation in (0, 1], or a named error. */
export function checkTruncation(truncation: number, where = 'BigGAN-deep'): number {
  if (!(typeof truncation === 'number' && truncation > 0 && truncation <= 1)) {
    throw new Error(`${where}: truncation ${truncation} is outside (0, 1]`);
  }
  return truncation;
}

/**
 * The two statistics rows and weights for a truncation, exactly as pytorch-pretrained-BigGAN
 * picks them: coef, start = modf(truncation / step); row[start] * coef + row[start + 1] * (1 - coef).
 * (The fractional part weighs the lower row: that code's order, kept for parity.)
 */
export function statisticsRows(truncation: number, nStats: number): { start: number; coef: number } {
  const q = truncation / (1.0 / (nStats - 1));
  const start = Math.trunc(q);
  return { start, coef: q - start };
}

/** BigGANBatchNorm's statistics: running_means / running_vars (nStats, C), interpolated per truncation. */
class TruncationStatistics extends Module {
  readonly runningMeans: Tensor;
  readonly runningVars: Tensor;
  constructor(readonly channels: number, readonly nStats: number) {
    super();
    this.runningMeans = this.registerBuffer('running_means', zeros([nStats, channels]));
    this.runningVars = this.registerBuffer('running_vars', zeros([nStats, channels]));
  }

  at(truncation: number): { mean: Tensor; variance: Tensor } {
    const { start, coef } = statisticsRows(truncation, this.nStats);
    const row = (t: Tensor, i: number) => narrow(t, 0, i, 1).reshape(this.channels);
    const pick = (t: Tensor) =>
      coef !== 0 ? add(mulScalar(row(t, start), coef), mulScalar(row(t, start + 1), 1 - coef)) : row(t, start);
    return { mean: pick(this.runningMeans), variance: pick(this.runningVars) };
  }
}

/** Conditional: relu((x - mean) / sqrt(var + eps) * (1 + scale(cond)) + offset(cond)). */
class ConditionalBatchNorm extends TruncationStatistics {
  readonly scale: Linear;
  readonly offset: Linear;
  constructor(channels: number, condDim: number, nStats: number, readonly eps: number) {
    super(channels, nStats);
    this.scale = this.registerModule('scale', new Linear(condDim, channels, { bias: false }));
    this.offset = this.registerModule('offset', new Linear(condDim, channels, { bias: false }));
  }

  forwardRelu(x: Tensor, cond: Tensor, truncation: number): Tensor {
    const { mean, variance } = this.at(truncation);
    return conditionalBatchNormRelu(x, this.scale.forward(cond), this.offset.forward(cond), mean, variance, {
      training: false,
      eps: this.eps,
    });
  }
}

/** The unconditional final batchnorm (weight and bias of its own), then relu. */
class OutputBatchNorm extends TruncationStatistics {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(channels: number, nStats: number, readonly eps: number) {
    super(channels, nStats);
    this.weight = this.registerParameter('weight', zeros([channels]));
    this.bias = this.registerParameter('bias', zeros([channels]));
  }

  forwardRelu(x: Tensor, truncation: number): Tensor {
    const { mean, variance } = this.at(truncation);
    return batchNormRelu(x, mean, variance, this.weight, this.bias, { training: false, eps: this.eps });
  }
}

/**
 * GenBlock: bn_0, relu, conv_0 (1x1, in -> in/4), bn_1, relu, [up x2], conv_1 (3x3), bn_2, relu,
 * conv_2 (3x3), bn_3, relu, conv_3 (1x1 -> out); the skip keeps the first in/2 channels when
 * in != out and is upsampled with the rest.
 */
class GenBlock extends Module {
  readonly bns: ConditionalBatchNorm[] = [];
  readonly convs: Conv2d[] = [];

  constructor(readonly cin: number, readonly cout: number, readonly upSample: boolean, condDim: number, nStats: number, eps: number) {
    super();
    const mid = Math.floor(cin / 4);
    const widths: [number, number, number][] = [[cin, mid, 1], [mid, mid, 3], [mid, mid, 3], [mid, cout, 1]];
    widths.forEach(([a, b, k], i) => {
      this.bns.push(this.registerModule(`bn_${i}`, new ConditionalBatchNorm(a, condDim, nStats, eps)));
      this.convs.push(this.registerModule(`conv_${i}`, new Conv2d(a, b, k, { padding: k === 3 ? 1 : 0 })));
    });
  }

  forward(x: Tensor, cond: Tensor, truncation: number): Tensor {
    let h = x;
    this.convs.forEach((conv, i) => {
      h = this.bns[i].forwardRelu(h, cond, truncation);
      // conv_1 reads the upsampled map: one kernel, reading its input at (y / 2, x / 2)
      h = i === 1 && this.upSample ? upsampleConv2d(h, conv.weight, conv.bias, 2) : conv.forward(h);
    });
    let skip = this.cin !== this.cout ? narrow(x, 1, 0, Math.floor(this.cin / 2)) : x;
    if (this.upSample) skip = upsampleNearest(skip, 2);
    return add(h, skip);
  }
}

/** SelfAttn: theta, phi, g, o 1x1 convs without bias (phi and g max-pooled 2x2), gamma. */
class SelfAttn extends Module {
  readonly theta: Conv2d;
  readonly phi: Conv2d;
  readonly g: Conv2d;
  readonly o: Conv2d;
  readonly gamma: Tensor;
  constructor(channels: number) {
    super();
    const conv = (name: string, a: number, b: number) => this.registerModule(name, new Conv2d(a, b, 1, { bias: false }));
    this.theta = conv('snconv1x1_theta', channels, Math.floor(channels / 8));
    this.phi = conv('snconv1x1_phi', channels, Math.floor(channels / 8));
    this.g = conv('snconv1x1_g', channels, Math.floor(channels / 2));
    this.o = conv('snconv1x1_o_conv', Math.floor(channels / 2), channels);
    this.gamma = this.registerParameter('gamma', zeros([1]));
  }

  forward(x: Tensor): Tensor {
    return selfAttention(x, { theta: this.theta.weight, phi: this.phi.weight, g: this.g.weight, o: this.o.weight, gamma: this.gamma });
  }
}

/** `generator`: gen_z, layers (GenBlocks with one SelfAttn among them), bn, conv_to_rgb. */
class Generator extends Module {
  readonly genZ: Linear;
  readonly layers: ModuleList;
  readonly bn: OutputBatchNorm;
  readonly convToRgb: Conv2d;

  constructor(readonly config: BigGANDeepConfig) {
    super();
    const c = config;
    const ch = c.channelWidth;
    const condDim = 2 * c.dimZ;
    this.genZ = this.registerModule('gen_z', new Linear(condDim, 4 * 4 * 16 * ch));
    this.layers = this.registerModule('layers', new ModuleList());
    c.layers.forEach(([up, cin, cout], i) => {
      if (i === c.attentionPosition) this.layers.push(new SelfAttn(ch * cin));
      this.layers.push(new GenBlock(ch * cin, ch * cout, up, condDim, c.nStats, c.eps));
    });
    this.bn = this.registerModule('bn', new OutputBatchNorm(ch, c.nStats, c.eps));
    this.convToRgb = this.registerModule('conv_to_rgb', new Conv2d(ch, ch, 3, { padding: 1 }));
  }

  forward(cond: Tensor, truncation: number): Tensor {
    const B = cond.shape[0];
    const ch = this.config.channelWidth;
    // gen_z's output is laid out (4, 4, 16 ch), TensorFlow's NHWC: permute to NCHW.
    let h = permute(this.genZ.forward(cond).reshape(B, 4, 4, 16 * ch), [0, 3, 1, 2]);
    for (const layer of this.layers.items) {
      h = layer instanceof GenBlock ? layer.forward(h, cond, truncation) : (layer as SelfAttn).forward(h);
    }
    // The image is conv_to_rgb's first three channels: only those are computed (at 256x256 the
    // whole 128 -> 128 conv would be the network's largest layer, 19 GFLOP an image).
    const x = this.bn.forwardRelu(h, truncation);
    if (ch === 3) return tanh(this.convToRgb.forward(x));
    const { weight, bias } = this.convToRgb;
    return tanh(conv2d(x, narrow(weight, 0, 0, 3), bias ? narrow(bias, 0, 0, 3) : null, { padding: 1 }));
  }
}

export class BigGANDeepGenerator extends FrozenModule implements ImageGenerator {
  /** `embeddings`: a bias-free linear from a class vector to dimZ. */
  readonly embeddings: Linear;
  readonly generator: Generator;
  /** The truncation the batchnorm statistics are interpolated for (the config's, changeable). */
  private truncationValue: number;

  constructor(readonly config: BigGANDeepConfig) {
    super();
    this.embeddings = this.registerModule('embeddings', new Linear(config.nClasses, config.dimZ, { bias: false }));
    this.generator = this.registerModule('generator', new Generator(config));
    this.truncationValue = checkTruncation(config.truncation);
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

  get truncation(): number {
    return this.truncationValue;
  }

  set truncation(t: number) {
    this.truncationValue = checkTruncation(t);
  }

  /**
   * z (B, dimZ) and either a class vector per sample (a (B, nClasses) tensor: one-hot or any
   * mixture, differentiable) or one class index per sample -> images (B, 3, R, R) in [-1, 1].
   */
  forward(z: Tensor, classes?: Tensor | ArrayLike<number>): Tensor {
    const c = this.config;
    if (z.ndim !== 2 || z.shape[1] !== c.dimZ) {
      throw new Error(`BigGANDeepGenerator: z must be (batch, ${c.dimZ}), got ${formatShape(z.shape)}`);
    }
    const B = z.shape[0];
    const classVector = this.classVector(B, classes);
    const cond = concat([z, this.embeddings.forward(classVector)], 1);
    return this.generator.forward(cond, this.truncationValue);
  }

  private classVector(batch: number, classes?: Tensor | ArrayLike<number>): Tensor {
    const n = this.config.nClasses;
    if (classes === undefined) {
      if (n !== 1) throw new Error(`BigGANDeepGenerator: a class-conditional generator (${n} classes) needs a class per sample`);
      return oneHot(new Int32Array(batch), 1);
    }
    if (classes instanceof Tensor && classes.ndim === 2) {
      if (classes.shape[0] !== batch || classes.shape[1] !== n) {
        throw new Error(`BigGANDeepGenerator: the class vector must be (${batch}, ${n}), got ${formatShape(classes.shape)}`);
      }
      return classes;
    }
    const count = classes instanceof Tensor ? classes.size : classes.length;
    if (count !== batch) throw new Error(`BigGANDeepGenerator: ${count} classes for a batch of ${batch}`);
    return oneHot(classes, n);
  }
}

/**
 * pytorch-pretrained-BigGAN's truncated_noise_sample: a standard normal truncated to [-2, 2]
 * (redrawn outside), times the truncation. (B, dimZ) on the host.
 */
export function truncatedNoise(batch: number, dimZ: number, truncation: number, rng = new Rng(0)): Float32Array {
  checkTruncation(truncation, 'truncatedNoise');
  const out = new Float32Array(batch * dimZ);
  for (let i = 0; i < out.length; i++) {
    let x = rng.normal();
    while (Math.abs(x) > 2) x = rng.normal();
    out[i] = x * truncation;
  }
  return out;
}
