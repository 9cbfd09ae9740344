// The posterior baseline, and the ceiling row of the tables: draw z from G's prior N(0, I)
// (G at the run's --generator-class and truncation), keep the samples the *frozen classifier*
// gives the requested class with probability >= p. No training, no judge: a judge never picks
// samples. Its price is G passes: a class the classifier rarely sees in G's prior costs many
// passes per kept sample, and the budget bounds them.
//
// With a `screen` (the latent-filter sampler), a classifier on z (latentClassifier.ts) looks at
// each prior draw first, and only draws it gives a class still short with probability >= its
// threshold go through G and the frozen classifier: the same posterior's samples, for about one G
// pass each. Draws the screen turns away cost no G pass.
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/random.js';
import { scope, tensor } from '../engine/tensor.js';
import { softmax } from '../kernels/softmax.js';
import type { LatentSampler } from './inputGenerator.js';
import type { ConditioningPipeline } from './pipeline.js';

/** Class probabilities on z alone, (n, numClasses) for n latents: what a screen asks of its classifier. */
export type LatentProbabilities = (z: Float32Array) => Promise<Float32Array>;

export interface LatentScreen {
  probabilities: LatentProbabilities;
  threshold: number;
  /** Prior draws screened at a time (default 4096). */
  chunk?: number;
  /** Most prior draws to screen before giving up (default SCREENED_DRAWS_PER_SAMPLE per requested sample). */
  maxDraws?: number;
}

/** The screen's default limit, per requested sample: far above what the rarest class costs on the default pair (a few hundred draws a kept sample at --screen 0.8). */
export const SCREENED_DRAWS_PER_SAMPLE = 10000;

export interface PriorFilterOptions {
  /** Keep a sample for class c when the frozen classifier's softmax gives c at least this. */
  confidence: number;
  /** Most G passes (prior draws through G) to spend before giving up. */
  budget: number;
  seed: number;
  /** G passes per batch. */
  batch?: number;
  /** Look at each prior draw on z first; only draws it gives a short class >= threshold go through G. */
  screen?: LatentScreen;
  classNames?: string[] | null;
  onProgress?: (passes: number, accepted: number, wanted: number) => void;
}

/**
 * A progress line every so many G passes (10,000 for the prior filter, 1,000 behind a screen, where
 * passes are dearer in draws), so a long filter never sits silent.
 */
export function filterProgress(kind: string, screened: boolean, log: (line: string) => void): NonNullable<PriorFilterOptions['onProgress']> {
  let shown = 0;
  return (passes, kept, wanted) => {
    if (passes - shown >= (screened ? 1000 : 10000)) {
      log(`${kind}: ${passes} G passes, ${kept}/${wanted} kept`);
      shown = passes;
    }
  };
}

export interface PriorFilterResult {
  confidence: number;
  budget: number;
  /** With a screen: its threshold. */
  screenThreshold?: number;
  /** Accepted latents of each class, (quota[c], dimZ) row-major, in the order they were drawn. */
  z: Float32Array[];
  /** The frozen classifier's probability of the class at each accepted latent. */
  probability: number[][];
  /** G passes spent (draws through G, up to the one that filled the last quota), all classes together. */
  passes: number;
  /** Prior draws looked at (by the screen, or by G when there is none). */
  draws: number;
  /** Kept samples per class (its quota). */
  accepted: number[];
  /** Per class: draws through G the frozen classifier gave >= confidence (kept or not: the class's acceptance). */
  hits: number[];
  /**
   * Per class: the G passes one kept sample of that class costs when sampled alone (null: never
   * hit). Without a screen, passes / hits; with one, the passes spent on draws screened for the
   * class / its hits among them.
   */
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
 * probability >= confidence (a draw counts for the surest class among those still short, or with a
 * screen for the class the screen passed it for), or until `budget` G passes are spent: then
 * PriorFilterBudgetError, naming the budget and the count.
 */
export async function priorFilter(pipeline: ConditioningPipeline<LatentSampler>, quota: number[], options: PriorFilterOptions): Promise<PriorFilterResult> {
  const K = pipeline.numClasses;
  const p = options.confidence;
  if (!(p > 0 && p <= 1)) throw new Error(`prior-filter: --confidence must be in (0, 1], got ${p}`);
  if (quota.length !== K) throw new Error(`prior-filter: ${quota.length} quotas for ${K} classes`);
  if (!(options.budget >= 1)) throw new Error(`prior-filter: the budget must be at least 1 G pass, got ${options.budget}`);
  const screen = options.screen;
  if (screen && !(screen.threshold > 0 && screen.threshold <= 1)) throw new Error(`latent-filter: --screen must be in (0, 1], got ${screen.threshold}`);
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const batch = options.batch ?? 64;
  const rng = new Rng(options.seed);
  const z = quota.map((q) => new Float32Array(q * dimZ));
  const probability: number[][] = quota.map(() => []);
  const accepted = new Array<number>(K).fill(0);
  const hits = new Array<number>(K).fill(0);
  const screenedPasses = new Array<number>(K).fill(0);
  const wanted = quota.reduce((a, b) => a + b, 0);
  const maxDraws = screen ? (screen.maxDraws ?? SCREENED_DRAWS_PER_SAMPLE * wanted) : Infinity;
  let passes = 0;
  let draws = 0;
  let kept = 0;
  // Draws waiting for G: their latents, and the class the screen passed each for (-1: no screen).
  let queue: { z: Float32Array; screenedFor: number }[] = [];
  while (kept < wanted && passes < options.budget) {
    if (queue.length === 0) {
      if (draws >= maxDraws) break;
      const n = screen ? (screen.chunk ?? 4096) : Math.min(batch, options.budget - passes);
      const fresh = rng.fillNormal(new Float32Array(n * dimZ));
      const row = (i: number) => fresh.subarray(i * dimZ, (i + 1) * dimZ);
      if (!screen) {
        queue = Array.from({ length: n }, (_, i) => ({ z: row(i), screenedFor: -1 }));
        draws += n;
      } else {
        const q = await screen.probabilities(fresh);
        for (let i = 0; i < n; i++) {
          const c = surestShort(q, i, K, screen.threshold, accepted, quota);
          if (c >= 0) queue.push({ z: row(i), screenedFor: c });
        }
        draws += n;
        if (queue.length === 0) continue;
      }
    }
    // Screened draws of a class that has filled its quota meanwhile are dropped before G.
    if (screen) queue = queue.filter((d) => accepted[d.screenedFor] < quota[d.screenedFor]);
    const part = queue.splice(0, Math.min(batch, options.budget - passes));
    if (part.length === 0) continue;
    const latents = new Float32Array(part.length * dimZ);
    part.forEach((d, i) => latents.set(d.z, i * dimZ));
    const probs = noGrad(() => scope(() => softmax(pipeline.classify(pipeline.generate(tensor(latents, [part.length, dimZ]))).logits)));
    const host = (await probs.data()) as Float32Array;
    probs.dispose();
    // Passes count the draws looked at up to the one that fills the last quota (the rest of that
    // batch is an artefact of batching), so the cost does not depend on the batch size.
    for (let i = 0; i < part.length && kept < wanted; i++) {
      const c0 = part[i].screenedFor;
      // A screened draw whose class filled up earlier in this batch: drawn one at a time, it would
      // have been dropped before G, so it is not counted either.
      if (c0 >= 0 && accepted[c0] >= quota[c0]) continue;
      passes++;
      let best = -1;
      if (c0 >= 0) {
        screenedPasses[c0]++;
        if (host[i * K + c0] >= p) {
          hits[c0]++;
          best = c0;
        }
      } else {
        for (let c = 0; c < K; c++) {
          const pc = host[i * K + c];
          if (pc < p) continue;
          hits[c]++;
          if (accepted[c] < quota[c] && (best < 0 || pc > host[i * K + best])) best = c;
        }
      }
      if (best < 0) continue;
      z[best].set(part[i].z, accepted[best] * dimZ);
      probability[best].push(host[i * K + best]);
      accepted[best]++;
      kept++;
    }
    options.onProgress?.(passes, kept, wanted);
  }
  if (kept < wanted) {
    const name = (c: number) => options.classNames?.[c] ?? `class ${c}`;
    const short = quota.flatMap((q, c) => (accepted[c] < q ? [`${accepted[c]} of ${q} samples of ${name(c)}`] : []));
    const rule = screen
      ? `screened on z at >= ${screen.threshold}, then kept when the frozen classifier gives the class probability >= ${p}`
      : `kept when the frozen classifier gives the class probability >= ${p}`;
    const spent = draws >= maxDraws ? `the limit of ${maxDraws} screened prior draws is reached` : `the budget of ${options.budget} G passes is spent`;
    throw new PriorFilterBudgetError(
      `${screen ? 'latent-filter' : 'prior-filter'}: ${spent} with ${short.join(', ')} accepted ` +
        `(${rule}); raise --budget or lower ${screen ? '--screen or ' : ''}--confidence`,
      passes,
      accepted,
    );
  }
  return {
    confidence: p,
    budget: options.budget,
    ...(screen ? { screenThreshold: screen.threshold } : {}),
    z,
    probability,
    passes,
    draws,
    accepted,
    hits,
    passesPerAccepted: hits.map((h, c) => (h ? (screen ? screenedPasses[c] : passes) / h : null)),
  };
}

/** The short class the screen gives row i the highest probability >= threshold (-1: none). */
function surestShort(q: Float32Array, i: number, K: number, threshold: number, accepted: number[], quota: number[]): number {
  let best = -1;
  for (let c = 0; c < K; c++) {
    const qc = q[i * K + c];
    if (qc >= threshold && accepted[c] < quota[c] && (best < 0 || qc > q[i * K + best])) best = c;
  }
  return best;
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
