// The defaults of `npm run train`: the best configuration measured on the default pair
// (docs/ablation.md). The CLI and the bench's training step both read them, so the bench times
// exactly what a user runs.
import type { DiscriminatorConditioning, GeneratorConditioning, GeneratorUpsampling } from '../models/dcgan.js';
import type { LossWeights } from './pipeline.js';

export const TRAINING_DEFAULTS = {
  epochs: 8,
  stepsPerEpoch: 70,
  // 32, not 64: the whole command fits 10 minutes on a 2-core machine without a GPU (docs/ablation.md).
  batch: 32,
  lr: 3e-3,
  seed: 0,
  classifierSize: 64,
  generatorClass: 0,
  hidden: 256,
  components: 16,
  anchorPool: 4096,
  // The classifier on z of the latent-filter sampler, graded beside the input generator: 20,000
  // fit the 10 minutes; 50,000 agree more with the frozen classifier (docs/ablation.md).
  latentPool: 20000,
  anchorCandidates: 576,
  anchorChoice: 'farthest' as const,
  keepComponentsAbove: 0,
  minSigma: 1e-3,
  initialSigma: undefined as number | undefined,
  weights: { variance: 0, kl: 0.2, shift: 4, diversity: 0, confidence: 0.9, priorRange: 1, anchor: 0, latentClass: 0 } satisfies LossWeights,
  logEvery: 1,
  gridPerClass: 8,
};

/**
 * The defaults of `npm run cgan` (the conditional DCGAN baseline): DCGAN's Adam (2e-4, beta1 0.5)
 * and losses, sized so that training and the report finish within 30 minutes on a 2-core
 * machine without a GPU (README: The cGAN baseline). Five epochs: the whole command took 25.8
 * minutes from a cold shader cache on the 2-core AVX-512 machine (2026-12-05), and a sixth no
 * longer moves the judges over 3 seeds (docs/baseline.md). An AVX2 machine takes about twice as
 * long a step: `--epochs 2` fits its 30 minutes.
 */
export const CGAN_DEFAULTS = {
  epochs: 5,
  batch: 64,
  lr: 2e-4,
  beta1: 0.5,
  loss: 'bce' as const,
  discriminator: 'concat' as DiscriminatorConditioning,
  upsampling: 'transposed' as GeneratorUpsampling,
  generatorConditioning: 'concat' as GeneratorConditioning,
  /** Grids, gradings and the report sample from an exponential moving average of G's weights (docs/baseline.md); 0: G's own. */
  emaDecay: 0.999,
  seed: 0,
  dimZ: 100,
  embedDim: 10,
  width: 16,
  classifierSize: 64,
  logEvery: 1,
  gridPerClass: 8,
  /** Gradings of G during training (judge accuracy against training time), each of gradeSamples samples. */
  gradesPerEpoch: 4,
  gradeSamples: 500,
};
