// The method's forward path: class -> input generator -> z -> frozen G -> nearest upsample ->
// (optional shift) -> frozen classifier -> logits, and the loss with its optional regularisers.
import type { Rng } from '../engine/random.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { add, clamp, div, equal, log, mul, neg, relu, sqrt, square, sub } from '../kernels/elementwise.js';
import { full } from '../kernels/creation.js';
import { matmul } from '../kernels/matmul.js';
import { oneHot } from '../kernels/gather.js';
import { max, mean, sum } from '../kernels/reduce.js';
import { crossEntropy, logSoftmax } from '../kernels/softmax.js';
import { translate, translateBy } from '../kernels/translate.js';
import { resizeBilinear, upsampleNearest } from '../kernels/upsample.js';
import type { FrozenClassifier, FrozenGenerator } from '../models/family.js';
import { InputGenerator, type ComponentRows, type LatentSampler } from './inputGenerator.js';
import type { LatentClassifier } from './latentClassifier.js';
import { priorRangePenalty, type PriorRangeTensors } from './priorRange.js';

export interface LossWeights {
  /** The paper's variance-maximising regulariser: weight on -mean(log sigma). */
  variance: number;
  /** KL(N(mu, sigma^2) || N(0, I)), mean over latent dims: keeps z where G was trained. */
  kl: number;
  /** Random shift of the classifier's input by up to this many pixels each step (0: off). */
  shift: number;
  /**
   * Beyond the paper, aimed at variety: weight on minus the mean distance between the
   * classifier's penultimate features of same-class samples in the batch, divided by the mean
   * distance over all pairs (so it rewards spread within a class, not features growing large).
   */
  diversity?: number;
  /**
   * Beyond the paper: once the frozen classifier gives a sample this probability of its class,
   * stop pushing it further (per-sample cross-entropy hinged at -log p; 0 or absent: plain
   * cross-entropy). Plain cross-entropy keeps pulling every sample toward the classifier's single
   * most confident image, which is what collapses variety.
   */
  confidence?: number;
  /**
   * Beyond the paper: weight on the excess of a sample's classifier features over the range G's own
   * prior samples of its class span (priorRange.ts; needs the range, measured with the anchors).
   */
  priorRange?: number;
  /**
   * Beyond the paper: weight on the mean square distance of each component's mean from its anchor
   * (a confident sample of G's prior): holds each component near where it started (needs anchors).
   * On seed 1 it does not keep the judges' variety (docs/ablation.md, screens of 2026-12-03).
   */
  anchor?: number;
  /**
   * Beyond the paper: weight on -log q(c | z), the probability the classifier on z (latentClassifier.ts,
   * distilled from the frozen classifier's labels of G's prior samples) gives the requested class at
   * the input generator's draw z. It is high only where G's prior samples of the class lie, so it pulls
   * draws toward them rather than toward images that merely fool the frozen classifier; with the KL
   * term it is the posterior's objective, KL(q || p(z) q(c | z)^w). Needs the classifier on z (a --latent-pool).
   * On seeds 0 and 1 it trades variety for recognisability as the other knobs do (docs/ablation.md,
   * "The classifier on z inside the input generator"), so it is off by default.
   */
  latentClass?: number;
}

/**
 * Every random draw of a training step after its classes, made on the host (lossFor's order:
 * noise, components, shift), as the arrays the GPU work reads. A replayed step
 * (src/train/step.ts) writes these into its fixed input buffers.
 */
export interface StepDraws {
  /** The requested classes. */
  target: Int32Array;
  /** (batch, dimZ) standard normal noise. */
  eps: Float32Array;
  /** With several components: InputGenerator.componentRows of the drawn components. */
  pick?: Int32Array;
  anchorRows?: Int32Array;
  /** (dy, dx) of the classifier input's shift, when weights.shift > 0. */
  translation?: Int32Array;
}

/** StepDraws uploaded (1-D tensors, as a replay binds them). */
export type StepInputs = { [K in keyof StepDraws]: Tensor };

export interface StepTensors {
  loss: Tensor;
  crossEntropy: Tensor;
  correct: Tensor;
  meanSigma: Tensor;
}

/** S: what gives G its latents, the trained input generator unless said otherwise (see LatentSampler). */
export class ConditioningPipeline<S extends LatentSampler = InputGenerator> {
  readonly upsampleFactor: number;
  /** Where G's prior samples of each class lie in the classifier's features (for weights.priorRange). */
  priorRange: PriorRangeTensors | null = null;
  /** The classifier on z, frozen, for weights.latentClass. */
  latentClassifier: LatentClassifier | null = null;

  constructor(
    /** Frozen modules of any generator and classifier family (models/families). */
    readonly generator: FrozenGenerator,
    readonly classifier: FrozenClassifier,
    readonly inputGenerator: S,
    readonly classifierSize: number,
    /** The class embedding fed to a class-conditional G (0 for an unconditional one). */
    readonly generatorClass = 0,
  ) {
    const res = generator.resolution;
    // A whole multiple: nearest upsampling (the paper's pair); any other size: bilinear resizing.
    this.upsampleFactor = classifierSize / res;
    if (!Number.isInteger(classifierSize) || classifierSize < 1) {
      throw new Error(`classifier size ${classifierSize} must be a whole number of at least 1`);
    }
    if (generatorClass < 0 || generatorClass >= generator.numClasses) {
      throw new Error(`--generator-class ${generatorClass} is outside the generator's ${generator.numClasses} classes`);
    }
  }

  get numClasses(): number {
    return this.inputGenerator.config.numClasses;
  }

  /** Images in [-1, 1] at the generator's resolution: of --generator-class, or of a learned class vector. */
  generate(z: Tensor, classVector?: Tensor): Tensor {
    if (classVector) return this.generator.forward(z, classVector);
    const classes = new Array<number>(z.shape[0]).fill(this.generatorClass);
    return this.generator.forward(z, classes);
  }

  /** G's images for classes of the classifier, through the input generator, with z = mu + sigma * eps. */
  imagesFor(classes: number[] | Tensor, eps: Tensor, component?: number[] | ComponentRows): { images: Tensor; z: Tensor; mu: Tensor; sigma: Tensor; anchorOffset?: Tensor } {
    const { z, mu, sigma, classVector, anchorOffset } = this.inputGenerator.sample(classes, eps, component);
    return { images: this.generate(z, classVector), z, mu, sigma, anchorOffset };
  }

  /** Resize to the classifier's size (see resize), shift (by numbers, or a (dy, dx) int32 tensor), classify. */
  classify(images: Tensor, shift: [number, number] | Tensor = [0, 0]): { logits: Tensor; features: Tensor } {
    let x = this.resize(images);
    if (!Array.isArray(shift)) x = translateBy(x, shift, -1);
    else if (shift[0] !== 0 || shift[1] !== 0) x = translate(x, shift[0], shift[1], -1);
    return this.classifier.forwardWithFeatures(x);
  }

  /**
   * G's images at the classifier's size: nearest upsampling by a whole factor, else bilinear
   * resizing (align_corners=False, as F.interpolate), e.g. BigGAN-deep's 128 for a 224 VGG-Face.
   */
  resize(images: Tensor): Tensor {
    const f = this.upsampleFactor;
    if (f === 1) return images;
    if (Number.isInteger(f)) return upsampleNearest(images, f);
    return resizeBilinear(images, this.classifierSize, this.classifierSize);
  }

  /** One training forward pass and its loss, for classes and noise drawn from `rng`. */
  lossFor(classes: number[], rng: Rng, weights: LossWeights): StepTensors {
    const draws = this.drawInputs(classes, rng, weights);
    const inputs: Partial<StepInputs> = {};
    for (const [k, v] of Object.entries(draws)) inputs[k as keyof StepDraws] = tensor(v);
    return this.lossOf(inputs as StepInputs, weights);
  }

  /** The random draws of lossFor, on the host: noise, then components, then the shift. */
  drawInputs(classes: number[], rng: Rng, weights: LossWeights): StepDraws {
    const dimZ = this.inputGenerator.config.dimZ;
    const draws: StepDraws = { target: Int32Array.from(classes), eps: rng.fillNormal(new Float32Array(classes.length * dimZ)) };
    const component = this.inputGenerator.drawComponents(classes, rng);
    if (component && this.inputGenerator.componentRows) Object.assign(draws, this.inputGenerator.componentRows(classes, component));
    if (weights.shift > 0) {
      // Drawn once the components are: the order lossFor has always drawn in.
      draws.translation = Int32Array.of(rng.int(2 * weights.shift + 1) - weights.shift, rng.int(2 * weights.shift + 1) - weights.shift);
    }
    return draws;
  }

  /**
   * lossFor on drawn inputs, uploaded. A drawn shift of (0, 0) still runs the shift (a copy, so the
   * numbers are those of no shift): the work is the same every step, as a replay needs.
   */
  lossOf(inputs: StepInputs, weights: LossWeights): StepTensors {
    const target = inputs.target;
    const eps = inputs.eps.reshape(target.size, this.inputGenerator.config.dimZ);
    const rows = inputs.pick && inputs.anchorRows ? { pick: inputs.pick, anchorRows: inputs.anchorRows } : undefined;
    const { images, z, mu, sigma, anchorOffset } = this.imagesFor(target, eps, rows);
    const { logits, features } = this.classify(images, inputs.translation ?? [0, 0]);
    const ce = crossEntropy(logits, target);
    let loss = weights.confidence ? hingedCrossEntropy(logits, target, this.numClasses, weights.confidence) : ce;
    if (weights.diversity) loss = add(loss, mul(withinClassSpread(features, target, this.numClasses), -weights.diversity));
    if (weights.priorRange) {
      if (!this.priorRange) throw new Error('the prior-range term needs the range of G\'s prior samples, measured with the anchors (an --anchor-pool)');
      loss = add(loss, mul(priorRangePenalty(features, target, this.priorRange), weights.priorRange));
    }
    if (weights.anchor) {
      if (!anchorOffset) throw new Error('the anchor term needs anchored components (--components > 1 and an --anchor-pool)');
      loss = add(loss, mul(mean(square(anchorOffset)), weights.anchor));
    }
    if (weights.latentClass) {
      if (!this.latentClassifier) throw new Error('the latent-class term needs the classifier on z, trained on the labelled pool (a --latent-pool)');
      loss = add(loss, mul(crossEntropy(this.latentClassifier.forward(z), target), weights.latentClass));
    }
    if (weights.variance > 0) loss = add(loss, mul(mean(log(sigma)), -weights.variance));
    if (weights.kl > 0) {
      // 0.5 (sigma^2 + mu^2 - 1) - log sigma, averaged over batch and latent dims
      const kl = sub(mul(sub(add(square(sigma), square(mu)), 1), 0.5), log(sigma));
      loss = add(loss, mul(mean(kl), weights.kl));
    }
    return { loss, crossEntropy: ce, correct: countCorrect(logits, target, this.numClasses), meanSigma: mean(sigma) };
  }
}

/** mean(max(0, -log softmax(logits)[target] + log p)): no gradient from rows already at probability p. */
export function hingedCrossEntropy(logits: Tensor, target: Tensor, numClasses: number, p: number): Tensor {
  if (!(p > 0 && p < 1)) throw new Error(`confidence must be in (0, 1), got ${p}`);
  const perRow = neg(sum(mul(logSoftmax(logits), oneHot(target, numClasses)), 1));
  return mean(relu(add(perRow, Math.log(p))));
}

/** Mean pairwise feature distance among same-class pairs, relative to the mean over all pairs. */
export function withinClassSpread(features: Tensor, target: Tensor, numClasses: number): Tensor {
  const n = features.shape[0];
  const gram = matmul(features, features, { transB: true });
  const norms = sum(square(features), 1, true);
  // |fi - fj|^2 = |fi|^2 + |fj|^2 - 2 fi.fj, kept away from 0 so sqrt has a gradient
  const dist2 = add(sub(add(norms, norms.reshape(1, n)), mul(gram, 2)), 1e-6);
  const dist = sqrt(clamp(dist2, 1e-6, 3.4e38));
  const hot = oneHot(target, numClasses);
  const offDiagonal = sub(full([n, n], 1), eye(n));
  const same = mul(matmul(hot, hot, { transB: true }), offDiagonal);
  const within = div(sum(mul(dist, same)), add(sum(same), 1e-6));
  const all = div(sum(mul(dist, offDiagonal)), n * (n - 1));
  return div(within, all);
}

function eye(n: number): Tensor {
  const values = new Float32Array(n * n);
  for (let i = 0; i < n; i++) values[i * n + i] = 1;
  return tensor(values, [n, n]);
}

/** How many rows of logits put their maximum on the target class (ties count as correct). */
export function countCorrect(logits: Tensor, target: Tensor, numClasses: number): Tensor {
  const isMax = equal(logits, max(logits, 1, true));
  return sum(mul(isMax, oneHot(target, numClasses)));
}
