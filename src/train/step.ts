// The pure part of training, free of Node so that a web page (npm run demo) runs it too: one
// optimizer step of the input generator, and G's images for given classes and noise. The Node
// trainer (trainer.ts) imports both.
import { noGrad } from '../engine/autograd.js';
import type { Rng } from '../engine/random.js';
import { scope, tensor } from '../engine/tensor.js';
import { concat } from '../kernels/shape.js';
import type { Adam } from './optim.js';
import type { LatentSampler } from './inputGenerator.js';
import type { ConditioningPipeline, LossWeights } from './pipeline.js';

/**
 * G's images for given classes and noise (and, with several input-generator components, the
 * component of each sample), in chunks, without recording a graph.
 */
export async function generateImages(
  pipeline: ConditioningPipeline<LatentSampler>,
  classes: number[],
  eps: Float32Array,
  component?: number[],
  chunk = 64,
): Promise<Float32Array> {
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const r = pipeline.generator.resolution;
  const out = new Float32Array(classes.length * 3 * r * r);
  for (let start = 0; start < classes.length; start += chunk) {
    const part = classes.slice(start, start + chunk);
    const img = noGrad(() =>
      scope(() => {
        const e = tensor(eps.subarray(start * dimZ, (start + part.length) * dimZ), [part.length, dimZ]);
        return pipeline.imagesFor(part, e, component?.slice(start, start + part.length)).images;
      }),
    );
    out.set((await img.data()) as Float32Array, start * 3 * r * r);
    img.dispose();
  }
  return out;
}

/**
 * One optimizer step on `batch` fresh (class, noise) draws from `rng`; returns
 * [loss, cross-entropy, correct count, mean sigma] with a single read-back.
 */
export async function trainingStep(
  pipeline: ConditioningPipeline,
  optimizer: Adam,
  batch: number,
  rng: Rng,
  weights: LossWeights,
): Promise<Float32Array> {
  const classes = Array.from({ length: batch }, () => rng.int(pipeline.numClasses));
  const stats = scope(() => {
    const s = pipeline.lossFor(classes, rng, weights);
    s.loss.backward();
    optimizer.step();
    optimizer.zeroGrad();
    return concat([s.loss, s.crossEntropy, s.correct, s.meanSigma].map((t) => t.reshape(1)));
  });
  const values = (await stats.data()) as Float32Array;
  stats.dispose();
  return values;
}
