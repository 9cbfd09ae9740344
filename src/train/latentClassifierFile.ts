// The classifier on z kept beside a run (latentClassifier.ts): <run folder>/latent-classifier_pool<N>.safetensors,
// or <file>_latent-classifier_pool<N>.safetensors beside a run file (the demo's download). `cgan
// train` writes it from the pool it labels for the anchors (--latent-pool); `cgan eval` and `cgan
// sample` with --sampler latent-filter read it, or label a pool and write it when it is missing.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { float32Values } from '../models/checkpoint/hostTensor.js';
import { encodeSafetensors, readSafetensors } from '../models/checkpoint/safetensors.js';
import { hostStateDict } from '../models/module.js';
import type { LabelledPool } from './anchors.js';
import { shownPath, writeFileAtomic } from './files.js';
import { LATENT_CLASSIFIER_DEFAULTS, LatentClassifier, trainLatentClassifier, type LatentClassifierConfig } from './latentClassifier.js';

/** Where the run at `run` (folder or run file) keeps its classifier on z trained on a pool of `pool`. */
export function latentClassifierPath(run: string, pool: number): string {
  const name = `latent-classifier_pool${pool}.safetensors`;
  return statSync(run).isDirectory() ? join(run, name) : `${run.replace(/\.safetensors$/i, '')}_${name}`;
}

/** The classifier on z at `path`, or null when there is none; a file of another format or shape is refused by name. */
export function readLatentClassifier(path: string, dimZ: number, numClasses: number): LatentClassifier | null {
  if (!existsSync(path)) return null;
  const { tensors, metadata } = readSafetensors(path);
  if (metadata.format !== 'latent-classifier' || !metadata.config) throw new Error(`${path}: not a classifier on z (its metadata has no format 'latent-classifier' and config); move it aside`);
  let saved: LatentClassifierConfig;
  try {
    saved = JSON.parse(metadata.config) as LatentClassifierConfig;
  } catch (e) {
    throw new Error(`${path}: its 'config' metadata is not valid JSON (${(e as Error).message}); move it aside`);
  }
  if (saved.dimZ !== dimZ || saved.numClasses !== numClasses) {
    throw new Error(`${path}: a classifier on z of ${saved.dimZ} latent dims and ${saved.numClasses} classes, but this run's G has ${dimZ} and its classifier ${numClasses}; move it aside`);
  }
  const classifier = new LatentClassifier(saved);
  classifier.loadStateDict(float32Values(tensors), { source: path });
  return classifier;
}

/** Train the classifier on z on a labelled pool (the run's seed + 5000 draws its weights and batches) and write it to `path`, atomically. */
export async function writeLatentClassifier(
  path: string,
  labelled: LabelledPool,
  numClasses: number,
  seed: number,
  log: (line: string) => void,
): Promise<LatentClassifier> {
  const started = Date.now();
  const { classifier, agreement } = await trainLatentClassifier(labelled, numClasses, {
    ...LATENT_CLASSIFIER_DEFAULTS,
    seed: seed + 5000,
    onEpoch: (epoch, loss, held) =>
      log(`latent-filter: classifier on z, epoch ${epoch}/${LATENT_CLASSIFIER_DEFAULTS.epochs}: loss ${loss.toFixed(3)}, agrees with the frozen classifier on ${held.toFixed(3)} of held-out latents`),
  });
  const config: LatentClassifierConfig = classifier.config;
  writeFileAtomic(path, encodeSafetensors(await hostStateDict(classifier.stateDict()), { format: 'latent-classifier', config: JSON.stringify(config), pool: String(labelled.size), agreement: agreement.toFixed(4) }));
  log(`latent-filter: wrote ${shownPath(path)} (${((Date.now() - started) / 1000).toFixed(0)} s to train)`);
  return classifier;
}
