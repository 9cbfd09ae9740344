// Modules in PyTorch's shape: parameters, buffers and children by name, state dicts with
// torch's dotted keys, train/eval modes, and freezing.
import { Rng } from '../engine/random.js';
import { formatShape, keep, tensor, type Tensor } from '../engine/tensor.js';
import { batchNorm, batchNormRelu } from '../kernels/batchnorm.js';
import { conv2d } from '../kernels/conv2d.js';
import { convTranspose2d } from '../kernels/unfold.js';
import { embedding } from '../kernels/gather.js';
import { linear } from '../kernels/matmul.js';
import type { HostTensor } from './checkpoint/hostTensor.js';

export type StateDict = Map<string, Tensor>;

/** A state dict read back from the device as float32 host tensors, as the safetensors writers take them. */
export async function hostStateDict(state: StateDict): Promise<Map<string, HostTensor>> {
  const host = new Map<string, HostTensor>();
  for (const [key, t] of state) host.set(key, { dtype: 'float32', shape: [...t.shape], data: (await t.data()) as Float32Array });
  return host;
}

/** Host-side values a state dict can be loaded from (a checkpoint's tensors). */
export interface HostValues {
  shape: readonly number[];
  data: ArrayLike<number>;
}

export class Module {
  training = true;
  private ownParameters = new Map<string, Tensor>();
  private ownBuffers = new Map<string, Tensor>();
  private children = new Map<string, Module>();

  protected registerParameter(name: string, t: Tensor): Tensor {
    t.name = name;
    this.ownParameters.set(name, keep(t.requiresGrad_(true)));
    return t;
  }

  protected registerBuffer(name: string, t: Tensor): Tensor {
    t.name = name;
    this.ownBuffers.set(name, keep(t));
    return t;
  }

  /** Move a parameter to another name (a weight parametrization's original, e.g. weight_orig). */
  protected renameParameter(from: string, to: string): void {
    const t = this.ownParameters.get(from);
    if (!t) throw new Error(`${this.constructor.name}: no parameter '${from}' to rename`);
    this.ownParameters.delete(from);
    t.name = to;
    this.ownParameters.set(to, t);
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  *namedModules(prefix = ''): IterableIterator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.children) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules()) {
      for (const [name, t] of m.ownParameters) out.push([path ? `${path}.${name}` : name, t]);
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters and buffers under torch's dotted names. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [path, m] of this.namedModules()) {
      const at = (name: string) => (path ? `${path}.${name}` : name);
      for (const [name, t] of m.ownParameters) out.set(at(name), t);
      for (const [name, t] of m.ownBuffers) out.set(at(name), t);
    }
    return out;
  }

  /** Copy values in; every key must exist with the same shape (and, when strict, none may be missing). */
  loadStateDict(values: Map<string, HostValues>, options: { strict?: boolean; source?: string } = {}): void {
    const own = this.stateDict();
    const from = options.source ? ` (from ${options.source})` : '';
    for (const [key, v] of values) {
      const target = own.get(key);
      if (!target) throw new Error(`loadStateDict: unexpected key '${key}'${from}`);
      if (v.shape.join() !== target.shape.join()) {
        throw new Error(`loadStateDict: '${key}' has shape ${formatShape(v.shape)}${from}, the model expects ${formatShape(target.shape)}`);
      }
      target.copy_(Float32Array.from(v.data));
    }
    if (options.strict ?? true) {
      const missing = [...own.keys()].filter((k) => !values.has(k));
      if (missing.length) throw new Error(`loadStateDict: missing keys${from}: ${missing.join(', ')}`);
    }
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freeze (false) or unfreeze every parameter. Frozen parameters never get a .grad. */
  requiresGrad_(flag: boolean): this {
    for (const p of this.parameters()) {
      p.requiresGrad = flag;
      if (!flag && p.grad) {
        p.grad.dispose();
        p.grad = null;
      }
    }
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  dispose(): void {
    for (const [, m] of this.namedModules()) m.releaseCaches();
    for (const t of this.stateDict().values()) t.dispose();
  }

  /** Give back what the module computed once from its tensors and keeps (e.g. vgg.ts's FoldedBatchNorm). */
  protected releaseCaches(): void {}
}

/**
 * A network loaded frozen from a checkpoint: eval mode only (running statistics, no dropout), so
 * train(true) is refused rather than silently changing what it computes.
 */
export abstract class FrozenModule extends Module {
  override train(mode = true): this {
    if (mode) throw new Error(`${this.constructor.name} runs in eval mode only`);
    return super.train(false);
  }
}

/** Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)), PyTorch's default for Linear and Conv2d biases. */
function uniformInit(shape: number[], fanIn: number, g: Rng): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tensor(g.fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), -bound, bound), shape);
}

export interface InitOptions {
  generator?: Rng;
}

/** What a weight parametrization (PyTorch's, e.g. spectralNorm.ts) computes a layer's weight from. */
export interface WeightParametrization {
  /** The name the original parameter takes in the state dict (torch's spectral_norm: weight_orig). */
  readonly originalName: string;
  /** Buffers it keeps beside the layer's own, under these names (weight_u, weight_v). */
  readonly buffers: Record<string, Tensor>;
  /** The weight computed from the original, as of this forward pass (training: the layer's mode). */
  weight(original: Tensor, training: boolean): Tensor;
}

/**
 * A layer with a `weight` (Linear, Conv2d, ConvTranspose2d). Reading `weight` gives the parameter,
 * or, once parametrized, what the parametrization computes from it: each read is one forward
 * pass's weight, as PyTorch recomputes it in a hook before each forward.
 */
export abstract class WeightedLayer extends Module {
  private weightParameter!: Tensor;
  private parametrization: WeightParametrization | null = null;

  protected setWeight(t: Tensor): void {
    this.weightParameter = this.registerParameter('weight', t);
  }

  get weight(): Tensor {
    return this.parametrization ? this.parametrization.weight(this.weightParameter, this.training) : this.weightParameter;
  }

  /** The parameter itself, whatever the parametrization computes from it. */
  get originalWeight(): Tensor {
    return this.weightParameter;
  }

  /** Compute the weight from now on with p: the parameter is renamed and p's buffers join the state dict. */
  parametrizeWeight(p: WeightParametrization): void {
    if (this.parametrization) throw new Error(`${this.constructor.name}: its weight is already parametrized`);
    this.renameParameter('weight', p.originalName);
    for (const [name, t] of Object.entries(p.buffers)) this.registerBuffer(name, t);
    this.parametrization = p;
  }
}

export class Linear extends WeightedLayer {
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: InitOptions & { bias?: boolean } = {}) {
    super();
    const g = options.generator ?? new Rng(0);
    this.setWeight(uniformInit([outFeatures, inFeatures], inFeatures, g));
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniformInit([outFeatures], inFeatures, g));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias ?? undefined);
  }
}

export class Conv2d extends WeightedLayer {
  readonly bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly options: InitOptions & { stride?: number; padding?: number; bias?: boolean } = {},
  ) {
    super();
    const g = options.generator ?? new Rng(0);
    const fanIn = inChannels * kernelSize * kernelSize;
    this.setWeight(uniformInit([outChannels, inChannels, kernelSize, kernelSize], fanIn, g));
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniformInit([outChannels], fanIn, g));
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.options.stride ?? 1, padding: this.options.padding ?? 0 });
  }
}

export class ConvTranspose2d extends WeightedLayer {
  readonly bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly options: InitOptions & { stride?: number; padding?: number; outputPadding?: number; bias?: boolean } = {},
  ) {
    super();
    const g = options.generator ?? new Rng(0);
    // PyTorch computes the fan-in of a transposed conv's (in, out, k, k) weight from dim 1.
    const fanIn = outChannels * kernelSize * kernelSize;
    this.setWeight(uniformInit([inChannels, outChannels, kernelSize, kernelSize], fanIn, g));
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniformInit([outChannels], fanIn, g));
  }

  forward(x: Tensor): Tensor {
    const { stride = 1, padding = 0, outputPadding = 0 } = this.options;
    return convTranspose2d(x, this.weight, this.bias, { stride, padding, outputPadding });
  }
}

/** nn.Embedding: rows of a (numEmbeddings, dim) table, initialised N(0, 1) as torch does. */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(readonly numEmbeddings: number, readonly dim: number, options: InitOptions = {}) {
    super();
    const g = options.generator ?? new Rng(0);
    this.weight = this.registerParameter('weight', tensor(g.fillNormal(new Float32Array(numEmbeddings * dim)), [numEmbeddings, dim]));
  }

  forward(indices: Tensor | ArrayLike<number>): Tensor {
    return embedding(this.weight, indices);
  }
}

/**
 * What keeps batchnorm's running statistics (torch's _NormBase): their momentum, and the count of
 * training batches that momentum null (torch's momentum=None) averages over, as
 * torch.optim.swa_utils.update_bn (optim.ts updateBn) uses it.
 */
export abstract class NormBase extends Module {
  /** running = (1 - momentum) * running + momentum * batch; null: the plain average of every training batch since resetRunningStats. */
  momentum: number | null;
  private batchesTracked = 0;

  constructor(readonly eps: number, momentum: number | null = 0.1) {
    super();
    this.momentum = momentum;
  }

  /** The mean and variance buffers a training pass updates. */
  abstract get runningStatistics(): [mean: Tensor, variance: Tensor];

  /** Mean 0, variance 1, no batch tracked (torch's reset_running_stats). */
  resetRunningStats(): void {
    const [mean, variance] = this.runningStatistics;
    mean.copy_(new Float32Array(mean.size));
    variance.copy_(new Float32Array(variance.size).fill(1));
    this.batchesTracked = 0;
  }

  /** The batchnorm kernels' settings for one forward pass; a training pass counts as a tracked batch. */
  settings(): { training: boolean; momentum: number; eps: number } {
    if (this.training) this.batchesTracked++;
    return { training: this.training, momentum: this.momentum ?? 1 / Math.max(this.batchesTracked, 1), eps: this.eps };
  }
}

export class BatchNorm2d extends NormBase {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(readonly channels: number, options: { affine?: boolean; eps?: number; momentum?: number | null } = {}) {
    super(options.eps ?? 1e-5, options.momentum);
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', tensor(new Float32Array(channels).fill(1), [channels])) : null;
    this.bias = affine ? this.registerParameter('bias', tensor(new Float32Array(channels), [channels])) : null;
    this.runningMean = this.registerBuffer('running_mean', tensor(new Float32Array(channels), [channels]));
    this.runningVar = this.registerBuffer('running_var', tensor(new Float32Array(channels).fill(1), [channels]));
  }

  get runningStatistics(): [Tensor, Tensor] {
    return [this.runningMean, this.runningVar];
  }

  forward(x: Tensor): Tensor {
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, this.settings());
  }

  /** relu(forward(x)) in one pass (batchNormRelu). */
  forwardRelu(x: Tensor): Tensor {
    return batchNormRelu(x, this.runningMean, this.runningVar, this.weight, this.bias, this.settings());
  }
}
