// VGG-Face in the layout of the PyTorch port "vgg_face_dag" (MODELS.md), frozen: VGG-16's convs
// under flat names conv1_1 ... conv5_3 (3x3, padding 1, relu), a 2x2 max-pool after each of the
// five blocks, flatten (C·7·7), fc6, relu, fc7, relu, fc8. Dropout is the identity in eval mode.
import { formatShape, keep, tensor, type Tensor } from '../engine/tensor.js';
import { conv2dRelu } from '../kernels/conv2d.js';
import { add, mul, relu } from '../kernels/elementwise.js';
import { maxPool2d } from '../kernels/pool.js';
import type { Classifier } from './family.js';
import { Conv2d, FrozenModule, Linear, Module } from './module.js';

export interface VGGFaceConfig {
  inChannels: number;
  /** Conv output widths of each of the five blocks: VGG-16's are [64, 64], [128, 128], [256 x 3], [512 x 3], [512 x 3]. */
  blocks: number[][];
  /** Widths of fc6 and fc7 (4096 in the original). */
  hidden: [number, number];
  /** fc8's outputs: 2622 identities in the original, any head once fine-tuned. */
  numClasses: number;
  /** The side it was trained at: fc6 takes the features of a 7x7 grid after five pools. */
  inputSize: number;
  /** Per-channel mean (0..255 scale) subtracted from the RGB input; the std is 1. */
  mean: number[];
}

/** The mean of the vgg_face_dag port (its `meta`), used when the checkpoint gives none. */
export const VGGFACE_MEAN = [129.186279296875, 104.76238250732422, 93.59396362304688];
/** Side of the grid fc6 reads after pool5. */
export const VGGFACE_GRID = 7;
/** Convs per block in VGG-16 (the port's names conv1_1 ... conv5_3). */
export const VGGFACE_CONVS = [2, 2, 3, 3, 3];

/** The port's conv names, block by block. */
export const vggFaceConvNames = (): string[][] => VGGFACE_CONVS.map((n, b) => Array.from({ length: n }, (_, l) => `conv${b + 1}_${l + 1}`));

export class VGGFace extends FrozenModule implements Classifier {
  readonly convs: Conv2d[][];
  readonly fc6: Linear;
  readonly fc7: Linear;
  readonly fc8: Linear;
  /** G's [-1, 1] images -> the network's input: x * 127.5 + (127.5 - mean), per channel. */
  readonly inputMap: { scale: number[]; shift: number[] };
  private readonly shift: Tensor;

  /** A full-size fc6 (4096 x 25088, 411 MB) is over lavapipe's binding limit: linear binds it as row blocks. */
  constructor(readonly config: VGGFaceConfig) {
    super();
    const c = config;
    const last = c.blocks.at(-1)!.at(-1)!;
    const flat = last * VGGFACE_GRID * VGGFACE_GRID;
    let channels = c.inChannels;
    const names = vggFaceConvNames();
    this.convs = c.blocks.map((widths, b) =>
      widths.map((w, l) => {
        const conv = this.registerModule(names[b][l], new Conv2d(channels, w, 3, { padding: 1 }));
        channels = w;
        return conv;
      }),
    );
    this.fc6 = this.registerModule('fc6', new Linear(flat, c.hidden[0]));
    this.fc7 = this.registerModule('fc7', new Linear(c.hidden[0], c.hidden[1]));
    this.fc8 = this.registerModule('fc8', new Linear(c.hidden[1], c.numClasses));
    this.inputMap = { scale: c.mean.map(() => 127.5), shift: c.mean.map((m) => 127.5 - m) };
    this.shift = keep(tensor(this.inputMap.shift, [1, c.inChannels, 1, 1]));
    this.eval();
  }

  get numClasses(): number {
    return this.config.numClasses;
  }

  get inputSize(): number {
    return this.config.inputSize;
  }

  /** Images (B, C, H, W) in [-1, 1] -> logits (B, numClasses). */
  forward(x: Tensor): Tensor {
    return this.forwardWithFeatures(x).logits;
  }

  /** Logits and the penultimate features (fc7's output after its relu). */
  forwardWithFeatures(x: Tensor): { logits: Tensor; features: Tensor } {
    const c = this.config;
    const [, channels, H, W] = x.shape;
    // Five floor-halving pools must leave the 7x7 grid fc6 was trained on (224 to 255 pixels).
    const grid = (side: number) => Math.floor(side / 32);
    if (x.ndim !== 4 || channels !== c.inChannels || grid(H) !== VGGFACE_GRID || grid(W) !== VGGFACE_GRID) {
      throw new Error(`VGG-Face: input must be (batch, ${c.inChannels}, H, W) with H and W in 224..255 (fc6 takes a 7x7 grid after five pools), got ${formatShape(x.shape)}`);
    }
    let h = add(mul(x, 127.5), this.shift);
    for (const block of this.convs) {
      for (const conv of block) h = conv2dRelu(h, conv.weight, conv.bias, { padding: 1 });
      h = maxPool2d(h, 2, 2);
    }
    h = relu(this.fc6.forward(h.reshape(h.shape[0], -1)));
    const features = relu(this.fc7.forward(h));
    return { logits: this.fc8.forward(features), features };
  }

  override dispose(): void {
    super.dispose();
    this.shift.dispose();
  }
}

/** Refuses, by name, a weight too large to bind as one storage buffer. */