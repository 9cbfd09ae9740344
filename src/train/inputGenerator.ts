// The input generator of "Conditioning GAN Without Training Dataset": a one-hot class goes
// through a shared trunk, and two heads give the mean and the (softplus-positive) standard
// deviation of the frozen generator's latent.
import { Generator } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { add, mul, relu, softplus } from '../kernels/elementwise.js';
import { oneHot } from '../kernels/gather.js';
import { Linear, Module } from '../models/module.js';

export interface InputGeneratorConfig {
  numClasses: number;
  dimZ: number;
  hidden: number;
  /** Added to softplus so sigma never collapses to exactly zero. */
  minSigma: number;
}

export class InputGenerator extends Module {
  readonly trunk1: Linear;
  readonly trunk2: Linear;
  readonly muHead: Linear;
  readonly sigmaHead: Linear;

  constructor(readonly config: InputGeneratorConfig, seed = 0) {
    super();
    const generator = new Generator(seed);
    const { numClasses, dimZ, hidden } = config;
    this.trunk1 = this.registerModule('trunk1', new Linear(numClasses, hidden, { generator }));
    this.trunk2 = this.registerModule('trunk2', new Linear(hidden, hidden, { generator }));
    this.muHead = this.registerModule('mu', new Linear(hidden, dimZ, { generator }));
    this.sigmaHead = this.registerModule('sigma', new Linear(hidden, dimZ, { generator }));
  }

  forward(classes: Tensor | ArrayLike<number>): { mu: Tensor; sigma: Tensor } {
    const h = relu(this.trunk2.forward(relu(this.trunk1.forward(oneHot(classes, this.config.numClasses)))));
    const mu = this.muHead.forward(h);
    const sigma = add(softplus(this.sigmaHead.forward(h)), this.config.minSigma);
    return { mu, sigma };
  }

  /** z = mu + sigma * eps: the reparameterisation, so gradients reach mu and sigma. */
  sample(classes: Tensor | ArrayLike<number>, eps: Tensor): { z: Tensor; mu: Tensor; sigma: Tensor } {
    const { mu, sigma } = this.forward(classes);
    return { z: add(mu, mul(sigma, eps)), mu, sigma };
  }
}
