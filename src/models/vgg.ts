// A VGG classifier in torchvision's layout (MODELS.md), frozen and in eval mode:
// features (3x3 convs, optional batchnorm, relu, 2x2 max-pools), adaptive average pool,
// classifier (linear, relu, [dropout], linear, relu, [dropout], linear).
import { formatShape, keep, tensor, type Tensor } from '../engine/tensor.js';
import { conv2dRelu } from '../kernels/conv.js';
import { add, mul, relu } from '../kernels/elementwise.js';
import { adaptiveAvgPool2d, maxPool2d } from '../kernels/pool.js';
import { IMAGENET_MEAN, IMAGENET_STD, vggFeatureIndices, type VGGConfig } from './convert.js';
import { BatchNorm2d, Conv2d, Linear, Module } from './module.js';

export type { VGGConfig } from './convert.js';

type Stage = { kind: 'conv'; conv: Conv2d; bn: BatchNorm2d | null } | { kind: 'pool' };

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
      this.stages.push({ kind: 'conv', conv: layer, bn });
      channels = v;
    }
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const s of this.stages) {
      if (s.kind === 'pool') h = maxPool2d(h, 2, 2);
      else if (s.bn) h = relu(s.bn.forward(s.conv.forward(h)));
      else h = conv2dRelu(h, s.conv.weight, s.conv.bias, { padding: 1 });
    }
    return h;
  }
}

/** `classifier`: linear layers at indices 0, 3, 6 (relu and inactive dropout between). */
class Classifier extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly fc3: Linear;

  constructor(inFeatures: number, hidden: [number, number], numClasses: number) {
    super();
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

export class VGG extends Module {
  readonly features: Features;
  readonly classifier: Classifier;
  /** Per-channel scale and shift of ImageNet normalisation, when config.normalize. */
  private readonly inputAffine: { scale: Tensor; shift: Tensor } | null;

  constructor(readonly config: VGGConfig) {
    super();
    const lastChannels = config.cfg.filter((v): v is number => v !== 'M').at(-1)!;
    this.features = this.registerModule('features', new Features(config));
    this.classifier = this.registerModule(
      'classifier',
      new Classifier(lastChannels * config.avgPool * config.avgPool, config.hidden, config.numClasses),
    );
    this.inputAffine = config.normalize ? imagenetAffine(config.inChannels) : null;
    this.eval();
  }

  /** The classifier is frozen and runs in eval mode only (running statistics, no dropout). */
  override train(mode = true): this {
    if (mode) throw new Error('VGG runs in eval mode only');
    return super.train(false);
  }

  /** Images (B, C, H, W) in [-1, 1] -> logits (B, numClasses). */
  forward(x: Tensor): Tensor {
    return this.forwardWithFeatures(x).logits;
  }

  /** Logits and the penultimate features (after the second hidden layer's relu). */
  forwardWithFeatures(x: Tensor): { logits: Tensor; features: Tensor } {
    const c = this.config;
    if (x.ndim !== 4 || x.shape[1] !== c.inChannels) {
      throw new Error(`VGG: input must be (batch, ${c.inChannels}, H, W), got ${formatShape(x.shape)}`);
    }
    let h = this.inputAffine ? add(mul(x, this.inputAffine.scale), this.inputAffine.shift) : x;
    h = this.features.forward(h);
    h = adaptiveAvgPool2d(h, [c.avgPool, c.avgPool]);
    return this.classifier.forward(h.reshape(h.shape[0], -1));
  }

  override dispose(): void {
    super.dispose();
    this.inputAffine?.scale.dispose();
    this.inputAffine?.shift.dispose();
  }
}

/**
 * ImageNet normalisation of images given in [-1, 1]: ((x + 1) / 2 - mean) / std, as one
 * per-channel affine map x * scale + shift.
 */
function imagenetAffine(channels: number): { scale: Tensor; shift: Tensor } {
  if (channels !== 3) throw new Error(`VGG: ImageNet normalisation needs 3 input channels, not ${channels}`);
  const scale = IMAGENET_STD.map((s) => 1 / (2 * s));
  const shift = IMAGENET_MEAN.map((m, i) => (0.5 - m) / IMAGENET_STD[i]);
  return { scale: keep(tensor(scale, [1, 3, 1, 1])), shift: keep(tensor(shift, [1, 3, 1, 1])) };
}
