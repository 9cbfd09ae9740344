// The posterior baseline, and the ceiling row of the tables: draw z from G's prior N(0, I)
// (G at the run's --generator-class and truncation), keep the samples the *frozen classifier*
// gives the requested class with probability >= p. No training, no judge: a judge never picks
// samples. Its price is G passes: a class the classifier rarely sees in G's prior costs many
// passes per kept sample, and the budget bounds them.
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/random.js';
import { scope, tensor } from '../engine/tensor.js';
import { softmax } from '../kernels/softmax.js';
import type { LatentSampler } from './inputGenerator.js';
import type { ConditioningPipeline } from './pipeline.js';

export interface PriorFilterOptions {
  /** Keep a sample for class c when the frozen classifier's softmax gives c at least this. */
  confidence: number;
  /** Most G passes (prior draws) to spend before giving up. */
  budget: number;
  seed: number;
  /** Prior draws per G pass batch. */
  batch?: number;
  classNames?: string[] | null;
  onProgress?: (passes: number, accepted: number, wanted: number) => void;
}

export interface PriorFilterResult {
  confidence: number;
  budget: number;
  /** Accepted latents of each class, (quota[c], dimZ) row-major, in the order they were drawn. */
  z: Float32Array[];
  /** The frozen classifier's probability of the class at each accepted latent. */
  probability: number[][];
  /** G passes spent (prior draws labelled, up to the one that filled the last quota), all classes together. */
  passes: number;
  /** Kept samples per class (its quota). */
  accepted: number[];
  /** Per class: prior draws the classifier gave >= confidence (kept or not: the class's acceptance). */
  hits: number[];
  /** Per class: passes / hits, the G passes one kept sample of that class costs when sampled alone (null: never hit). */
  passesPerAccepted: (number | null)[];
}

/** The budget ran out before every class had its quota. */
export class PriorFilterBudgetError extends Error {
  override name = 'PriorFilterBudgetError';
  constructor(
    message: string,
    readonly passes: number,
    readonly accepted: number[],
  ) {
    super(message);
  }
}

/** The default budget, per requested sample: room for a class kept once in 1,000 prior draws (on the default pair at p >= 0.9, the rarest, Pullover, costs about 490). */
export const DEFAULT_PASSES_PER_SAMPLE = 1000;

/**
 * Prior draws labelled by the frozen classifier until class c has quota[c] samples it gives
 * probability >= confidence (a draw counts for the surest class among those still short), or
 * until `budget` G passes are spent: then PriorFilterBudgetError, naming the budget and the count.
 */
export async function priorFilter(pipeline: ConditioningPipeline<LatentSampler>, quota: number[], options: PriorFilterOptions): Promise<PriorFilterResult> {
  const K = pipeline.numClasses;
  const p = options.confidence;
  if (!(p > 0 && p <= 1)) throw new Error(`prior-filter: --confidence must be in (0, 1], got ${p}`);
  if (quota.length !== K) throw new Error(`prior-filter: ${quota.length} quotas for ${K} classes`);
  if (!(options.budget >= 1)) throw new Error(`prior-filter: the budget must be at least 1 G pass, got ${options.budget}`);
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const batch = options.batch ?? 64;
  const rng = new Rng(options.seed);
  const z = quota.map((q) => new Float32Array(q * dimZ));
  const probability: number[][] = quota.map(() => []);
  const accepted = new Array<number>(K).fill(0);
  const hits = new Array<number>(K).fill(0);
  const wanted = quota.reduce((a, b) => a + b, 0);
  let passes = 0;
  let kept = 0;
  while (kept < wanted && passes < options.budget) {
    const n = Math.min(batch, options.budget - passes);
    const draws = rng.fillNormal(new Float32Array(n * dimZ));
    const probs = noGrad(() => scope(() => softmax(pipeline.classify(pipeline.generate(tensor(draws, [n, dimZ]))).logits)));
    const host = (await probs.data()) as Float32Array;
    probs.dispose();
    // Passes count the draws looked at up to the one that fills the last quota (the rest of that
    // batch is an artefact of batching), so the cost does not depend on the batch size.
    for (let i = 0; i < n && kept < wanted; i++) {
      passes++;
      let best = -1;
      for (let c = 0; c < K; c++) {
        const pc = host[i * K + c];
        if (pc < p) continue;
        hits[c]++;
        if (accepted[c] < quota[c] && (best < 0 || pc > host[i * K + best])) best = c;
      }
      if (best < 0) continue;
      z[best].set(draws.subarray(i * dimZ, (i + 1) * dimZ), accepted[best] * dimZ);
      probability[best].push(host[i * K + best]);
      accepted[best]++;
      kept++;
    }
    options.onProgress?.(passes, kept, wanted);
  }
  if (kept < wanted) {
    const name = (c: number) => options.classNames?.[c] ?? `class ${c}`;
    const short = quota.flatMap((q, c) => (accepted[c] < q ? [`${accepted[c]} of ${q} samples of ${name(c)}`] : []));
    throw new PriorFilterBudgetError(
      `prior-filter: the budget of ${options.budget} G passes is spent with ${short.join(', ')} accepted ` +
        `(kept when the frozen classifier gives the class probability >= ${p}); raise --budget or lower --confidence`,
      passes,
      accepted,
    );
  }
  return {
    confidence: p,
    budget: options.budget,
    z,
    probability,
    passes,
    accepted,
    hits,
    passesPerAccepted: hits.map((h) => (h ? passes / h : null)),
  };
}

/** G's images (N, 3, R, R) for latents z (N * dimZ) at the run's --generator-class, in chunks, without a graph. */
export async function generateLatents(pipeline: ConditioningPipeline<LatentSampler>, z: Float32Array, chunk = 64): Promise<Float32Array> {
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const n = z.length / dimZ;
  const r = pipeline.generator.resolution;
  const out = new Float32Array(n * 3 * r * r);
  for (let start = 0; start < n; start += chunk) {
    const m = Math.min(chunk, n - start);
    const img = noGrad(() => scope(() => pipeline.generate(tensor(z.subarray(start * dimZ, (start + m) * dimZ), [m, dimZ]))));
    out.set((await img.data()) as Float32Array, start * 3 * r * r);
    img.dispose();
  }
  return out;
}
