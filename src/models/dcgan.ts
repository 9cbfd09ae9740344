// A conditional DCGAN (Radford et al. 2015; conditioned as in Milosevic's CDCGAN): the baseline
// trained on labelled images that the paper's method, which reads none, claims to match.
//
// Generator: the class's embedding is concatenated with z, seen as a 1x1 image, and transposed
// convolutions (4x4, stride 2, padding 1) double it from 4x4 to the resolution, each followed
// by batchnorm and relu, the last by tanh: images in [-1, 1]. Or, with `upsampling: 'nearest'`,
// each doubling is a nearest-neighbour upsample and a 3x3 conv (Odena et al. 2016, "Deconvolution
// and checkerboard artifacts": every output pixel sees as many weights, so no checkerboard).
// Or, with `conditioning: 'batchnorm'`, z enters alone and the class sets each batchnorm's gain
// and bias instead (conditional batchnorm, as in SNGAN's and BigGAN's generators): out =
// norm(x) * (1 + gain[class]) + bias[class], both tables starting at 0, so every class starts as
// the same unconditional G.
// Discriminator: the class's embedding is a map of the image's size, concatenated with the image
// as one more channel; 4x4 stride-2 convolutions halve it down to 4x4 with leaky relus
// (batchnorm on all but the first), and a 4x4 conv gives one logit per image. Or, with
// `conditioning: 'projection'` (Miyato & Koyama 2018, "cGANs with projection discriminator"), the
// convs see the image alone and the class enters at the end: the logit is the 4x4 conv's plus
// the inner product of the class's embedding with the last features summed over space. Or, with
// `conditioning: 'auxiliary'` (Odena et al. 2017, AC-GAN), the convs see the image alone, the
// class not at all: a second 4x4 conv on the last features, `classifier`, gives class logits,
// and both networks learn to make them name the class (src/train/ganStep.ts).
//
// The keys follow PyTorch's DCGAN example (an nn.Sequential `main`: conv at 0, 3, 6, ...,
// batchnorm after each, activations in between) plus `embed`, so a PyTorch model of this layout
// converts (families/dcgan.ts).
import { Rng } from '../engine/random.js';
import { formatShape, Tensor } from '../engine/tensor.js';
import { add, leakyRelu, mul, tanh } from '../kernels/elementwise.js';
import { sum } from '../kernels/reduce.js';
import { matmul } from '../kernels/matmul.js';
import { concat } from '../kernels/shape.js';
import { conv2dUnfold } from '../kernels/unfold.js';
import { upsampleConv2d } from '../kernels/conv2d.js';
import type { ImageGenerator } from './family.js';
import { conditionalBatchNormRelu } from '../kernels/batchnorm.js';
import { BatchNorm2d, Conv2d, ConvTranspose2d, Embedding, Module } from './module.js';

export interface DCGANGeneratorConfig {
  dimZ: number;
  numClasses: number;
  /** Width of the class embedding concatenated with z. */
  embedDim: number;
  /** Channels after each batchnormed layer, 4x4 first: [4w, 2w, w] for a 32x32 DCGAN of width w. */
  channels: number[];
  outChannels: number;
  /** 4 * 2^channels.length. */
  resolution: number;
  eps: number;
  /** How each layer after the first doubles the side (absent: 'transposed', as runs before the option). */
  upsampling?: GeneratorUpsampling;
  /** How the class enters (absent: 'concat', its embedding beside z; 'batchnorm': each batchnorm's gain and bias; embedDim is then 0). */
  conditioning?: GeneratorConditioning;
}

export const GENERATOR_UPSAMPLINGS = ['transposed', 'nearest'] as const;
export type GeneratorUpsampling = (typeof GENERATOR_UPSAMPLINGS)[number];
export const GENERATOR_CONDITIONINGS = ['concat', 'batchnorm'] as const;
export type GeneratorConditioning = (typeof GENERATOR_CONDITIONINGS)[number];

export interface DCGANDiscriminatorConfig {
  numClasses: number;
  inChannels: number;
  /** Channels after each stride-2 conv, the largest image first: [w, 2w, 4w] for 32x32. */
  channels: number[];
  /** 4 * 2^channels.length. */
  resolution: number;
  /** Slope of the leaky relus (DCGAN: 0.2). */
  slope: number;
  eps: number;
  /** How the class enters: 'concat' (an embedded map beside the image; the default), 'projection' or 'auxiliary'. */
  conditioning?: DiscriminatorConditioning;
}

export const DISCRIMINATOR_CONDITIONINGS = ['concat', 'projection', 'auxiliary'] as const;
export type DiscriminatorConditioning = (typeof DISCRIMINATOR_CONDITIONINGS)[number];

/** The layers of an nn.Sequential, registered under their indices (activations leave gaps). */
class Sequential extends Module {
  at<M extends Module>(index: number, m: M): M {
    return this.registerModule(String(index), m);
  }
}

/** DCGAN's initialisation: conv weights N(0, 0.02), batchnorm weights N(1, 0.02), biases 0. */
function dcganInit(model: Module, rng: Rng): void {
  for (const [, m] of model.namedModules()) {
    if (m instanceof Conv2d || m instanceof ConvTranspose2d) {
      m.weight.copy_(rng.fillNormal(new Float32Array(m.weight.size), 0, 0.02));
      m.bias?.copy_(new Float32Array(m.bias.size));
    } else if (m instanceof BatchNorm2d) {
      m.weight?.copy_(rng.fillNormal(new Float32Array(m.weight.size), 1, 0.02));
      m.bias?.copy_(new Float32Array(m.bias.size));
    }
  }
}

export class DCGANGenerator extends Module implements ImageGenerator {
  /** 'concat': the class's embedding, beside z. */
  readonly embed: Embedding | null;
  readonly main: Sequential;
  /** 'batchnorm': per class, each batchnorm's gain and bias, under that batchnorm's index in main. */
  readonly classGain: Sequential | null;
  readonly classBias: Sequential | null;
  private readonly ups: { conv: ConvTranspose2d | Conv2d; bn: BatchNorm2d | null; gain: Embedding | null; bias: Embedding | null }[] = [];

  /** In training mode; `seed` draws the initial weights. */
  constructor(readonly config: DCGANGeneratorConfig, seed = 0) {
    super();
    const c = config;
    const rng = new Rng(seed);
    const byBatchnorm = c.conditioning === 'batchnorm';
    if (byBatchnorm && c.embedDim !== 0) throw new Error(`DCGANGenerator: conditioning by batchnorm has no embedding beside z (embedDim 0, got ${c.embedDim})`);
    this.embed = byBatchnorm ? null : this.registerModule('embed', new Embedding(c.numClasses, c.embedDim, { generator: rng }));
    this.main = this.registerModule('main', new Sequential());
    this.classGain = byBatchnorm ? this.registerModule('class_gain', new Sequential()) : null;
    this.classBias = byBatchnorm ? this.registerModule('class_bias', new Sequential()) : null;
    const widths = [c.dimZ + c.embedDim, ...c.channels, c.outChannels];
    const nearest = c.upsampling === 'nearest';
    let index = 0;
    for (let i = 0; i + 1 < widths.length; i++) {
      const last = i + 2 === widths.length;
      // 1x1 -> 4x4 first (kernel 4, no padding), then each layer doubles the side.
      let conv: ConvTranspose2d | Conv2d;
      if (i === 0 || !nearest) {
        const geometry = i === 0 ? { stride: 1, padding: 0 } : { stride: 2, padding: 1 };
        conv = this.main.at(index++, new ConvTranspose2d(widths[i], widths[i + 1], 4, { ...geometry, bias: last, generator: rng }));
      } else {
        index++; // nn.Upsample(scale_factor=2)
        conv = this.main.at(index++, new Conv2d(widths[i], widths[i + 1], 3, { padding: 1, bias: last, generator: rng }));
      }
      const bn = last ? null : this.main.at(index, new BatchNorm2d(widths[i + 1], { eps: c.eps, affine: !byBatchnorm }));
      // Zeros (below): (1 + gain) = 1 and bias 0, the plain batchnorm at the start.
      const table = (of: Sequential | null) => (bn && of ? of.at(index, new Embedding(c.numClasses, widths[i + 1], { generator: rng })) : null);
      const [gain, bias] = [table(this.classGain), table(this.classBias)];
      if (bn) index++;
      index++; // the relu, or the tanh
      this.ups.push({ conv, bn, gain, bias });
    }
    dcganInit(this, rng);
    for (const { gain, bias } of this.ups) for (const t of [gain, bias]) t?.weight.copy_(new Float32Array(t.weight.size));
  }

  get dimZ(): number {
    return this.config.dimZ;
  }

  get resolution(): number {
    return this.config.resolution;
  }

  get numClasses(): number {
    return this.config.numClasses;
  }

  /**
   * z (B, dimZ) and a class index per sample, or (B, numClasses) class vectors (one-hot or
   * mixtures of the embedding's rows) -> images (B, outChannels, R, R) in [-1, 1].
   */
  forward(z: Tensor, classes?: Tensor | ArrayLike<number>): Tensor {
    const c = this.config;
    if (z.ndim !== 2 || z.shape[1] !== c.dimZ) throw new Error(`DCGANGenerator: z must be (batch, ${c.dimZ}), got ${formatShape(z.shape)}`);
    const B = z.shape[0];
    if (classes === undefined) throw new Error(`DCGANGenerator: a class-conditional generator (${c.numClasses} classes) needs a class per sample`);
    const vectors = classes instanceof Tensor && classes.ndim === 2;
    if (vectors && (classes.shape[0] !== B || classes.shape[1] !== c.numClasses)) {
      throw new Error(`DCGANGenerator: the class vector must be (${B}, ${c.numClasses}), got ${formatShape(classes.shape)}`);
    }
    const count = classes instanceof Tensor ? (vectors ? B : classes.size) : classes.length;
    if (count !== B) throw new Error(`DCGANGenerator: ${count} classes for a batch of ${B}`);
    // A table's rows for the batch: by index, or mixed by the class vectors.
    const rows = (table: Embedding) => (vectors ? matmul(classes as Tensor, table.weight) : table.forward(classes));
    let h = this.embed ? concat([z, rows(this.embed)], 1).reshape(B, c.dimZ + c.embedDim, 1, 1) : z.reshape(B, c.dimZ, 1, 1);
    for (const { conv, bn, gain, bias } of this.ups) {
      // The upsample and the 3x3 conv as one kernel (kernels/conv2d.ts), the conv reading at half the position.
      const y = conv instanceof Conv2d ? upsampleConv2d(h, conv.weight, conv.bias, 2) : conv.forward(h);
      if (!bn) h = tanh(y);
      else if (gain && bias) h = conditionalBatchNormRelu(y, rows(gain), rows(bias), bn.runningMean, bn.runningVar, bn.settings());
      else h = bn.forwardRelu(y);
    }
    return h;
  }
}

export class DCGANDiscriminator extends Module {
  /** 'concat': the class's map beside the image. */
  readonly embed: Embedding | null;
  /** 'projection': the class's vector, dotted with the last features summed over space. */
  readonly projection: Embedding | null;
  /** 'auxiliary': class logits from the last features (AC-GAN's auxiliary classifier). */
  readonly classifier: Conv2d | null;
  readonly main: Sequential;
  private readonly downs: { conv: Conv2d; bn: BatchNorm2d | null }[] = [];
  private readonly out: Conv2d;

  constructor(readonly config: DCGANDiscriminatorConfig, seed = 0) {
    super();
    const c = config;
    const rng = new Rng(seed);
    const R = c.resolution;
    const projection = c.conditioning === 'projection';
    const auxiliary = c.conditioning === 'auxiliary';
    // Only the concatenating D sees the class beside the image: an auxiliary classifier that did could read it off.
    this.embed = projection || auxiliary ? null : this.registerModule('embed', new Embedding(c.numClasses, R * R, { generator: rng }));
    this.main = this.registerModule('main', new Sequential());
    const widths = [c.inChannels + (this.embed ? 1 : 0), ...c.channels];
    let index = 0;
    for (let i = 0; i + 1 < widths.length; i++) {
      // No batchnorm on the first layer (DCGAN): it would normalise away the image's own statistics.
      const conv = this.main.at(index++, new Conv2d(widths[i], widths[i + 1], 4, { stride: 2, padding: 1, bias: i === 0, generator: rng }));
      const bn = i === 0 ? null : this.main.at(index++, new BatchNorm2d(widths[i + 1], { eps: c.eps }));
      index++; // the leaky relu
      this.downs.push({ conv, bn });
    }
    this.out = this.main.at(index, new Conv2d(widths.at(-1)!, 1, 4, { generator: rng }));
    this.projection = projection ? this.registerModule('projection', new Embedding(c.numClasses, widths.at(-1)!)) : null;
    this.classifier = auxiliary ? this.registerModule('classifier', new Conv2d(widths.at(-1)!, c.numClasses, 4, { generator: rng })) : null;
    dcganInit(this, rng);
    // Small, as DCGAN's other weights: the class term starts near 0 beside the conv's logit.
    this.projection?.weight.copy_(rng.fillNormal(new Float32Array(this.projection.weight.size), 0, 0.02));
  }

  /** Images (B, inChannels, R, R) and a class index per image -> logits (B). */
  forward(images: Tensor, classes: Tensor | ArrayLike<number>): Tensor {
    return this.forwardWithClasses(images, classes).logits;
  }

  /**
   * The real-or-generated logits (B) and, with an auxiliary classifier, its class logits
   * (B, numClasses), from one pass through the convs.
   */
  forwardWithClasses(images: Tensor, classes: Tensor | ArrayLike<number>): { logits: Tensor; classLogits: Tensor | null } {
    const c = this.config;
    const R = c.resolution;
    if (images.ndim !== 4 || images.shape[1] !== c.inChannels || images.shape[2] !== R || images.shape[3] !== R) {
      throw new Error(`DCGANDiscriminator: images must be (batch, ${c.inChannels}, ${R}, ${R}), got ${formatShape(images.shape)}`);
    }
    const B = images.shape[0];
    let h = this.embed ? concat([images, this.embed.forward(classes).reshape(B, 1, R, R)], 1) : images;
    // 4x4 kernels run as matrix products over unfolded patches (src/kernels/unfold.ts: why).
    const conv = (m: Conv2d, x: Tensor) => conv2dUnfold(x, m.weight, m.bias, { stride: m.options.stride, padding: m.options.padding });
    for (const { conv: m, bn } of this.downs) {
      h = conv(m, h);
      h = leakyRelu(bn ? bn.forward(h) : h, c.slope);
    }
    const logits = conv(this.out, h).reshape(B);
    if (this.classifier) return { logits, classLogits: conv(this.classifier, h).reshape(B, c.numClasses) };
    if (!this.projection) return { logits, classLogits: null };
    return { logits: add(logits, sum(mul(this.projection.forward(classes), sum(h, [2, 3])), 1)), classLogits: null };
  }
}
