// The pure part of training, free of Node so that a web page (npm run demo) runs it too: one
// optimizer step of the input generator, eager or replayed (stepReplay), and G's images for given
// classes and noise. The Node trainer (trainer.ts) imports them.
import { noGrad } from '../engine/autograd.js';
import { Replay, type HostArray } from '../engine/capture.js';
import type { Rng } from '../engine/random.js';
import { scope, tensor, type Tensor } from '../engine/tensor.js';
import { concat } from '../kernels/shape.js';
import type { Adam } from './optim.js';
import type { LatentSampler } from './inputGenerator.js';
import type { ConditioningPipeline, LossWeights, StepDraws } from './pipeline.js';

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

/** A training step's inputs: the draws of ConditioningPipeline.drawInputs and Adam's bias corrections. */
type StepInputName = keyof StepDraws | 'corrections';

/**
 * Training steps recorded once and replayed (src/engine/capture.ts): pass one to trainingStep to
 * use it. It holds one step's buffers (the activations, gradients and statistics) until disposed.
 */
export type StepReplay = Replay<StepInputName>;

/** A StepReplay for this pipeline, optimizer and loss weights (a step with other weights needs another). */
export function stepReplay(pipeline: ConditioningPipeline, optimizer: Adam, weights: LossWeights): StepReplay {
  return new Replay<StepInputName>((inputs) => stepOn(pipeline, optimizer, weights, inputs));
}

/**
 * One optimizer step on `batch` fresh (class, noise) draws from `rng`; returns
 * [loss, cross-entropy, correct count, mean sigma] with a single read-back. With `replay`, the
 * GPU work is that of the first step it saw of this size, replayed on this step's draws: the same
 * numbers, bit for bit, as without it.
 */
export async function trainingStep(
  pipeline: ConditioningPipeline,
  optimizer: Adam,
  batch: number,
  rng: Rng,
  weights: LossWeights,
  replay?: StepReplay,
): Promise<Float32Array> {
  // Every random draw and the step count are host work, made here for eager and replayed steps alike.
  const classes = Array.from({ length: batch }, () => rng.int(pipeline.numClasses));
  const draws: Partial<Record<StepInputName, HostArray>> = { ...pipeline.drawInputs(classes, rng, weights), corrections: optimizer.countStep() };
  if (replay) return (await replay.run(draws as Record<StepInputName, HostArray>)) as Float32Array;
  const stats = scope(() => {
    const inputs: Partial<Record<StepInputName, Tensor>> = {};
    for (const [k, v] of Object.entries(draws)) inputs[k as StepInputName] = tensor(v);
    return stepOn(pipeline, optimizer, weights, inputs as Record<StepInputName, Tensor>);
  });
  const values = (await stats.data()) as Float32Array;
  stats.dispose();
  return values;
}

/** A step's GPU work on its uploaded inputs: forward, backward, Adam; the four statistics in one tensor. */
function stepOn(pipeline: ConditioningPipeline, optimizer: Adam, weights: LossWeights, inputs: Record<StepInputName, Tensor>): Tensor {
  const { corrections, ...draws } = inputs;
  const s = pipeline.lossOf(draws, weights);
  s.loss.backward();
  optimizer.update(corrections);
  optimizer.zeroGrad();
  return concat([s.loss, s.crossEntropy, s.correct, s.meanSigma].map((t) => t.reshape(1)));
}
