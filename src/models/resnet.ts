// A torchvision ResNet classifier (MODELS.md), frozen and in eval mode: conv1 (7x7, stride 2) ->
// bn1 -> relu -> max-pool (3x3, stride 2, padding 1) -> layer1..N of BasicBlocks or Bottlenecks
// -> adaptive average pool to 1x1 -> fc. Every batchnorm follows a bias-free conv and is folded
// into it, as in vgg.ts.
import type { Tensor } from '../engine/tensor.js';
import { conv2d, conv2dRelu } from '../kernels/conv2d.js';
import { add, relu } from '../kernels/elementwise.js';
import { adaptiveAvgPool2d, maxPool2d } from '../kernels/pool.js';
import { BatchNorm2d, Conv2d, Linear, Module } from './module.js';
import { FoldedBatchNorm, ImageClassifier } from './vgg.js';

export type ResNetBlock = 'basic' | 'bottleneck';

export interface ResNetConfig {
  inChannels: number;
  /** BasicBlock (3x3, 3x3) or Bottleneck (1x1, 3x3, 1x1 with expansion 4). */
  block: ResNetBlock;
  /** Blocks in layer1, layer2, ... */
  layers: number[];
  /** Width of conv1 (torchvision: 64). */
  stemWidth: number;
  /** torchvision's `planes` of each layer (64, 128, 256, 512); a layer's output is planes * expansion. */
  planes: number[];
  /** Bottleneck inner width = planes * widthPerGroup / 64 (64 for a BasicBlock). */
  widthPerGroup: number;
  /** Whether each layer's first block has a `downsample` shortcut (1x1 strided conv + bn). */
  downsample: boolean[];
  numClasses: number;
  /** Input side the network was trained at, when known. */
  inputSize: number | null;
  /** Apply ImageNet normalisation inside forward (inputs are then still taken in [-1, 1]). */
  normalize: boolean;
  /** Batchnorm epsilon (torchvision's default). */
  eps: number;
}

export const EXPANSION: Record<ResNetBlock, number> = { basic: 1, bottleneck: 4 };

/** Channels of a layer's output, and the inner width of its Bottlenecks. */
export const layerOut = (c: ResNetConfig, i: number) => c.planes[i] * EXPANSION[c.block];
export const innerWidth = (c: ResNetConfig, i: number) => (c.block === 'bottleneck' ? Math.floor((c.planes[i] * c.widthPerGroup) / 64) : c.planes[i]);
/** torchvision strides: layer1 keeps the size, every later layer halves it in its first block. */
export const layerStride = (i: number) => (i === 0 ? 1 : 2);

/** A container whose children are named as in torch (a Sequential's indices, a layer's blocks). */
class Children extends Module {
  add<M extends Module>(name: string, m: M): M {
    return this.registerModule(name, m);
  }
}

/** A bias-free conv and its batchnorm, applied folded (once while frozen: FoldedBatchNorm). */
function convBn(stage: FoldedBatchNorm, x: Tensor, withRelu: boolean): Tensor {
  const [weight, bias] = stage.get();
  const options = { stride: stage.conv.options.stride ?? 1, padding: stage.conv.options.padding ?? 0 };
  return withRelu ? conv2dRelu(x, weight, bias, options) : conv2d(x, weight, bias, options);
}

/** A BasicBlock or a Bottleneck: convs conv1..convK with bn1..bnK, the stride on the 3x3. */
class Block extends Module {
  readonly stages: FoldedBatchNorm[] = [];
  readonly downsample: FoldedBatchNorm | null = null;

  constructor(kind: ResNetBlock, inChannels: number, width: number, outChannels: number, stride: number, downsample: boolean, eps: number) {
    super();
    // (in, out, kernel, stride) of each conv
    const convs: [number, number, number, number][] =
      kind === 'basic'
        ? [[inChannels, width, 3, stride], [width, outChannels, 3, 1]]
        : [[inChannels, width, 1, 1], [width, width, 3, stride], [width, outChannels, 1, 1]];
    convs.forEach(([i, o, k, s], n) => {
      const conv = this.registerModule(`conv${n + 1}`, new Conv2d(i, o, k, { stride: s, padding: (k - 1) / 2, bias: false }));
      this.stages.push(new FoldedBatchNorm(conv, this.registerModule(`bn${n + 1}`, new BatchNorm2d(o, { eps }))));
    });
    if (downsample) {
      const seq = this.registerModule('downsample', new Children());
      const conv = seq.add('0', new Conv2d(inChannels, outChannels, 1, { stride, bias: false }));
      this.downsample = new FoldedBatchNorm(conv, seq.add('1', new BatchNorm2d(outChannels, { eps })));
    }
  }

  protected override releaseCaches(): void {
    for (const s of [...this.stages, this.downsample]) s?.dispose();
  }

  forward(x: Tensor): Tensor {
    let h = x;
    this.stages.forEach((stage, n) => {
      h = convBn(stage, h, n < this.stages.length - 1);
    });
    const identity = this.downsample ? convBn(this.downsample, x, false) : x;
    return relu(add(h, identity));
  }
}

export class ResNet extends ImageClassifier<ResNetConfig> {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  private readonly stem: FoldedBatchNorm;
  readonly blocks: Block[] = [];
  readonly fc: Linear;

  constructor(config: ResNetConfig) {
    super(config, 'ResNet');
    const c = config;
    this.conv1 = this.registerModule('conv1', new Conv2d(c.inChannels, c.stemWidth, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(c.stemWidth, { eps: c.eps }));
    this.stem = new FoldedBatchNorm(this.conv1, this.bn1);
    let channels = c.stemWidth;
    c.layers.forEach((count, i) => {
      const layer = this.registerModule(`layer${i + 1}`, new Children());
      for (let b = 0; b < count; b++) {
        const stride = b === 0 ? layerStride(i) : 1;
        const down = b === 0 && c.downsample[i];
        this.blocks.push(layer.add(String(b), new Block(c.block, channels, innerWidth(c, i), layerOut(c, i), stride, down, c.eps)));
        channels = layerOut(c, i);
      }
    });
    this.fc = this.registerModule('fc', new Linear(channels, c.numClasses));
    this.eval();
  }

  protected override releaseCaches(): void {
    this.stem.dispose();
  }

  /** Logits and the penultimate features: the pooled output of the last layer, the input of fc. */
  forwardWithFeatures(x: Tensor): { logits: Tensor; features: Tensor } {
    let h = maxPool2d(convBn(this.stem, this.networkInput(x), true), 3, 2, 1);
    for (const block of this.blocks) h = block.forward(h);
    const features = adaptiveAvgPool2d(h, [1, 1]).reshape(h.shape[0], -1);
    return { logits: this.fc.forward(features), features };
  }
}
