// Where the input generator's components start (beyond the paper). The frozen classifier labels
// a pool of G's own samples from its prior (no training image involved); each class gets latents
// it is sure of, so that its components begin in different places the classifier already calls
// that class. Two rules pick them among a class's candidates (its most confident pool latents):
// 'farthest' (farthest-point in z) and 'random' (uniformly, among the candidates the classifier
// gives the class at least `confidence`). Farthest-point in 120 dimensions favours latents of large
// norm, off the shell where G's prior puts its mass (|z| 12.2 against the pool's 10.9 on the
// default pair), where G draws many images of another class or noise (drawn on their own on seed
// 1, the frozen VGG gives 0.64 of them their class); random draws keep the pool's norm, and the
// frozen VGG gives 0.99 of them their class (docs/ablation.md, screens of 2026-12-03).
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/random.js';
import { scope, tensor } from '../engine/tensor.js';
import { softmax } from '../kernels/softmax.js';
import type { ConditioningPipeline } from './pipeline.js';

export interface AnchorOptions {
  /** Prior samples the classifier labels. */
  pool: number;
  /** The most confident samples of a class that the anchors are picked from. */
  candidates: number;
  /** How the anchors are picked among the candidates (default 'farthest'). */
  choice?: AnchorChoice;
  /** For 'random': the probability a candidate needs (default 0.9). */
  confidence?: number;
  seed: number;
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

export const ANCHOR_CHOICES = ['farthest', 'random'] as const;
export type AnchorChoice = (typeof ANCHOR_CHOICES)[number];

export interface Anchors {
  /** (numClasses * components * dimZ), class-major, ready for InputGenerator.setAnchors. */
  values: Float32Array;
  /** The classifier's probability of the class at each anchor. */
  confidence: number[][];
}

/** G's prior samples labelled by the classifier: latents, probabilities and penultimate features. */
export interface LabelledPool {
  size: number;
  /** (size, dimZ) */
  z: Float32Array;
  /** (size, numClasses) */
  probs: Float32Array;
  /** (size, features) */
  features: Float32Array;
}

export async function labelPool(pipeline: ConditioningPipeline, options: Omit<AnchorOptions, 'candidates'>): Promise<LabelledPool> {
  const K = pipeline.numClasses;
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const { pool } = options;
  const z = new Rng(options.seed).fillNormal(new Float32Array(pool * dimZ));
  const probs = new Float32Array(pool * K);
  let features = new Float32Array(0);
  const batch = options.batch ?? 64;
  for (let start = 0; start < pool; start += batch) {
    const n = Math.min(batch, pool - start);
    const [p, f] = noGrad(() =>
      scope(() => {
        const out = pipeline.classify(pipeline.generate(tensor(z.subarray(start * dimZ, (start + n) * dimZ), [n, dimZ])));
        return [softmax(out.logits), out.features];
      }),
    );
    probs.set((await p.data()) as Float32Array, start * K);
    const F = f.shape[1];
    if (features.length === 0) features = new Float32Array(pool * F);
    features.set((await f.data()) as Float32Array, start * F);
    p.dispose();
    f.dispose();
    options.onProgress?.(start + n, pool);
  }
  return { size: pool, z, probs, features };
}

/** The pool's first n rows: the same draws and labels as a pool of n labelled alone (labelPool draws z as one stream, in batches from row 0). */
export function firstRows(pool: LabelledPool, n: number): LabelledPool {
  if (n >= pool.size) return pool;
  const per = (a: Float32Array) => a.length / pool.size;
  return { size: n, z: pool.z.subarray(0, n * per(pool.z)), probs: pool.probs.subarray(0, n * per(pool.probs)), features: pool.features.subarray(0, n * per(pool.features)) };
}

/** `prelabelled`: the pool of options.pool already labelled (labelPool with these options); else it is labelled here. */
export async function chooseAnchors(
  pipeline: ConditioningPipeline,
  components: number,
  options: AnchorOptions,
  prelabelled?: LabelledPool,
): Promise<Anchors & { pool: LabelledPool }> {
  const K = pipeline.numClasses;
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const { pool, candidates } = options;
  if (pool < components || candidates < components) {
    throw new Error(`anchors: a pool of ${pool} and ${candidates} candidates cannot give ${components} anchors per class`);
  }
  const labelled = prelabelled ?? (await labelPool(pipeline, options));
  const { z, probs } = labelled;
  const values = new Float32Array(K * components * dimZ);
  const confidence: number[][] = [];
  const rng = new Rng(options.seed + 1);
  for (let c = 0; c < K; c++) {
    const ranked = Array.from({ length: pool }, (_, i) => i).sort((a, b) => probs[b * K + c] - probs[a * K + c]);
    const top = ranked.slice(0, candidates);
    const chosen =
      options.choice === 'random'
        ? randomPick(top, components, (i) => probs[i * K + c] >= (options.confidence ?? 0.9), rng)
        : farthestPoints(top, components, z, dimZ);
    chosen.forEach((row, k) => values.set(z.subarray(row * dimZ, (row + 1) * dimZ), (c * components + k) * dimZ));
    confidence.push(chosen.map((row) => probs[row * K + c]));
  }
  return { values, confidence, pool: labelled };
}

/**
 * `count` candidates drawn uniformly without replacement among those that pass `sure`; where fewer
 * than `count` pass, the `count` first (most confident) candidates.
 */
export function randomPick(candidates: number[], count: number, sure: (i: number) => boolean, rng: Rng): number[] {
  const passing = candidates.filter(sure);
  if (passing.length <= count) return candidates.slice(0, count);
  return rng.shuffle(passing, count).slice(0, count);
}

/** Greedy farthest-point selection, starting from the first (most confident) candidate. */
function farthestPoints(candidates: number[], count: number, z: Float32Array, dimZ: number): number[] {
  const distance = (a: number, b: number) => {
    let s = 0;
    for (let d = 0; d < dimZ; d++) s += (z[a * dimZ + d] - z[b * dimZ + d]) ** 2;
    return s;
  };
  const chosen = [candidates[0]];
  const nearest = candidates.map((i) => distance(i, candidates[0]));
  while (chosen.length < count) {
    let best = 0;
    for (let j = 1; j < candidates.length; j++) if (nearest[j] > nearest[best]) best = j;
    chosen.push(candidates[best]);
    candidates.forEach((i, j) => (nearest[j] = Math.min(nearest[j], distance(i, candidates[best]))));
  }
  return chosen;
}
