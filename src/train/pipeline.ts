// The method's forward path: class -> input generator -> z -> frozen G -> nearest upsample ->
// (optional shift) -> frozen classifier -> logits, and the loss with its optional regularisers.
import type { Generator } from '../engine/random.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { add, equal, log, mul, square, sub } from '../kernels/elementwise.js';
import { oneHot } from '../kernels/gather.js';
import { max, mean, sum } from '../kernels/reduce.js';
import { crossEntropy } from '../kernels/softmax.js';
import { translate } from '../kernels/translate.js';
import { upsampleNearest } from '../kernels/upsample.js';
import type { BigGANGenerator } from '../models/biggan.js';
import type { VGG } from '../models/vgg.js';
import { InputGenerator } from './inputGenerator.js';

export interface LossWeights {
  /** The paper's variance-maximising regulariser: weight on -mean(log sigma). */
  variance: number;
  /** KL(N(mu, sigma^2) || N(0, I)), mean over latent dims: keeps z where G was trained. */
  kl: number;
  /** Random shift of the classifier's input by up to this many pixels each step (0: off). */
  shift: number;
}

export interface StepTensors {
  loss: Tensor;
  crossEntropy: Tensor;
  correct: Tensor;
  meanSigma: Tensor;
}

export class ConditioningPipeline {
  readonly upsampleFactor: number;

  constructor(
    readonly generator: BigGANGenerator,
    readonly classifier: VGG,
    readonly inputGenerator: InputGenerator,
    readonly classifierSize: number,
    /** The class embedding fed to a class-conditional G (0 for an unconditional one). */
    readonly generatorClass = 0,
  ) {
    const res = generator.config.resolution;
    this.upsampleFactor = classifierSize / res;
    if (!Number.isInteger(this.upsampleFactor) || this.upsampleFactor < 1) {
      throw new Error(`classifier size ${classifierSize} must be a whole multiple of the generator's resolution ${res}`);
    }
    if (generatorClass < 0 || generatorClass >= generator.config.nClasses) {
      throw new Error(`--generator-class ${generatorClass} is outside the generator's ${generator.config.nClasses} classes`);
    }
  }

  get numClasses(): number {
    return this.inputGenerator.config.numClasses;
  }

  /** Images in [-1, 1] at the generator's resolution. */
  generate(z: Tensor): Tensor {
    const classes = new Array<number>(z.shape[0]).fill(this.generatorClass);
    return this.generator.forward(z, classes);
  }

  /** Nearest-upsample to the classifier's size, shift, classify. */
  classify(images: Tensor, shift: [number, number] = [0, 0]): { logits: Tensor; features: Tensor } {
    let x = this.upsampleFactor === 1 ? images : upsampleNearest(images, this.upsampleFactor);
    if (shift[0] !== 0 || shift[1] !== 0) x = translate(x, shift[0], shift[1], -1);
    return this.classifier.forwardWithFeatures(x);
  }

  /** One training forward pass and its loss, for classes and noise drawn from `rng`. */
  lossFor(classes: number[], rng: Generator, weights: LossWeights): StepTensors {
    const dimZ = this.inputGenerator.config.dimZ;
    const eps = tensor(rng.fillNormal(new Float32Array(classes.length * dimZ)), [classes.length, dimZ]);
    const shift: [number, number] =
      weights.shift > 0 ? [rng.int(2 * weights.shift + 1) - weights.shift, rng.int(2 * weights.shift + 1) - weights.shift] : [0, 0];
    const target = tensor(Int32Array.from(classes));
    const { z, mu, sigma } = this.inputGenerator.sample(target, eps);
    const { logits } = this.classify(this.generate(z), shift);
    const ce = crossEntropy(logits, target);
    let loss = ce;
    if (weights.variance > 0) loss = add(loss, mul(mean(log(sigma)), -weights.variance));
    if (weights.kl > 0) {
      // 0.5 (sigma^2 + mu^2 - 1) - log sigma, averaged over batch and latent dims
      const kl = sub(mul(sub(add(square(sigma), square(mu)), 1), 0.5), log(sigma));
      loss = add(loss, mul(mean(kl), weights.kl));
    }
    return { loss, crossEntropy: ce, correct: countCorrect(logits, target, this.numClasses), meanSigma: mean(sigma) };
  }
}

/** How many rows of logits put their maximum on the target class (ties count as correct). */
export function countCorrect(logits: Tensor, target: Tensor, numClasses: number): Tensor {
  const isMax = equal(logits, max(logits, 1, true));
  return sum(mul(isMax, oneHot(target, numClasses)));
}
