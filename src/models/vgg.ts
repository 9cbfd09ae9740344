// A VGG classifier in torchvision's layout (MODELS.md), frozen and in eval mode:
// features (3x3 convs, optional batchnorm, relu, 2x2 max-pools), adaptive average pool,
// classifier (linear, relu, [dropout], linear, relu, [dropout], linear).
import { noGrad } from '../engine/autograd.js';
import { runtime } from '../engine/runtime.js';
import { formatShape, keep, scope, tensor, type Tensor } from '../engine/tensor.js';
import { conv2dRelu } from '../kernels/conv2d.js';
import { full } from '../kernels/creation.js';
import { add, div, mul, neg, relu, sqrt, sub } from '../kernels/elementwise.js';
import { adaptiveAvgPool2d, maxPool2d } from '../kernels/pool.js';
import type { Classifier } from './family.js';
import { BatchNorm2d, Conv2d, FrozenModule, Linear, Module } from './module.js';

export type VGGLayerSpec = number | 'M';

export interface VGGConfig {
  inChannels: number;
  /** torchvision's cfg: conv output widths and 'M' for 2x2 max-pools, in order. */
  cfg: VGGLayerSpec[];
  batchNorm: boolean;
  /** Side of the adaptive average pool's (square) output. */
  avgPool: number;
  /** Widths of classifier.0 and classifier.3. */
  hidden: [number, number];
  numClasses: number;
  /** Input side the network was trained at, when known. */
  inputSize: number | null;
  /** Apply ImageNet normalisation inside forward (inputs are then still taken in [-1, 1]). */
  normalize: boolean;
  /** Batchnorm epsilon (torchvision's default). */
  eps: number;
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** The features.{i} index of each conv (and of its batchnorm at i + 1) that torchvision gives a cfg. */
export function vggFeatureIndices(cfg: VGGLayerSpec[], batchNorm: boolean): number[] {
  const convs: number[] = [];
  let at = 0;
  for (const v of cfg) {
    if (v === 'M') {
      at += 1;
    } else {
      convs.push(at);
      at += batchNorm ? 3 : 2;
    }
  }
  return convs;
}

/** A conv stage: its batchnorm, where it has one, is in `folded` (folded.bn). */
type Stage = { kind: 'conv'; conv: Conv2d; folded: FoldedBatchNorm | null } | { kind: 'pool' };

/** `features`: children named by their torchvision index (relus and pools have no weights). */
class Features extends Module {
  readonly stages: Stage[] = [];

  constructor(config: VGGConfig) {
    super();
    const at = vggFeatureIndices(config.cfg, config.batchNorm);
    let channels = config.inChannels;
    let conv = 0;
    for (const v of config.cfg) {
      if (v === 'M') {
        this.stages.push({ kind: 'pool' });
        continue;
      }
      const i = at[conv++];
      const layer = this.registerModule(String(i), new Conv2d(channels, v, 3, { padding: 1 }));
      const bn = config.batchNorm ? this.registerModule(String(i + 1), new BatchNorm2d(v, { eps: config.eps })) : null;
      this.stages.push({ kind: 'conv', conv: layer, folded: bn ? new FoldedBatchNorm(layer, bn) : null });
      channels = v;
    }
  }

  protected override releaseCaches(): void {
    for (const s of this.stages) if (s.kind === 'conv') s.folded?.dispose();
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const s of this.stages) {
      if (s.kind === 'pool') h = maxPool2d(h, 2, 2);
      // conv -> batchnorm (eval) -> relu, the batchnorm folded into the conv's weight and bias
      else if (s.folded) h = conv2dRelu(h, ...s.folded.get(), { padding: 1 });
      else h = conv2dRelu(h, s.conv.weight, s.conv.bias, { padding: 1 });
    }
    return h;
  }
}

/**
 * An eval-mode batchnorm after a conv, as the conv's own weight and bias:
 * bn(conv(x)) = conv(x; weight * s, (bias - mean) * s + beta), s = gamma / sqrt(var + eps) per
 * output channel. Differentiable in the conv's and the batchnorm's parameters.
 */
export function foldBatchNorm(conv: Conv2d, bn: BatchNorm2d): [Tensor, Tensor] {
  const channels = conv.weight.shape[0];
  const std = sqrt(add(bn.runningVar, bn.eps));
  const s = div(bn.weight ?? full([channels], 1), std);
  const weight = mul(conv.weight, s.reshape(channels, 1, 1, 1));
  const centred = conv.bias ? sub(conv.bias, bn.runningMean) : neg(bn.runningMean);
  const bias = mul(centred, s);
  return [weight, bn.bias ? add(bias, bn.bias) : bias];
}

/**
 * foldBatchNorm of one conv and its batchnorm, computed once while none of their tensors needs a
 * gradient (a frozen classifier: 7 launches a layer saved on every forward pass), and again, into
 * the same buffers, when one of them was written since (Storage.version: loadStateDict, copy_).
 * With a gradient it folds anew each time, as the gradient needs the graph. The folding is left
 * off a captured step's tape (Runtime.untaped): replays read the folded buffers, so weights
 * written after a capture reach a replay only once a forward pass has run outside it.
 */
export class FoldedBatchNorm {
  private cached: { from: Tensor[]; versions: number[]; weight: Tensor; bias: Tensor } | null = null;

  constructor(
    readonly conv: Conv2d,
    readonly bn: BatchNorm2d,
  ) {}

  get(): [Tensor, Tensor] {
    const from = [this.conv.weight, this.conv.bias, this.bn.weight, this.bn.bias, this.bn.runningMean, this.bn.runningVar].filter(
      (t): t is Tensor => t !== null && t !== undefined,
    );
    if (from.some((t) => t.requiresGrad)) {
      this.dispose();
      return foldBatchNorm(this.conv, this.bn);
    }
    const c = this.cached;
    const fresh = c && c.from.length === from.length && from.every((t, i) => t === c.from[i] && t.storage.version === c.versions[i]);
    if (!fresh) {
      const versions = from.map((t) => t.storage.version);
      const rt = runtime();
      rt.untaped(() => {
        const [weight, bias] = noGrad(() => scope(() => foldBatchNorm(this.conv, this.bn)));
        if (c && c.weight.shape.join() === weight.shape.join()) {
          // In place: a captured step's tape holds these buffers.
          rt.copy(weight.buffer, 0, c.weight.buffer, 0, 4 * weight.size);
          rt.copy(bias.buffer, 0, c.bias.buffer, 0, 4 * bias.size);
          weight.dispose();
          bias.dispose();
          this.cached = { ...c, from, versions };
        } else {
          this.dispose();
          this.cached = { from, versions, weight: keep(weight), bias: keep(bias) };
        }
      });
    }
    return [this.cached!.weight, this.cached!.bias];
  }

  dispose(): void {
    this.cached?.weight.dispose();
    this.cached?.bias.dispose();
    this.cached = null;
  }
}

/** `classifier`: linear layers at indices 0, 3, 6 (relu and inactive dropout between). */
class ClassifierHead extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly fc3: Linear;

  constructor(inFeatures: number, hidden: [number, number], numClasses: number) {
    super();
    // VGG-16's classifier.0 weight (4096 x 25088, 411 MB) is over lavapipe's 128 MiB binding
    // limit: linear binds such a weight as blocks of rows (kernels/matmul.ts).
    this.fc1 = this.registerModule('0', new Linear(inFeatures, hidden[0]));
    this.fc2 = this.registerModule('3', new Linear(hidden[0], hidden[1]));
    this.fc3 = this.registerModule('6', new Linear(hidden[1], numClasses));
  }

  /** The logits and the penultimate activations (the input of classifier.6). */
  forward(x: Tensor): { logits: Tensor; features: Tensor } {
    const features = relu(this.fc2.forward(relu(this.fc1.forward(x))));
    return { logits: this.fc3.forward(features), features };
  }
}

/**
 * A frozen classifier of [-1, 1] images (VGG, ResNet): its config names its input channels,
 * classes and input side, and, with config.normalize, ImageNet normalisation runs inside.
 */
export abstract class ImageClassifier<C extends ImageClassifierConfig> extends FrozenModule implements Classifier {
  /** With ImageNet normalisation inside, the network's own input is images * scale + shift. */
  readonly inputMap: { scale: number[]; shift: number[] } | undefined;
  /** Per-channel scale and shift of ImageNet normalisation, when config.normalize. */
  private readonly inputAffine: { scale: Tensor; shift: Tensor } | null;

  constructor(
    readonly config: C,
    private readonly familyName: string,
  ) {
    super();
    this.inputAffine = config.normalize ? imagenetAffine(config.inChannels) : null;
    this.inputMap = config.normalize ? imagenetInputMap(config.inChannels) : undefined;
  }

  get numClasses(): number {
    return this.config.numClasses;
  }

  get inputSize(): number | null {
    return this.config.inputSize;
  }

  /** Images (B, C, H, W) in [-1, 1] -> logits (B, numClasses). */
  forward(x: Tensor): Tensor {
    return this.forwardWithFeatures(x).logits;
  }

  abstract forwardWithFeatures(x: Tensor): { logits: Tensor; features: Tensor };

  /** The images checked and normalised: what the network's first layer takes. */
  protected networkInput(x: Tensor): Tensor {
    const c = this.config;
    if (x.ndim !== 4 || x.shape[1] !== c.inChannels) {
      throw new Error(`${this.familyName}: input must be (batch, ${c.inChannels}, H, W), got ${formatShape(x.shape)}`);
    }
    return this.inputAffine ? add(mul(x, this.inputAffine.scale), this.inputAffine.shift) : x;
  }

  override dispose(): void {
    super.dispose();
    this.inputAffine?.scale.dispose();
    this.inputAffine?.shift.dispose();
  }
}

export interface ImageClassifierConfig {
  inChannels: number;
  numClasses: number;
  inputSize: number | null;
  normalize: boolean;
}

export class VGG extends ImageClassifier<VGGConfig> {
  readonly features: Features;
  readonly classifier: ClassifierHead;

  constructor(config: VGGConfig) {
    super(config, 'VGG');
    const lastChannels = config.cfg.filter((v): v is number => v !== 'M').at(-1)!;
    this.features = this.registerModule('features', new Features(config));
    this.classifier = this.registerModule(
      'classifier',
      new ClassifierHead(lastChannels * config.avgPool * config.avgPool, config.hidden, config.numClasses),
    );
    this.eval();
  }

  /** Logits and the penultimate features (after the second hidden layer's relu). */
  forwardWithFeatures(x: Tensor): { logits: Tensor; features: Tensor } {
    const c = this.config;
    let h = this.features.forward(this.networkInput(x));
    h = adaptiveAvgPool2d(h, [c.avgPool, c.avgPool]);
    return this.classifier.forward(h.reshape(h.shape[0], -1));
  }
}

/**
 * ImageNet normalisation of images given in [-1, 1]: ((x + 1) / 2 - mean) / std, as one
 * per-channel affine map x * scale + shift.
 */
export function imagenetAffine(channels: number): { scale: Tensor; shift: Tensor } {
  const { scale, shift } = imagenetInputMap(channels);
  return { scale: keep(tensor(scale, [1, 3, 1, 1])), shift: keep(tensor(shift, [1, 3, 1, 1])) };
}

/**
 * The same map as a Classifier's inputMap (network input = images * scale + shift): what a
 * PyTorch fixture's x, given in the network's own (normalised) input space, is mapped back through.
 */
export function imagenetInputMap(channels: number): { scale: number[]; shift: number[] } {
  if (channels !== 3) throw new Error(`ImageNet normalisation needs 3 input channels, not ${channels}`);
  return {
    scale: IMAGENET_STD.map((s) => 1 / (2 * s)),
    shift: IMAGENET_MEAN.map((m, i) => (0.5 - m) / IMAGENET_STD[i]),
  };
}
