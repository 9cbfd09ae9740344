// What a model family is (one per file under families/, listed in families/index.ts), the two
// interfaces the trainer and the evaluation use instead of concrete classes, and the helpers
// every family's conversion shares.
import { toFloat32, type HostTensor } from './checkpoint/index.js';
import type { Tensor } from '../engine/tensor.js';
import type { Module } from './module.js';

export type ModelKind = 'generator' | 'classifier';

/** A frozen image generator, as the pipeline, the anchors and parity use it. */
export interface ImageGenerator {
  /** The architecture, as the converted file's metadata records it. */
  readonly config: object;
  /** Length of z. */
  readonly dimZ: number;
  /** Side of its square images. */
  readonly resolution: number;
  /** Classes it can be conditioned on (1: unconditional). */
  readonly numClasses: number;
  /**
   * z (B, dimZ) and one class index per sample -> images (B, C, R, R) in [-1, 1]. A generator that
   * takes class vectors (BigGAN-deep) also accepts a (B, numClasses) tensor, one-hot or a mixture.
   */
  forward(z: Tensor, classes?: Tensor | ArrayLike<number>): Tensor;
  /** The truncation in (0, 1] of a generator that has one (BigGAN-deep); settable. */
  truncation?: number;
}

/** A frozen classifier, as the pipeline, the judge and parity use it. */
export interface Classifier {
  readonly config: object;
  readonly numClasses: number;
  /** Input side it was trained at, when known. */
  readonly inputSize: number | null;
  /** Images (B, C, H, W) in [-1, 1] (any normalisation happens inside) -> logits (B, numClasses). */
  forward(images: Tensor): Tensor;
  /** Logits and the penultimate features (the judge's variety and Fréchet distance use them). */
  forwardWithFeatures(images: Tensor): { logits: Tensor; features: Tensor };
  /**
   * Where the network's own input is not [-1, 1]: it is images * scale + shift, per channel.
   * Parity maps a fixture's x (given in the network's own input space) back through it.
   */
  readonly inputMap?: { scale: number[]; shift: number[] };
}

export type FrozenGenerator = Module & ImageGenerator;
export type FrozenClassifier = Module & Classifier;
export type FrozenModel = FrozenGenerator | FrozenClassifier;

/** The format a converted file records; a family's `format`. */
export type ModelFormat = string;
export type ModelConfig = object;

export interface ConvertedModel {
  format: ModelFormat;
  config: ModelConfig;
  /** Float32 weights under the model's state-dict keys (spectral norm already applied). */
  tensors: Map<string, HostTensor>;
  /** Spectral-norm sigmas by layer prefix (BigGAN only), for the summary. */
  sigmas?: Map<string, number>;
}

export interface ConvertOptions {
  /** VGG, ResNet: the input side, recorded in the config (default: 224 for an ImageNet one, else unknown). */
  inputSize?: number;
  /** VGG, ResNet: ImageNet normalisation flag (default: on for an ImageNet one: 1000 classes, VGG's 7x7 pool). */
  normalize?: boolean;
  /** VGG: whether a max-pool follows the last conv (default true, as in every torchvision cfg). */
  finalPool?: boolean;
  /** VGG-Face: the per-channel mean (0..255) subtracted from its input (default: the vgg_face_dag port's). */
  mean?: number[];
  /** Name of the source, for messages and metadata. */
  source?: string;
  /** BigGAN-deep: its config.json (a path, or the parsed object); default: the one beside the checkpoint. */
  config?: string | Record<string, unknown>;
  /** BigGAN-deep: the truncation in (0, 1] the batchnorm statistics are interpolated for (default 1). */
  truncation?: number;
}

/**
 * One model family: how to recognise, convert, check and build it. C is its config; the registry
 * holds families of different configs, hence the `any` default (a family checks its own config).
 */
export interface ModelFamily<C extends object = any> {
  /** What converted files record as their format. */
  format: ModelFormat;
  kind: ModelKind;
  /** What detection calls the layout, e.g. 'a BigGAN-PyTorch generator'. */
  description: string;
  /** What a loader calls the network, e.g. 'a BigGAN generator'. */
  name: string;
  /** Whether a state-dict key belongs to this layout: detection counts the keys that do. */
  fits(key: string): boolean;
  /** A state dict of this layout -> float32 weights and the inferred config. */
  convert(state: Map<string, HostTensor>, options: ConvertOptions): ConvertedModel;
  /** A converted file's config with the caller's options applied (those that apply to it). */
  withOptions?(config: C, options: ConvertOptions): C;
  /** Refuses an inconsistent config: one read back from metadata is untrusted. */
  checkConfig(config: C, source: string): C;
  build(config: C): FrozenModel;
  /** Summary lines for `npm run convert` (the parameter count is added after them). */
  summarize(model: ConvertedModel): string[];
  /** Extra metadata entries of its converted files. */
  metadata?: Record<string, string>;
  /** Refuses a parity fixture made for another configuration (where the fixture records one). */
  checkFixture?(config: C, fixture: Map<string, HostTensor>): void;
}

/** The input a torchvision classifier (VGG, ResNet) expects: its side and its normalisation. */
export interface ImageNetStyleInput {
  inputSize: number | null;
  normalize: boolean;
}

/** withOptions of such a classifier: the caller's input side and normalisation override the file's. */
export function withInputOptions<C extends ImageNetStyleInput>(c: C, options: ConvertOptions): C {
  return { ...c, inputSize: options.inputSize ?? c.inputSize, normalize: options.normalize ?? c.normalize };
}

/** Its summary line. */
export function describeInput(c: ImageNetStyleInput): string {
  const size = c.inputSize === null ? 'size unknown' : `${c.inputSize}x${c.inputSize}`;
  return `  input ${size}, ${c.normalize ? 'ImageNet normalisation inside' : 'no normalisation'}`;
}

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

// ---- helpers of the conversions -------------------------------------------------------------

export const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const fmtExpected = (shape: (number | null)[]) => `[${shape.map((d) => (d === null ? '*' : d)).join(', ')}]`;

/** fits() for a family whose keys follow a list of patterns. */
export const fitsAny = (patterns: RegExp[]) => (key: string) => patterns.some((p) => p.test(key));

/** A state dict's keys, read with their shapes checked and their use recorded. */
export class Keys {
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

  /** The tensors a conversion keeps, as float32 under their keys (filled by copy). */
  readonly copied = new Map<string, HostTensor>();

  /** get(), and keep the tensor as float32 in `copied` (a converted model's weights). */
  copy(key: string, expected: (number | null)[], why = ''): HostTensor {
    const t = this.get(key, expected, why);
    this.copied.set(key, float32(t));
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

export function float32(t: HostTensor): HostTensor {
  return { dtype: 'float32', shape: [...t.shape], data: Float32Array.from(toFloat32(t)) };
}

/** A config field that counts something: a positive safe integer. */
export const isCount = (x: unknown) => Number.isSafeInteger(x) && (x as number) > 0;
