// The input generator of "Conditioning GAN Without Training Dataset": a one-hot class goes
// through a shared trunk, and two heads give the mean and the (softplus-positive) standard
// deviation of the frozen generator's latent.
//
// Beyond the paper, each class may own several Gaussians (`components`), picked uniformly per
// sample: one Gaussian per class can cover only one of the places in G's latent space where the
// classifier sees that class, and sampling G's prior shows there are several (docs/ablation.md).
// Each component's mean starts at its own draw from N(0, componentSpread^2) (the mu head's bias),
// so the components settle in different places.
import { Generator } from '../engine/random.js';
import { indexTensor, type Tensor } from '../engine/tensor.js';
import { add, mul, relu, softplus } from '../kernels/elementwise.js';
import { embedding, oneHot } from '../kernels/gather.js';
import { Linear, Module } from '../models/module.js';

export interface InputGeneratorConfig {
  numClasses: number;
  dimZ: number;
  hidden: number;
  /** Added to softplus so sigma never collapses to exactly zero. */
  minSigma: number;
  /** Gaussians per class (1: the paper's input generator). */
  components?: number;
  /** Standard deviation of the components' initial means (only with components > 1). */
  componentSpread?: number;
}

export class InputGenerator extends Module {
  readonly trunk1: Linear;
  readonly trunk2: Linear;
  readonly muHead: Linear;
  readonly sigmaHead: Linear;
  readonly components: number;

  constructor(readonly config: InputGeneratorConfig, seed = 0) {
    super();
    const generator = new Generator(seed);
    const { numClasses, dimZ, hidden } = config;
    this.components = config.components ?? 1;
    if (!Number.isInteger(this.components) || this.components < 1) {
      throw new Error(`input generator: components must be a whole number >= 1, got ${config.components}`);
    }
    const out = dimZ * this.components;
    this.trunk1 = this.registerModule('trunk1', new Linear(numClasses, hidden, { generator }));
    this.trunk2 = this.registerModule('trunk2', new Linear(hidden, hidden, { generator }));
    this.muHead = this.registerModule('mu', new Linear(hidden, out, { generator }));
    this.sigmaHead = this.registerModule('sigma', new Linear(hidden, out, { generator }));
    const spread = config.componentSpread ?? 0;
    if (this.components > 1 && spread > 0) {
      // Replaces the head's small uniform bias: each component starts around its own point.
      (this.muHead.bias as Tensor).copy_(generator.fillNormal(new Float32Array(out), 0, spread));
    }
  }

  /**
   * Mean and standard deviation of z for each class; with several components, those of the
   * component picked for each row (`component[i]` in [0, components)).
   */
  forward(classes: Tensor | ArrayLike<number>, component?: ArrayLike<number>): { mu: Tensor; sigma: Tensor } {
    const h = relu(this.trunk2.forward(relu(this.trunk1.forward(oneHot(classes, this.config.numClasses)))));
    const mu = this.muHead.forward(h);
    const sigma = add(softplus(this.sigmaHead.forward(h)), this.config.minSigma);
    if (this.components === 1) return { mu, sigma };
    const rows = mu.shape[0];
    if (!component || component.length !== rows) {
      throw new Error(`input generator: ${this.components} components need a component index for each of the ${rows} rows`);
    }
    // Row i of the (rows * components, dimZ) view holding row i's chosen component.
    const pick = indexTensor(
      Array.from(component, (k, i) => {
        if (!Number.isInteger(k) || k < 0 || k >= this.components) throw new Error(`input generator: component ${k} is outside [0, ${this.components})`);
        return i * this.components + k;
      }),
      rows * this.components,
      'input generator: component',
    );
    const dimZ = this.config.dimZ;
    return {
      mu: embedding(mu.reshape(rows * this.components, dimZ), pick),
      sigma: embedding(sigma.reshape(rows * this.components, dimZ), pick),
    };
  }

  /** z = mu + sigma * eps: the reparameterisation, so gradients reach mu and sigma. */
  sample(classes: Tensor | ArrayLike<number>, eps: Tensor, component?: ArrayLike<number>): { z: Tensor; mu: Tensor; sigma: Tensor } {
    const { mu, sigma } = this.forward(classes, component);
    return { z: add(mu, mul(sigma, eps)), mu, sigma };
  }

  /** A uniformly drawn component per row; draws nothing (and returns undefined) with one component. */
  drawComponents(rows: number, rng: Generator): number[] | undefined {
    if (this.components === 1) return undefined;
    return Array.from({ length: rows }, () => rng.int(this.components));
  }
}
