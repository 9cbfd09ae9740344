// `--temperature auto` for a cGAN run: the sampling temperature chosen without any judge. Among
// TEMPERATURES, the one whose samples lie closest to the run's own training images by the kernel
// distance on the frozen classifier's features, per class and averaged over classes. The lowest
// Fréchet distance is how BigGAN-type samplers are usually set; the kernel distance is its
// unbiased sibling, which matters at 100 samples a class, where the Fréchet distance's bias
// shrinks with the samples' spread and so favours lower temperatures. Judges and test images
// never enter: the training images are what the cGAN learned from, and the frozen classifier is
// the one the report already names. The choice is kept in the run folder (CHOICE_FILE), keyed by
// the generator file's hash, so sample and eval pay for it once.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/random.js';
import { scope, tensor, type Tensor } from '../engine/tensor.js';
import { cganPipeline, cganSamplingGenerator, drawnAs, samplingTag, type CganConfig } from './cgan.js';
import { imagesOf, loadFashionMnistBytes } from './fashionMnist.js';
import { shownPath, writeFileAtomic } from './files.js';
import { kernelDistance, kernelSelfTerm } from './metrics.js';
import type { ConditioningPipeline } from './pipeline.js';
import type { GeneratorPrior } from './inputGenerator.js';

/** The temperatures it chooses among: the grid docs/baseline.md measures. */
export const TEMPERATURES = [1, 0.9, 0.8, 0.7, 0.6, 0.5];

export interface TemperatureChoiceOptions {
  /** G's samples a class at each temperature (the same noise at every temperature). */
  samplesPerClass: number;
  /** Training images a class: the first of each class in the training file. */
  referencePerClass: number;
  /** As in CganSampling: standing statistics at each temperature before sampling. */
  standingStats?: number;
  temperatures?: number[];
}

export const TEMPERATURE_CHOICE_DEFAULTS: TemperatureChoiceOptions = { samplesPerClass: 100, referencePerClass: 1000 };

export interface TemperatureChoice {
  temperature: number;
  criterion: string;
  generator: string;
  generatorSha256: string;
  samplesPerClass: number;
  referencePerClass: number;
  standingStats?: number;
  /** Per temperature, the mean over classes of the kernel distance, and each class's. */
  rows: { temperature: number; kernelDistance: number; perClass: number[] }[];
}

const CRITERION =
  "the lowest kernel distance (unbiased squared MMD, cubic kernel) on the frozen classifier's penultimate features between G's samples and the run's training images, per class, averaged over classes";

/** temperature-choice.json, or temperature-choice_standing<N>.json with standing statistics. */
export function choiceFile(dir: string, standingStats?: number): string {
  const tag = samplingTag({ standingStats });
  return join(dir, `temperature-choice${tag ? `_${tag}` : ''}.json`);
}

/** The run's choice: read from the run folder when it was made for this generator and these settings, else measured and kept. */
export async function chooseTemperature(
  dir: string, config: CganConfig, options: TemperatureChoiceOptions = TEMPERATURE_CHOICE_DEFAULTS, log: (line: string) => void = console.log,
): Promise<TemperatureChoice> {
  const temperatures = options.temperatures ?? TEMPERATURES;
  const generator = cganSamplingGenerator(config);
  const sha = createHash('sha256').update(readFileSync(join(dir, generator))).digest('hex');
  const file = choiceFile(dir, options.standingStats);
  if (existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as TemperatureChoice;
    const same = kept.generatorSha256 === sha && kept.samplesPerClass === options.samplesPerClass &&
      kept.referencePerClass === options.referencePerClass && kept.rows.map((r) => r.temperature).join() === temperatures.join();
    if (same) {
      log(`--temperature auto: ${kept.temperature}, as chosen before (${shownPath(file)})`);
      return kept;
    }
    log(`--temperature auto: ${shownPath(file)} was made for another generator or other settings; choosing again`);
  }
  if (!config.data) throw new Error(`--temperature auto: the run's config.json names no training data ("data"), which the choice measures against`);
  const K = config.classNames.length;
  log(`--temperature auto: measuring ${temperatures.join(', ')} against ${options.referencePerClass} training images a class from ${config.data}`);
  // One G and classifier for all: each temperature's standing statistics replace the last one's whole.
  const asStored = await cganPipeline(dir, config);
  const reference = await referenceFeatures(asStored, config, options.referencePerClass);
  const rows: TemperatureChoice['rows'] = [];
  for (const temperature of temperatures) {
    const samples = await sampleFeatures(drawnAs(asStored, { temperature, standingStats: options.standingStats }, config.seed), options.samplesPerClass, config.seed);
    const perClass = Array.from({ length: K }, (_, c) =>
      kernelDistance(samples.features[c], options.samplesPerClass, reference.features[c], options.referencePerClass, samples.d, reference.selfTerms[c]));
    const mean = perClass.reduce((a, b) => a + b, 0) / K;
    rows.push({ temperature, kernelDistance: mean, perClass });
    log(`--temperature auto: T = ${temperature}: kernel distance ${mean.toFixed(4)}`);
  }
  asStored.generator.dispose();
  asStored.classifier.dispose();
  const best = rows.reduce((a, b) => (b.kernelDistance < a.kernelDistance ? b : a));
  const choice: TemperatureChoice = {
    temperature: best.temperature, criterion: CRITERION, generator, generatorSha256: sha,
    samplesPerClass: options.samplesPerClass, referencePerClass: options.referencePerClass,
    ...(options.standingStats ? { standingStats: options.standingStats } : {}), rows,
  };
  writeFileAtomic(file, JSON.stringify(choice, null, 2) + '\n');
  log(`--temperature auto: ${choice.temperature} (wrote ${shownPath(file)})`);
  return choice;
}

/** The frozen classifier's penultimate features of the first `perClass` training images of each class. */
async function referenceFeatures(pipeline: ConditioningPipeline<GeneratorPrior>, config: CganConfig, perClass: number) {
  const data = loadFashionMnistBytes(config.data, 'train');
  const K = config.classNames.length;
  const picked: number[][] = Array.from({ length: K }, () => []);
  data.labels.forEach((label, i) => {
    if (label < K && picked[label].length < perClass) picked[label].push(i);
  });
  const short = picked.findIndex((p) => p.length < perClass);
  if (short >= 0) throw new Error(`--temperature auto: ${config.data} has ${picked[short].length} training images of class ${short}, ${perClass} are needed`);
  const features: Float32Array[] = [];
  let d = 0;
  for (const indices of picked) {
    const out = await featuresOf(pipeline, (from, to) => tensor(imagesOf(data, indices.slice(from, to)), [to - from, 3, 32, 32]), indices.length);
    features.push(out.features);
    d = out.d;
  }
  return { features, d, selfTerms: features.map((f) => kernelSelfTerm(f, perClass, d)) };
}

/** `perClass` samples of each class, the noise a stream of the seed's own (so every temperature scales the same eps). */
async function sampleFeatures(pipeline: ConditioningPipeline<GeneratorPrior>, perClass: number, seed: number) {
  const rng = new Rng(seed * 7919 + 6007);
  const dimZ = pipeline.inputGenerator.config.dimZ;
  const features: Float32Array[] = [];
  let d = 0;
  for (let c = 0; c < pipeline.numClasses; c++) {
    const out = await featuresOf(pipeline, (from, to) => {
      const eps = tensor(rng.fillNormal(new Float32Array((to - from) * dimZ)), [to - from, dimZ]);
      return pipeline.imagesFor(new Array<number>(to - from).fill(c), eps).images;
    }, perClass);
    features.push(out.features);
    d = out.d;
  }
  return { features, d };
}

const CHUNK = 100;

/** The classifier's features of `n` images made chunk by chunk by `images(from, to)`. */
async function featuresOf(pipeline: ConditioningPipeline<GeneratorPrior>, images: (from: number, to: number) => Tensor, n: number) {
  const parts: Float32Array[] = [];
  for (let from = 0; from < n; from += CHUNK) {
    const to = Math.min(n, from + CHUNK);
    const features = noGrad(() => scope(() => pipeline.classify(images(from, to)).features));
    parts.push((await features.data()) as Float32Array);
    features.dispose();
  }
  const d = parts[0].length / Math.min(n, CHUNK);
  const all = new Float32Array(n * d);
  parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  return { features: all, d };
}
