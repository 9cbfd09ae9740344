// Where the input generator's components start (beyond the paper). The frozen classifier labels
// a pool of G's own samples from its prior (no training image involved); each class gets the
// latents it is most confident about, picked far apart (farthest-point in z) so that its
// components begin in different places the classifier already calls that class.
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
  seed: number;
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

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

export async function chooseAnchors(
  pipeline: ConditioningPipeline,
  components: number,
  options: AnchorOptions,
): Promise<Anchors & { pool: LabelledPool }> {
  const K = pipeline.numClasses;
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const { pool, candidates } = options;
  if (pool < components || candidates < components) {
    throw new Error(`anchors: a pool of ${pool} and ${candidates} candidates cannot give ${components} anchors per class`);
  }
  const labelled = await labelPool(pipeline, options);
  const { z, probs } = labelled;
  const values = new Float32Array(K * components * dimZ);
  const confidence: number[][] = [];
  for (let c = 0; c < K; c++) {
    const ranked = Array.from({ length: pool }, (_, i) => i).sort((a, b) => probs[b * K + c] - probs[a * K + c]);
    const chosen = farthestPoints(ranked.slice(0, candidates), components, z, dimZ);
    chosen.forEach((row, k) => values.set(z.subarray(row * dimZ, (row + 1) * dimZ), (c * components + k) * dimZ));
    confidence.push(chosen.map((row) => probs[row * K + c]));
  }
  return { values, confidence, pool: labelled };
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
