// Small random state dicts in the BigGAN-PyTorch and torchvision VGG layouts, for the
// configurations the PyTorch fixtures do not cover (class-conditional, non-hierarchical, no
// batchnorm, ImageNet-shaped heads) and for refusal tests that edit a valid checkpoint.
import { Rng } from '../../src/engine/random.js';
import type { HostTensor } from '../../src/models/checkpoint/index.js';

export function host(shape: number[], data: Float32Array): HostTensor {
  return { dtype: 'float32', shape, data };
}

class Filler {
  private g: Rng;
  constructor(seed: number) {
    this.g = new Rng(seed);
  }
  normal(shape: number[], scale = 1): HostTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return host(shape, Float32Array.from({ length: n }, () => this.g.normal() * scale));
  }
  uniform(shape: number[], lo: number, hi: number): HostTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return host(shape, Float32Array.from({ length: n }, () => lo + (hi - lo) * this.g.uniform()));
  }
}

export interface SyntheticBigGANOptions {
  nClasses: number;
  sharedDim: number;
  zChunk: number;
  hierarchical: boolean;
  /** channels[0] after linear, then each block's output. */
  channels: number[];
  /** Blocks followed by attention: theta/phi get C/8 channels (at least 1), g C/2. */
  attention: number[];
  bottomWidth?: number;
  seed?: number;
}

/** A raw (not yet converted) generator state dict: spectral-normed weights with u0 and sv0. */
export function syntheticBigGAN(o: SyntheticBigGANOptions): Map<string, HostTensor> {
  const f = new Filler(o.seed ?? 1);
  const sd = new Map<string, HostTensor>();
  const bw = o.bottomWidth ?? 4;
  const sn = (prefix: string, shape: number[], bias: boolean) => {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    sd.set(`${prefix}.weight`, f.normal(shape, 1 / Math.sqrt(fanIn)));
    if (bias) sd.set(`${prefix}.bias`, f.normal([shape[0]], 0.1));
    sd.set(`${prefix}.u0`, f.normal([1, shape[0]]));
    sd.set(`${prefix}.sv0`, host([1], Float32Array.of(1)));
  };
  const cond = o.hierarchical ? o.sharedDim + o.zChunk : o.sharedDim;
  sd.set('shared.weight', f.normal([o.nClasses, o.sharedDim]));
  sn('linear', [o.channels[0] * bw * bw, o.zChunk], true);
  for (let i = 0; i + 1 < o.channels.length; i++) {
    const [cin, cout] = [o.channels[i], o.channels[i + 1]];
    const p = `blocks.${i}.0`;
    sn(`${p}.conv1`, [cout, cin, 3, 3], true);
    sn(`${p}.conv2`, [cout, cout, 3, 3], true);
    sn(`${p}.conv_sc`, [cout, cin, 1, 1], true);
    for (const [bn, c] of [['bn1', cin], ['bn2', cout]] as const) {
      sd.set(`${p}.${bn}.stored_mean`, f.normal([c], 0.3));
      sd.set(`${p}.${bn}.stored_var`, f.uniform([c], 0.5, 1.5));
      sn(`${p}.${bn}.gain`, [c, cond], false);
      sn(`${p}.${bn}.bias`, [c, cond], false);
    }
    if (o.attention.includes(i)) {
      const k = Math.max(1, cout >> 3);
      const v = Math.max(1, cout >> 1);
      const a = `blocks.${i}.1`;
      sd.set(`${a}.gamma`, host([], Float32Array.of(0.7)));
      sn(`${a}.theta`, [k, cout, 1, 1], false);
      sn(`${a}.phi`, [k, cout, 1, 1], false);
      sn(`${a}.g`, [v, cout, 1, 1], false);
      sn(`${a}.o`, [cout, v, 1, 1], false);
    }
  }
  const last = o.channels.at(-1)!;
  sd.set('output_layer.0.gain', f.normal([last], 0.3));
  sd.set('output_layer.0.bias', f.normal([last], 0.3));
  sd.set('output_layer.0.stored_mean', f.normal([last], 0.3));
  sd.set('output_layer.0.stored_var', f.uniform([last], 0.5, 1.5));
  sn('output_layer.2', [3, last, 3, 3], true);
  return sd;
}

export interface SyntheticVGGOptions {
  cfg: (number | 'M')[];
  batchNorm: boolean;
  avgPool: number;
  hidden: [number, number];
  numClasses: number;
  inChannels?: number;
  seed?: number;
}

/** A torchvision VGG state dict (features.{i} numbered as torchvision numbers them). */
export function syntheticVGG(o: SyntheticVGGOptions): Map<string, HostTensor> {
  const f = new Filler(o.seed ?? 2);
  const sd = new Map<string, HostTensor>();
  let channels = o.inChannels ?? 3;
  let at = 0;
  for (const v of o.cfg) {
    if (v === 'M') {
      at += 1;
      continue;
    }
    sd.set(`features.${at}.weight`, f.normal([v, channels, 3, 3], 1 / Math.sqrt(9 * channels)));
    sd.set(`features.${at}.bias`, f.normal([v], 0.1));
    if (o.batchNorm) {
      sd.set(`features.${at + 1}.weight`, f.uniform([v], 0.5, 1.5));
      sd.set(`features.${at + 1}.bias`, f.normal([v], 0.1));
      sd.set(`features.${at + 1}.running_mean`, f.normal([v], 0.1));
      sd.set(`features.${at + 1}.running_var`, f.uniform([v], 0.5, 1.5));
      sd.set(`features.${at + 1}.num_batches_tracked`, { dtype: 'int64', shape: [], data: BigInt64Array.of(3n) });
    }
    at += o.batchNorm ? 3 : 2;
    channels = v;
  }
  const flat = channels * o.avgPool * o.avgPool;
  const linear = (i: number, out: number, inp: number) => {
    sd.set(`classifier.${i}.weight`, f.normal([out, inp], 1 / Math.sqrt(inp)));
    sd.set(`classifier.${i}.bias`, f.normal([out], 0.1));
  };
  linear(0, o.hidden[0], flat);
  linear(3, o.hidden[1], o.hidden[0]);
  linear(6, o.numClasses, o.hidden[1]);
  return sd;
}

export interface SyntheticResNetOptions {
  block: 'basic' | 'bottleneck';
  layers: number[];
  /** torchvision's planes per layer (64, 128, 256, 512 in every real ResNet). */
  planes: number[];
  stemWidth?: number;
  widthPerGroup?: number;
  numClasses: number;
  inChannels?: number;
  seed?: number;
}

/** A torchvision ResNet state dict: downsample shortcuts where torchvision puts them. */
export function syntheticResNet(o: SyntheticResNetOptions): Map<string, HostTensor> {
  const f = new Filler(o.seed ?? 3);
  const sd = new Map<string, HostTensor>();
  const convBn = (conv: string, bn: string, out: number, inp: number, k: number) => {
    sd.set(`${conv}.weight`, f.normal([out, inp, k, k], 1 / Math.sqrt(k * k * inp)));
    sd.set(`${bn}.weight`, f.uniform([out], 0.5, 1.5));
    sd.set(`${bn}.bias`, f.normal([out], 0.1));
    sd.set(`${bn}.running_mean`, f.normal([out], 0.1));
    sd.set(`${bn}.running_var`, f.uniform([out], 0.5, 1.5));
    sd.set(`${bn}.num_batches_tracked`, { dtype: 'int64', shape: [], data: BigInt64Array.of(3n) });
  };
  const stem = o.stemWidth ?? 64;
  convBn('conv1', 'bn1', stem, o.inChannels ?? 3, 7);
  let channels = stem;
  const expansion = o.block === 'basic' ? 1 : 4;
  o.layers.forEach((n, i) => {
    const out = o.planes[i] * expansion;
    const width = o.block === 'basic' ? o.planes[i] : Math.floor((o.planes[i] * (o.widthPerGroup ?? 64)) / 64);
    for (let b = 0; b < n; b++) {
      const p = `layer${i + 1}.${b}`;
      if (o.block === 'basic') {
        convBn(`${p}.conv1`, `${p}.bn1`, width, channels, 3);
        convBn(`${p}.conv2`, `${p}.bn2`, out, width, 3);
      } else {
        convBn(`${p}.conv1`, `${p}.bn1`, width, channels, 1);
        convBn(`${p}.conv2`, `${p}.bn2`, width, width, 3);
        convBn(`${p}.conv3`, `${p}.bn3`, out, width, 1);
      }
      if (b === 0 && (i > 0 || channels !== out)) convBn(`${p}.downsample.0`, `${p}.downsample.1`, out, channels, 1);
      channels = out;
    }
  });
  sd.set('fc.weight', f.normal([o.numClasses, channels], 1 / Math.sqrt(channels)));
  sd.set('fc.bias', f.normal([o.numClasses], 0.1));
  return sd;
}
