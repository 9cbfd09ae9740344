// Checkpoint conversion: recognise a BigGAN-PyTorch generator or a torchvision VGG from its
// state-dict keys, infer the whole architecture from key names and shapes (MODELS.md), bake
// spectral norm into effective weights, and describe the result in safetensors metadata, so that
// loading needs nothing but the converted file.
//
// Everything here runs on the CPU; nothing touches the GPU.
import { basename } from 'node:path';
import { numel, toFloat32, type HostTensor } from './checkpoint/index.js';

export type ModelFormat = 'biggan-generator' | 'vgg';

/** Refusal of a checkpoint: names the key (and its shape) that does not fit. */
export class ConversionError extends Error {
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
    this.name = 'ConversionError';
  }
}

// ---- configurations -------------------------------------------------------------------------

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

export type ModelConfig = BigGANConfig | VGGConfig;

export interface ConvertedModel {
  format: ModelFormat;
  config: ModelConfig;
  /** Float32 weights under the model's state-dict keys (spectral norm already applied). */
  tensors: Map<string, HostTensor>;
  /** Spectral-norm sigmas by layer prefix (BigGAN only), for the summary. */
  sigmas?: Map<string, number>;
}

export interface ConvertOptions {
  /** VGG: the input side, recorded in the config (default: 224 for an ImageNet VGG, else unknown). */
  inputSize?: number;
  /** VGG: ImageNet normalisation flag (default: on for an ImageNet VGG: 1000 classes, 7x7 pool). */
  normalize?: boolean;
  /** VGG: whether a max-pool follows the last conv (default true, as in every torchvision cfg). */
  finalPool?: boolean;
  /** Name of the source, for messages and metadata. */
  source?: string;
}

// ---- layout recognition ---------------------------------------------------------------------

const SN = '(?:weight|u\\d+|sv\\d+)';
const BIGGAN_KEYS: RegExp[] = [
  /^shared\.weight$/,
  new RegExp(`^linear\\.(?:bias|${SN})$`),
  new RegExp(`^blocks\\.\\d+\\.0\\.(?:conv1|conv2|conv_sc)\\.(?:bias|${SN})$`),
  /^blocks\.\d+\.0\.bn[12]\.(?:stored_mean|stored_var)$/,
  new RegExp(`^blocks\\.\\d+\\.0\\.bn[12]\\.(?:gain|bias)\\.${SN}$`),
  new RegExp(`^blocks\\.\\d+\\.1\\.(?:theta|phi|g|o)\\.${SN}$`),
  /^blocks\.\d+\.1\.gamma$/,
  /^output_layer\.0\.(?:gain|bias|stored_mean|stored_var)$/,
  new RegExp(`^output_layer\\.2\\.(?:bias|${SN})$`),
];
const VGG_KEYS: RegExp[] = [
  /^features\.\d+\.(?:weight|bias|running_mean|running_var|num_batches_tracked)$/,
  /^classifier\.[036]\.(?:weight|bias)$/,
];

const fits = (key: string, patterns: RegExp[]) => patterns.some((p) => p.test(key));

/** Which layout the keys follow; refuses with the first key that fits neither (or the likelier one). */
export function detectFormat(keys: Iterable<string>): ModelFormat {
  const list = [...keys];
  if (list.length === 0) throw new ConversionError('the checkpoint holds no tensors');
  const biggan = list.filter((k) => fits(k, BIGGAN_KEYS)).length;
  const vgg = list.filter((k) => fits(k, VGG_KEYS)).length;
  if (biggan === 0 && vgg === 0) {
    throw new ConversionError(
      `not a BigGAN-PyTorch generator nor a torchvision VGG: key '${list[0]}' fits neither layout`,
      list[0],
    );
  }
  const [format, patterns, name] =
    biggan >= vgg
      ? (['biggan-generator', BIGGAN_KEYS, 'a BigGAN-PyTorch generator'] as const)
      : (['vgg', VGG_KEYS, 'a torchvision VGG'] as const);
  const odd = list.find((k) => !fits(k, patterns));
  if (odd !== undefined) {
    throw new ConversionError(`looks like ${name}, but key '${odd}' does not fit that layout`, odd);
  }
  return format;
}

/** Drops a prefix that every key shares when it is a wrapper's (DataParallel's module., a saved dict's state_dict.). */
export function stripWrapperPrefix(state: Map<string, HostTensor>): Map<string, HostTensor> {
  for (const prefix of ['module.', 'state_dict.', 'model.', 'generator.', 'G.']) {
    if (state.size > 0 && [...state.keys()].every((k) => k.startsWith(prefix))) {
      return new Map([...state].map(([k, v]) => [k.slice(prefix.length), v]));
    }
  }
  return state;
}

/** Recognises and converts a checkpoint's state dict. */
export function convertStateDict(raw: Map<string, HostTensor>, options: ConvertOptions = {}): ConvertedModel {
  const state = stripWrapperPrefix(raw);
  return detectFormat(state.keys()) === 'vgg' ? convertVGG(state, options) : convertBigGAN(state);
}

// ---- shape checking -------------------------------------------------------------------------

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

class Keys {
  readonly used = new Set<string>();
  constructor(readonly state: Map<string, HostTensor>) {}

  has(key: string): boolean {
    return this.state.has(key);
  }

  /** The tensor at `key`, checked against `expected` (null entries are free); records it as used. */
  get(key: string, expected: (number | null)[], why = ''): HostTensor {
    const t = this.state.get(key);
    if (!t) throw new ConversionError(`missing key '${key}' (expected shape ${fmtExpected(expected)})`, key);
    const ok = t.shape.length === expected.length && expected.every((d, i) => d === null || d === t.shape[i]);
    if (!ok) {
      throw new ConversionError(
        `'${key}' has shape ${fmt(t.shape)}, expected ${fmtExpected(expected)}${why ? ` (${why})` : ''}`,
        key,
      );
    }
    if (t.dtype === 'int64' || t.dtype === 'bool') {
      throw new ConversionError(`'${key}' holds ${t.dtype} values, expected floating point`, key);
    }
    this.used.add(key);
    return t;
  }

  /** A scalar stored as shape [] or [1]. */
  scalar(key: string): HostTensor {
    const t = this.state.get(key);
    if (t && t.shape.length === 1) return this.get(key, [1]);
    return this.get(key, []);
  }

  /** Every key left over is an error (it would be silently ignored otherwise). */
  checkAllUsed(ignore: (key: string) => boolean): void {
    const extra = [...this.state.keys()].find((k) => !this.used.has(k) && !ignore(k));
    if (extra !== undefined) {
      const t = this.state.get(extra)!;
      throw new ConversionError(`unexpected key '${extra}' ${fmt(t.shape)}: it has no place in the inferred architecture`, extra);
    }
  }
}

const fmtExpected = (shape: (number | null)[]) => `[${shape.map((d) => (d === null ? '*' : d)).join(', ')}]`;

function float32(t: HostTensor): HostTensor {
  return { dtype: 'float32', shape: [...t.shape], data: Float32Array.from(toFloat32(t)) };
}

// ---- spectral norm --------------------------------------------------------------------------

/**
 * BigGAN-PyTorch's eval-mode spectral norm, in float64: one power-iteration step from u0 (which
 * is not updated), W_effective = weight / sigma. Returns the float32 weight and sigma.
 */
export function spectralNormalize(weight: HostTensor, u0: HostTensor, name = 'weight'): { weight: HostTensor; sigma: number } {
  const rows = weight.shape[0];
  const cols = numel(weight.shape) / rows;
  const W = Float64Array.from(toFloat32(weight));
  const u = Float64Array.from(toFloat32(u0));
  const normalize = (x: Float64Array) => {
    let s = 0;
    for (const a of x) s += a * a;
    const n = Math.max(Math.sqrt(s), 1e-12);
    return x.map((a) => a / n);
  };
  // v = normalize(u0 @ W)
  const vRaw = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) vRaw[c] += u[r] * W[r * cols + c];
  const v = normalize(vRaw);
  // Wv = v @ W^T; u = normalize(Wv); sigma = Wv . u
  const Wv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += W[r * cols + c] * v[c];
    Wv[r] = s;
  }
  const uNew = normalize(Wv);
  let sigma = 0;
  for (let r = 0; r < rows; r++) sigma += Wv[r] * uNew[r];
  if (!(sigma > 0) || !Number.isFinite(sigma)) {
    throw new ConversionError(`spectral norm of '${name}' ${fmt(weight.shape)} gave sigma ${sigma}: an all-zero weight or u0?`, name);
  }
  const out = new Float32Array(W.length);
  for (let i = 0; i < W.length; i++) out[i] = W[i] / sigma;
  return { weight: { dtype: 'float32', shape: [...weight.shape], data: out }, sigma };
}

// ---- BigGAN ---------------------------------------------------------------------------------

/** Infers a BigGAN-PyTorch generator's architecture and bakes its spectral norms. */
export function convertBigGAN(state: Map<string, HostTensor>): ConvertedModel {
  const keys = new Keys(state);
  const tensors = new Map<string, HostTensor>();
  const sigmas = new Map<string, number>();
  const copy = (key: string, expected: (number | null)[], why?: string) => {
    const t = keys.get(key, expected, why);
    tensors.set(key, float32(t));
    return t;
  };
  /** A spectral-normed layer: weight, its u0 (1, out), optional bias. */
  const snLayer = (prefix: string, expected: (number | null)[], bias: boolean, why?: string) => {
    const w = keys.get(`${prefix}.weight`, expected, why);
    const out = w.shape[0];
    const u0 = keys.get(`${prefix}.u0`, [1, out], `the power-iteration vector of ${prefix}`);
    const { weight, sigma } = spectralNormalize(w, u0, `${prefix}.weight`);
    tensors.set(`${prefix}.weight`, weight);
    sigmas.set(prefix, sigma);
    if (bias) copy(`${prefix}.bias`, [out]);
    return w.shape;
  };

  const shared = copy('shared.weight', [null, null], 'the class embedding (n_classes, shared_dim)');
  const [nClasses, sharedDim] = shared.shape;
  const [linearOut, zChunk] = snLayer('linear', [null, null], true);

  const blockCount = countIndices(state, /^blocks\.(\d+)\./, 'blocks');
  if (blockCount === 0) throw new ConversionError("missing key 'blocks.0.0.conv1.weight': a generator needs at least one block", 'blocks.0.0.conv1.weight');

  const sc0 = keys.get('blocks.0.0.conv_sc.weight', [null, null, 1, 1], 'a 1x1 shortcut conv');
  const channels = [sc0.shape[1]];
  const bnIn = keys.get('blocks.0.0.bn1.gain.weight', [channels[0], null], "bn1's gain maps y to the block's input channels").shape[1];
  const attention: AttentionConfig[] = [];
  for (let i = 0; i < blockCount; i++) {
    const p = `blocks.${i}.0`;
    const cin = channels[i];
    const [cout] = snLayer(`${p}.conv1`, [null, cin, 3, 3], true, `a 3x3 conv from the ${cin} channels before block ${i}`);
    snLayer(`${p}.conv2`, [cout, cout, 3, 3], true, `a 3x3 conv over conv1's ${cout} output channels`);
    snLayer(`${p}.conv_sc`, [cout, cin, 1, 1], true, `a 1x1 shortcut conv from ${cin} to ${cout} channels`);
    for (const [bn, width] of [['bn1', cin], ['bn2', cout]] as const) {
      copy(`${p}.${bn}.stored_mean`, [width]);
      copy(`${p}.${bn}.stored_var`, [width]);
      for (const part of ['gain', 'bias']) {
        snLayer(`${p}.${bn}.${part}`, [width, bnIn], false, `a linear from the ${bnIn} conditioning inputs to ${width} channels`);
      }
    }
    channels.push(cout);
    const a = `blocks.${i}.1`;
    if ([...state.keys()].some((k) => k.startsWith(`${a}.`))) {
      const [keyChannels] = snLayer(`${a}.theta`, [null, cout, 1, 1], false, `a 1x1 conv over block ${i}'s ${cout} channels`);
      snLayer(`${a}.phi`, [keyChannels, cout, 1, 1], false, `a 1x1 conv like theta`);
      const [valueChannels] = snLayer(`${a}.g`, [null, cout, 1, 1], false, `a 1x1 conv over block ${i}'s ${cout} channels`);
      snLayer(`${a}.o`, [cout, valueChannels, 1, 1], false, `a 1x1 conv from g's ${valueChannels} channels back to ${cout}`);
      tensors.set(`${a}.gamma`, { ...float32(keys.scalar(`${a}.gamma`)), shape: [] });
      attention.push({ block: i, keyChannels, valueChannels });
    }
  }

  const c0 = channels[0];
  const bottomWidth = Math.round(Math.sqrt(linearOut / c0));
  if (bottomWidth * bottomWidth * c0 !== linearOut) {
    throw new ConversionError(
      `'linear.weight' has shape [${linearOut}, ${zChunk}]: ${linearOut} outputs are not ${c0} channels (block 0's input) times a square bottom width`,
      'linear.weight',
    );
  }
  const last = channels[blockCount];
  for (const k of ['gain', 'bias', 'stored_mean', 'stored_var']) copy(`output_layer.0.${k}`, [last]);
  const [outChannels] = snLayer('output_layer.2', [null, last, 3, 3], true, `a 3x3 conv from the last block's ${last} channels`);

  let hierarchical = false;
  let dimZ = zChunk;
  if (bnIn !== sharedDim) {
    if (bnIn !== sharedDim + zChunk) {
      throw new ConversionError(
        `'blocks.0.0.bn1.gain.weight' takes ${bnIn} inputs: neither shared_dim ${sharedDim} nor shared_dim + z chunk ${sharedDim}+${zChunk} (linear's inputs)`,
        'blocks.0.0.bn1.gain.weight',
      );
    }
    hierarchical = true;
    dimZ = zChunk * (blockCount + 1);
  }
  keys.checkAllUsed((k) => /\.sv\d+$/.test(k) || /\.u[1-9]\d*$/.test(k)); // training records / extra SVs
  const config: BigGANConfig = {
    resolution: bottomWidth * 2 ** blockCount,
    bottomWidth,
    dimZ,
    zChunk,
    nClasses,
    sharedDim,
    hierarchical,
    channels,
    attention,
    outChannels,
    eps: 1e-5,
  };
  return { format: 'biggan-generator', config, tensors, sigmas };
}

/** Number of consecutive indices under a prefix (0..n-1); a gap is an error naming the key past it. */
function countIndices(state: Map<string, HostTensor>, pattern: RegExp, what: string): number {
  const found = new Set<number>();
  const keyOf = new Map<number, string>();
  for (const k of state.keys()) {
    const m = pattern.exec(k);
    if (m) {
      const i = Number(m[1]);
      found.add(i);
      if (!keyOf.has(i)) keyOf.set(i, k);
    }
  }
  const n = found.size;
  for (const i of found) {
    if (i >= n) throw new ConversionError(`'${keyOf.get(i)}': ${what} are not numbered 0..${n - 1} (index ${i})`, keyOf.get(i));
  }
  return n;
}

// ---- VGG ------------------------------------------------------------------------------------

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

/** Infers a torchvision VGG: conv widths, batchnorm, pools from the index gaps, classifier sizes. */
export function convertVGG(state: Map<string, HostTensor>, options: ConvertOptions = {}): ConvertedModel {
  const keys = new Keys(state);
  const tensors = new Map<string, HostTensor>();
  const copy = (key: string, expected: (number | null)[], why?: string) => {
    const t = keys.get(key, expected, why);
    tensors.set(key, float32(t));
    return t;
  };

  // Feature modules by index: a conv has a 4-D weight, a batchnorm a running mean.
  const indices = new Map<number, string>();
  for (const k of state.keys()) {
    const m = /^features\.(\d+)\./.exec(k);
    if (m && !indices.has(Number(m[1]))) indices.set(Number(m[1]), k);
  }
  const isConv = (i: number) => (state.get(`features.${i}.weight`)?.shape.length ?? 0) === 4;
  const isBn = (i: number) => state.has(`features.${i}.running_mean`);
  const convIdx = [...indices.keys()].filter(isConv).sort((a, b) => a - b);
  if (convIdx.length === 0) throw new ConversionError("missing key 'features.0.weight': no conv layers found", 'features.0.weight');
  const batchNorm = isBn(convIdx[0] + 1);
  const step = batchNorm ? 3 : 2;

  const cfg: VGGLayerSpec[] = [];
  const inChannels = state.get(`features.${convIdx[0]}.weight`)!.shape[1];
  let channels = inChannels;
  let expectedAt = 0;
  for (const i of convIdx) {
    const key = `features.${i}.weight`;
    if (i === expectedAt + 1) {
      cfg.push('M');
    } else if (i !== expectedAt) {
      throw new ConversionError(
        `'${key}': a conv at index ${i} does not fit the layout (expected the next conv at features.${expectedAt}, or at features.${expectedAt + 1} after a max-pool)`,
        key,
      );
    }
    const [out] = copy(key, [null, channels, 3, 3], `a 3x3 conv from the ${channels} channels before it`).shape;
    copy(`features.${i}.bias`, [out]);
    if (batchNorm) {
      const b = `features.${i + 1}`;
      if (!isBn(i + 1)) throw new ConversionError(`missing key '${b}.running_mean': the other convs are followed by a batchnorm`, `${b}.running_mean`);
      for (const k of ['weight', 'bias', 'running_mean', 'running_var']) copy(`${b}.${k}`, [out]);
      if (state.has(`${b}.num_batches_tracked`)) keys.used.add(`${b}.num_batches_tracked`);
    }
    cfg.push(out);
    channels = out;
    expectedAt = i + step;
  }
  // Anything under features.* that is neither a conv nor its batchnorm.
  keys.checkAllUsed((k) => !k.startsWith('features.'));
  if (options.finalPool ?? true) cfg.push('M');

  const c0 = copy('classifier.0.weight', [null, null]);
  const [hidden1, flat] = c0.shape;
  const cells = flat / channels;
  const avgPool = Math.round(Math.sqrt(cells));
  if (!Number.isInteger(cells) || avgPool * avgPool !== cells) {
    throw new ConversionError(
      `'classifier.0.weight' has shape ${fmt(c0.shape)}: ${flat} inputs are not the last conv's ${channels} channels times a square pool size`,
      'classifier.0.weight',
    );
  }
  copy('classifier.0.bias', [hidden1]);
  const [hidden2] = copy('classifier.3.weight', [null, hidden1], `a linear from classifier.0's ${hidden1} outputs`).shape;
  copy('classifier.3.bias', [hidden2]);
  const [numClasses] = copy('classifier.6.weight', [null, hidden2], `a linear from classifier.3's ${hidden2} outputs`).shape;
  copy('classifier.6.bias', [numClasses]);
  keys.checkAllUsed(() => false);

  const imagenet = numClasses === 1000 && avgPool === 7 && inChannels === 3;
  const inputSize = options.inputSize ?? (imagenet ? 224 : null);
  const config: VGGConfig = {
    inChannels,
    cfg,
    batchNorm,
    avgPool,
    hidden: [hidden1, hidden2],
    numClasses,
    inputSize,
    normalize: options.normalize ?? imagenet,
    eps: 1e-5,
  };
  if (inputSize !== null) checkVGGInputSize(config, inputSize);
  return { format: 'vgg', config, tensors };
}

/** Refuses an input side that the max-pools would shrink below one pixel. */
export function checkVGGInputSize(config: VGGConfig, size: number): void {
  let side = size;
  for (const v of config.cfg) if (v === 'M') side = Math.floor(side / 2);
  if (!Number.isInteger(size) || size < 1 || side < 1) {
    throw new ConversionError(`input size ${size} is too small for ${config.cfg.filter((v) => v === 'M').length} max-pools`);
  }
}

// ---- metadata and summaries -----------------------------------------------------------------

export const FORMAT_VERSION = '1';

/** The safetensors __metadata__ of a converted model. */
export function conversionMetadata(model: ConvertedModel, source?: string): Record<string, string> {
  const meta: Record<string, string> = {
    format: model.format,
    format_version: FORMAT_VERSION,
    config: JSON.stringify(model.config),
    converter: 'webgpu-cgan src/models/convert.ts',
  };
  if (source) meta.source = basename(source);
  if (model.format === 'biggan-generator') meta.spectral_norm = 'baked: one power-iteration step from u0, float64';
  return meta;
}

/** Reads back what conversionMetadata wrote; null when the metadata is not a converted model's. */
export function parseConversionMetadata(meta: Record<string, string>): { format: ModelFormat; config: ModelConfig } | null {
  const format = meta.format;
  if (format !== 'biggan-generator' && format !== 'vgg') return null;
  let config: unknown;
  try {
    config = JSON.parse(meta.config ?? '');
  } catch {
    throw new ConversionError(`converted ${format} file has no valid 'config' in its metadata`);
  }
  if (typeof config !== 'object' || config === null) throw new ConversionError(`converted ${format} file: 'config' is not an object`);
  return { format, config: config as ModelConfig };
}

export function summarize(model: ConvertedModel): string {
  const lines: string[] = [];
  const params = [...model.tensors.values()].reduce((n, t) => n + numel(t.shape), 0);
  if (model.format === 'biggan-generator') {
    const c = model.config as BigGANConfig;
    const bw = c.bottomWidth;
    lines.push(
      `BigGAN generator: ${c.resolution}x${c.resolution}, z ${c.dimZ}` +
        (c.hierarchical ? ` (hierarchical: ${c.channels.length} chunks of ${c.zChunk})` : '') +
        `, ${c.nClasses} class${c.nClasses === 1 ? '' : 'es'}, shared_dim ${c.sharedDim}`,
    );
    lines.push(`  linear ${c.zChunk} -> ${c.channels[0]}x${bw}x${bw}`);
    for (let i = 0; i + 1 < c.channels.length; i++) {
      const side = bw * 2 ** (i + 1);
      const att = c.attention.find((a) => a.block === i);
      lines.push(
        `  block ${i}: ${c.channels[i]} -> ${c.channels[i + 1]} channels, ${side}x${side}` +
          (att ? `, then attention (theta/phi ${att.keyChannels}, g ${att.valueChannels})` : ''),
      );
    }
    lines.push(`  output: batchnorm, relu, 3x3 conv ${c.channels.at(-1)} -> ${c.outChannels}, tanh`);
    if (model.sigmas && model.sigmas.size > 0) {
      const s = [...model.sigmas.values()];
      lines.push(`  spectral norm baked into ${s.length} weights (sigma ${Math.min(...s).toFixed(3)} .. ${Math.max(...s).toFixed(3)})`);
    }
  } else {
    const c = model.config as VGGConfig;
    lines.push(
      `VGG${c.batchNorm ? ' with batchnorm' : ''}: ${c.inChannels} -> [${c.cfg.join(', ')}], adaptive avg pool ${c.avgPool}x${c.avgPool}, ` +
        `classifier ${c.avgPool * c.avgPool * (c.cfg.filter((v) => v !== 'M').at(-1) as number)} -> ${c.hidden[0]} -> ${c.hidden[1]} -> ${c.numClasses}`,
    );
    lines.push(`  input ${c.inputSize === null ? 'size unknown' : `${c.inputSize}x${c.inputSize}`}, ${c.normalize ? 'ImageNet normalisation inside' : 'no normalisation'}`);
  }
  lines.push(`  ${params.toLocaleString('en-US')} parameters`);
  return lines.join('\n');
}
