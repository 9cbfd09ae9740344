// The defaults of `npm run train`: the best configuration measured on the default pair
// (docs/ablation.md). The CLI and the bench's training step both read them, so the bench times
// exactly what a user runs.
import type { LossWeights } from './pipeline.js';

export const TRAINING_DEFAULTS = {
  epochs: 8,
  stepsPerEpoch: 70,
  batch: 64,
  lr: 3e-3,
  seed: 0,
  classifierSize: 64,
  generatorClass: 0,
  hidden: 256,
  components: 16,
  anchorPool: 4096,
  anchorCandidates: 576,
  minSigma: 1e-3,
  weights: { variance: 0, kl: 0.2, shift: 4, diversity: 0, confidence: 0.9, priorRange: 0 } satisfies LossWeights,
  logEvery: 1,
  gridPerClass: 8,
};
