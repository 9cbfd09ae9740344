// Which components the trained sampler draws from (beyond the paper; issue 15: "pick components by
// their robustness, dropping components that collapse to fooling regions"). After training, every
// component of every class draws a few images, the frozen classifier (never a judge) labels them,
// and a component whose share of its class falls below a threshold is left out of sampling: a
// class keeps its best component at least. The choice is per component, made once, so sampling
// stays one G pass per sample (no per-sample filtering). Saved in the run folder as
// components.json and applied by restoreCheckpoint.
import { noGrad } from '../engine/autograd.js';
import { writeFileAtomic } from './files.js';
import { argmaxRows } from './metrics.js';
import { Rng } from '../engine/random.js';
import { scope, tensor } from '../engine/tensor.js';
import type { ConditioningPipeline } from './pipeline.js';

export const COMPONENTS_FILE = 'components.json';

export interface ComponentChoice {
  /** The share of its class a component needs to be kept. */
  threshold: number;
  /** Images drawn per component. */
  samples: number;
  /** accuracy[class][component]: the share of its draws the frozen classifier gives the class. */
  accuracy: number[][];
  /** kept[class]: the components sampled from. */
  kept: number[][];
}

/** The components of each class whose accuracy reaches `threshold`; the best one if none does. */
export function keptComponents(accuracy: number[][], threshold: number): number[][] {
  return accuracy.map((row) => {
    const kept = row.flatMap((a, k) => (a >= threshold ? [k] : []));
    return kept.length ? kept : [row.indexOf(Math.max(...row))];
  });
}

/** Each component's accuracy under the frozen classifier, over `samples` draws, and the kept ones. */
export async function chooseComponents(
  pipeline: ConditioningPipeline,
  options: { threshold: number; samples: number; seed: number; batch?: number },
): Promise<ComponentChoice> {
  const { threshold, samples } = options;
  const K = pipeline.numClasses;
  const C = pipeline.inputGenerator.components;
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const rows = Array.from({ length: K * C * samples }, (_, i) => Math.floor(i / samples));
  const correct = new Array<number>(K * C).fill(0);
  const rng = new Rng(options.seed);
  const batch = options.batch ?? 64;
  for (let start = 0; start < rows.length; start += batch) {
    const part = rows.slice(start, start + batch);
    const classes = part.map((r) => Math.floor(r / C));
    const eps = tensor(rng.fillNormal(new Float32Array(part.length * dimZ)), [part.length, dimZ]);
    const logits = noGrad(() =>
      scope(() => pipeline.classify(pipeline.imagesFor(classes, eps, part.map((r) => r % C)).images).logits),
    );
    const host = (await logits.data()) as Float32Array;
    logits.dispose();
    eps.dispose();
    argmaxRows(host, part.length, K).forEach((predicted, i) => {
      if (predicted === classes[i]) correct[part[i]]++;
    });
  }
  const accuracy = Array.from({ length: K }, (_, c) => correct.slice(c * C, (c + 1) * C).map((n) => n / samples));
  return { threshold, samples, accuracy, kept: keptComponents(accuracy, threshold) };
}

export function writeComponentChoice(path: string, choice: ComponentChoice): void {
  writeFileAtomic(path, JSON.stringify(choice, null, 1));
}

/** components.json as the sampler needs it, checked against the input generator's shape. */
export function readComponentChoice(path: string, json: string, numClasses: number, components: number): ComponentChoice {
  const choice = JSON.parse(json) as ComponentChoice;
  const ok =
    Array.isArray(choice.kept) &&
    choice.kept.length === numClasses &&
    choice.kept.every((row) => Array.isArray(row) && row.length > 0 && row.every((k) => Number.isInteger(k) && k >= 0 && k < components));
  if (!ok) throw new Error(`${path}: 'kept' must list, for each of ${numClasses} classes, at least one component in [0, ${components})`);
  return choice;
}
