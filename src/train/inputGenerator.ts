// The input generator of "Conditioning GAN Without Training Dataset": a one-hot class goes
// through a shared trunk, and two heads give the mean and the (softplus-positive) standard
// deviation of the frozen generator's latent.
//
// Beyond the paper, each class may own several Gaussians (`components`), picked uniformly per
// sample: one Gaussian per class covers only one of the places in G's latent space where the
// classifier sees that class, and labelling G's prior samples shows there are several
// (docs/ablation.md). Component k of class c has mean anchor[c, k] + mu head: the anchors are a
// fixed buffer, set before training (see anchors.ts) so that components start apart, each in a
// place the classifier already calls c; with zero anchors they differ only by the heads' init.
//
// With `freeComponents`, the trunk and heads are left out: each component owns its mean's offset
// from its anchor and its sigma, as free parameters (starting at the anchor). Through the shared
// trunk and heads, the steps that fix one component's draws move every other component too, in
// every class (the mu head's bias for slot k is added in all classes). With `fixedMeans` too, the
// offsets stay at 0 (a buffer, not a parameter): each component stays on its anchor and learns
// only how wide it may be, per latent dimension.
//
// Also beyond the paper (`generatorClasses`, --learn-class-vector): for a class-conditional G, a
// third head gives logits over G's own classes, and their softmax is fed to G as its class vector
// (class-embedding tuning), learned with z's mean and sigma.
import { Rng } from '../engine/random.js';
import { noGrad } from '../engine/autograd.js';
import { scope, Tensor } from '../engine/tensor.js';
import { full, ones, zeros } from '../kernels/creation.js';
import { add, mul, relu, softplus } from '../kernels/elementwise.js';
import { embedding, oneHot } from '../kernels/gather.js';
import { softmax } from '../kernels/softmax.js';
import { Linear, Module } from '../models/module.js';

export interface InputGeneratorConfig {
  numClasses: number;
  dimZ: number;
  hidden: number;
  /** Added to softplus so sigma never collapses to exactly zero. */
  minSigma: number;
  /**
   * Where sigma starts: the sigma head's bias set so that softplus(bias) + minSigma is this (absent:
   * the layer's own initialisation, softplus(~0) = 0.69). Small values start each component as
   * nearly its anchor's image: on the default pair, noise of 0.35 around a confident prior latent
   * already changes the class the classifier sees on about a third of the draws.
   */
  initialSigma?: number;
  /** Gaussians per class (1: the paper's input generator). */
  components?: number;
  /**
   * Each component's mean offset (from its anchor, starting at 0) and sigma are its own
   * parameters, with no trunk or heads (needs components > 1; not with generatorClasses).
   */
  freeComponents?: boolean;
  /** With freeComponents: the means stay on their anchors, and only the sigmas learn. */
  fixedMeans?: boolean;
  /** G's classes, when the class vector fed to G is learned too (absent or 0: G's class is fixed). */
  generatorClasses?: number;
  /** The G class the learned class vector starts on (probability 0.9). */
  startClass?: number;
}

/** componentRows' two index lists as int32 tensors. */
export interface ComponentRows {
  pick: Tensor;
  anchorRows: Tensor;
}

/** What the input generator gives for a batch: z's mean and deviation, and G's class vector if learned. */
export interface LatentParameters {
  mu: Tensor;
  sigma: Tensor;
  /** (rows, generatorClasses), each row a mixture over G's classes. */
  classVector?: Tensor;
  /** With anchored components: mu minus its component's anchor (the mu head's share of mu). */
  anchorOffset?: Tensor;
}

/**
 * What the pipeline, the evaluation and the samplers ask of whatever gives G its latents and
 * class: the trained input generator, or G's own prior (GeneratorPrior).
 */
export interface LatentSampler {
  readonly config: { numClasses: number; dimZ: number };
  sample(classes: Tensor | ArrayLike<number>, eps: Tensor, component?: ArrayLike<number> | ComponentRows): LatentParameters & { z: Tensor };
  drawComponents(classes: ArrayLike<number>, rng: Rng): number[] | undefined;
  /** With components: the rows a replayed step uploads for them (InputGenerator.componentRows). */
  componentRows?(classes: ArrayLike<number>, component: ArrayLike<number>): { pick: Int32Array; anchorRows: Int32Array };
}

/**
 * A class-conditional G sampled as it was trained: z = eps from N(0, I), and the requested class
 * as G's one-hot class vector (a run of `cgan cgan`, whose G learned the classes from labels).
 * With a temperature T below 1, z = T * eps from N(0, T^2 I) (Kingma & Dhariwal's reduced
 * temperature, the smooth form of BigGAN's truncation): draws nearer the prior's centre, which
 * trades variety for typical images.
 */
export class GeneratorPrior implements LatentSampler {
  readonly temperature: number;

  constructor(readonly config: { numClasses: number; dimZ: number; temperature?: number }) {
    this.temperature = config.temperature ?? 1;
    if (!(this.temperature > 0 && this.temperature <= 1)) throw new Error(`temperature must be in (0, 1], got ${config.temperature}`);
  }

  sample(classes: Tensor | ArrayLike<number>, eps: Tensor): LatentParameters & { z: Tensor } {
    const T = this.temperature;
    const classVector = oneHot(classes, this.config.numClasses);
    if (T === 1) return { z: eps, mu: zeros(eps.shape), sigma: ones(eps.shape), classVector };
    return { z: mul(eps, T), mu: zeros(eps.shape), sigma: full(eps.shape, T), classVector };
  }

  drawComponents(): undefined {
    return undefined;
  }
}

export class InputGenerator extends Module implements LatentSampler {
  /** The shared trunk and heads (null with freeComponents). */
  readonly trunk1: Linear | null = null;
  readonly trunk2: Linear | null = null;
  readonly muHead: Linear | null = null;
  readonly sigmaHead: Linear | null = null;
  /** With freeComponents: (numClasses * components, dimZ) offsets from the anchors, and sigma before softplus. */
  readonly offsets: Tensor | null = null;
  readonly rawSigmas: Tensor | null = null;
  /** Logits over G's classes (generatorClasses > 0). */
  readonly classHead: Linear | null = null;
  readonly components: number;
  /** (numClasses * components, dimZ): where each class's components are centred (components > 1). */
  readonly anchors: Tensor | null = null;

  constructor(readonly config: InputGeneratorConfig, seed = 0) {
    super();
    const generator = new Rng(seed);
    const { numClasses, dimZ, hidden } = config;
    this.components = config.components ?? 1;
    if (!Number.isInteger(this.components) || this.components < 1) {
      throw new Error(`input generator: components must be a whole number >= 1, got ${config.components}`);
    }
    const free = config.freeComponents ?? false;
    if (free && (this.components < 2 || (config.generatorClasses ?? 0) > 0)) {
      throw new Error('input generator: free components need more than one component, and a fixed G class (no learned class vector)');
    }
    if (config.fixedMeans && !free) throw new Error('input generator: fixed means need free components');
    const out = dimZ * this.components;
    const tableRows = numClasses * this.components;
    const initialSigma = config.initialSigma;
    if (initialSigma !== undefined && !(initialSigma - config.minSigma > 0)) {
      throw new Error(`input generator: the initial sigma ${initialSigma} must exceed the minimum sigma ${config.minSigma}`);
    }
    // softplus^-1(x) = log(e^x - 1); without --initial-sigma, a free sigma starts where a head's does (softplus(0)).
    const rawSigma = initialSigma === undefined ? 0 : Math.log(Math.expm1(initialSigma - config.minSigma));
    if (free) {
      const offsets = zeros([tableRows, dimZ]);
      this.offsets = config.fixedMeans ? this.registerBuffer('offsets', offsets) : this.registerParameter('offsets', offsets);
      this.rawSigmas = this.registerParameter('sigmas', full([tableRows, dimZ], rawSigma));
    } else {
      this.trunk1 = this.registerModule('trunk1', new Linear(numClasses, hidden, { generator }));
      this.trunk2 = this.registerModule('trunk2', new Linear(hidden, hidden, { generator }));
      this.muHead = this.registerModule('mu', new Linear(hidden, out, { generator }));
      this.sigmaHead = this.registerModule('sigma', new Linear(hidden, out, { generator }));
      if (initialSigma !== undefined) this.sigmaHead.bias!.copy_(new Float32Array(out).fill(rawSigma));
    }
    if (this.components > 1) this.anchors = this.registerBuffer('anchors', zeros([numClasses * this.components, dimZ]));
    const gClasses = config.generatorClasses ?? 0;
    if (gClasses > 0) {
      const start = config.startClass ?? 0;
      if (!Number.isInteger(start) || start < 0 || start >= gClasses) {
        throw new Error(`input generator: the start class ${start} is outside G's ${gClasses} classes`);
      }
      this.classHead = this.registerModule('classVector', new Linear(hidden, gClasses, { generator }));
      // Start where a fixed --generator-class would be: softmax 0.9 on it, the rest shared.
      const bias = new Float32Array(gClasses);
      if (gClasses > 1) bias[start] = Math.log((0.9 * (gClasses - 1)) / 0.1);
      this.classHead.bias!.copy_(bias);
    }
  }

  /**
   * Mean and standard deviation of z for each class; with several components, those of the
   * component picked for each row (`component[i]` in [0, components)), or, already turned into
   * rows by componentRows and uploaded, `rows` (how a replayed step passes them).
   */
  forward(classes: Tensor | ArrayLike<number>, component?: ArrayLike<number> | ComponentRows): LatentParameters {
    const { minSigma, dimZ } = this.config;
    if (this.offsets && this.rawSigmas) {
      const rows = classes instanceof Tensor ? classes.shape[0] : classes.length;
      const { anchorRows } = this.pickedRows(classes, rows, component);
      const anchorOffset = embedding(this.offsets, anchorRows);
      return {
        mu: add(anchorOffset, embedding(this.anchors!, anchorRows)),
        anchorOffset,
        sigma: add(softplus(embedding(this.rawSigmas, anchorRows)), minSigma),
      };
    }
    const h = relu(this.trunk2!.forward(relu(this.trunk1!.forward(oneHot(classes, this.config.numClasses)))));
    const mu = this.muHead!.forward(h);
    const sigma = add(softplus(this.sigmaHead!.forward(h)), minSigma);
    const classVector = this.classHead ? softmax(this.classHead.forward(h)) : undefined;
    if (this.components === 1) return { mu, sigma, classVector };
    const rows = mu.shape[0];
    const picked = this.pickedRows(classes, rows, component);
    const anchorOffset = embedding(mu.reshape(rows * this.components, dimZ), picked.pick);
    return {
      mu: add(anchorOffset, embedding(this.anchors!, picked.anchorRows)),
      anchorOffset,
      sigma: embedding(sigma.reshape(rows * this.components, dimZ), picked.pick),
      classVector,
    };
  }

  /** The component rows of a batch: given already (a replayed step), or made by componentRows. */
  private pickedRows(classes: Tensor | ArrayLike<number>, rows: number, component?: ArrayLike<number> | ComponentRows): ComponentRows | { pick: Int32Array; anchorRows: Int32Array } {
    if (component && 'pick' in component) return component;
    if (!component || component.length !== rows) {
      throw new Error(`input generator: ${this.components} components need a component index for each of the ${rows} rows`);
    }
    if (classes instanceof Tensor) throw new Error('input generator: with several components, give the classes as numbers');
    return this.componentRows(classes, component);
  }

  /**
   * For each row i: the row of the (rows * components, dimZ) head outputs holding its component,
   * i * components + component[i], and its anchor's row, classes[i] * components + component[i].
   */
  componentRows(classes: ArrayLike<number>, component: ArrayLike<number>): { pick: Int32Array; anchorRows: Int32Array } {
    const K = this.components;
    for (const k of Array.from(component)) {
      if (!Number.isInteger(k) || k < 0 || k >= K) throw new Error(`input generator: component ${k} is outside [0, ${K})`);
    }
    return {
      pick: Int32Array.from(component, (k, i) => i * K + k),
      anchorRows: Int32Array.from(component, (k, i) => classes[i] * K + k),
    };
  }

  /**
   * How far training moved the components: the mean distance of a component's mean from its
   * anchor, and, for scale, the mean distance between two anchors of a class. Null with one component.
   */
  async anchorDrift(): Promise<{ drift: number; spacing: number } | null> {
    if (!this.anchors) return null;
    const { numClasses, dimZ } = this.config;
    const C = this.components;
    const classes = Array.from({ length: numClasses * C }, (_, i) => Math.floor(i / C));
    const offsetTensor = noGrad(() => scope(() => this.forward(classes, classes.map((_, i) => i % C)).anchorOffset!));
    const offsets = (await offsetTensor.data()) as Float32Array;
    offsetTensor.dispose();
    const anchors = (await this.anchors.data()) as Float32Array;
    const distance = (a: Float32Array, i: number, b?: Float32Array, j = 0) => {
      let sum = 0;
      for (let d = 0; d < dimZ; d++) sum += (a[i * dimZ + d] - (b ? b[j * dimZ + d] : 0)) ** 2;
      return Math.sqrt(sum);
    };
    let drift = 0;
    let spacing = 0;
    for (let row = 0; row < numClasses * C; row++) drift += distance(offsets, row) / (numClasses * C);
    for (let c = 0; c < numClasses; c++) {
      for (let k = 0; k < C; k++) for (let l = k + 1; l < C; l++) spacing += distance(anchors, c * C + k, anchors, c * C + l);
    }
    return { drift, spacing: spacing / ((numClasses * C * (C - 1)) / 2) };
  }

  /** Centre the components: (numClasses * components * dimZ) values, class-major. */
  setAnchors(values: Float32Array): void {
    if (!this.anchors) throw new Error('input generator: anchors need more than one component');
    this.anchors.copy_(values);
  }

  /** z = mu + sigma * eps: the reparameterisation, so gradients reach mu and sigma. */
  sample(classes: Tensor | ArrayLike<number>, eps: Tensor, component?: ArrayLike<number> | ComponentRows): LatentParameters & { z: Tensor } {
    const latent = this.forward(classes, component);
    return { ...latent, z: add(latent.mu, mul(latent.sigma, eps)) };
  }

  /**
   * The components sampled from, per class (components.ts: those the frozen classifier recognises
   * after training); null: all of them.
   */
  kept: number[][] | null = null;

  /**
   * A uniformly drawn component per row, among its class's kept ones; draws nothing (and returns
   * undefined) with one component. With all kept, the draws are those of rng.int(components).
   */
  drawComponents(classes: ArrayLike<number>, rng: Rng): number[] | undefined {
    if (this.components === 1) return undefined;
    const kept = this.kept;
    return Array.from(classes, (c) => (kept ? kept[c][rng.int(kept[c].length)] : rng.int(this.components)));
  }
}
